package dev.sluice.engine.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * The kernels' repacked layout of Q8_0, Q4_0 and F16 weight matrices ({@link Tensor.Layout#PANELS}): rows in
 * panels of {@link #ROWS}, and within a panel, for each block of 32 columns, one <em>panel block</em>:
 * <ul>
 *   <li>the 16 rows' half-precision scales (32 bytes, row 0 first);</li>
 *   <li>the quants column by column, 16 bytes per column position (row 0 first): Q8_0 has 32 such
 *   positions, one per column; Q4_0 has 16, byte {@code j} of a row holding columns {@code j} (low nibble)
 *   and {@code j + 16} (high nibble) as in ggml's block.</li>
 * </ul>
 * A panel block is 16 ggml blocks' bytes ({@code 16 x 34} for Q8_0, {@code 16 x 18} for Q4_0, {@code 16 x 64} for F16), so the copy
 * is exactly as large as the file's tensor (plus zero rows up to a multiple of 16). One 128-bit load (F16:
 * 256-bit) gives one column of a 16-row panel: a 16-lane vector of weights after one widening, conversion and scaling,
 * which the batched matmul multiplies by each input vector's element of that column (an outer product)
 * with no lane reduction and no dequantized copy in memory.
 */
public final class Panels {
    private Panels() {}

    /** Rows per panel: one 512-bit vector of floats. */
    public static final int ROWS = 16;
    /**
     * F16 panels hold each weight times {@code 2^F16_SHIFT}, exactly: a subnormal half (below {@code 2^-14}) becomes a
     * normal one, so the kernels' decoding never meets a float denormal (a microcode assist per instruction
     * on x86). Only where every value is below {@code 2^(16 - F16_SHIFT)} = 64 in magnitude; a tensor with a
     * larger value stays in rows ({@link #repack} returns it as is).
     */
    public static final int F16_SHIFT = 10;
    private static final float F16_SCALE = Math.scalb(1f, F16_SHIFT), F16_UNSCALE = Math.scalb(1f, -F16_SHIFT);

    /** Bytes of a panel block's scales. */
    public static final int SCALE_BYTES = 2 * ROWS;

    /** Whether {@code t}, a matrix in ggml rows, can be repacked: Q8_0, Q4_0, or F16 with whole blocks of 32 columns. */
    public static boolean supports(Tensor t) {
        GGMLType type = t.type();
        return t.layout() == Tensor.Layout.ROWS && t.shape().length >= 2
                && (type == GGMLType.Q8_0 || type == GGMLType.Q4_0 || type == GGMLType.F16 && t.cols() % 32 == 0);
    }

    /** Bytes of one panel block (16 rows x 32 columns). */
    public static int blockBytes(GGMLType type) {
        return ROWS * type.typeSize * (32 / type.blockSize);
    }

    /** Panels of a matrix of {@code rows} rows. */
    public static int panels(int rows) {
        return (rows + ROWS - 1) / ROWS;
    }

    /** Byte offset of panel {@code p}'s block {@code b} in a tensor of {@code cols} columns. */
    public static long blockOffset(GGMLType type, int cols, int p, int b) {
        return ((long) p * (cols / 32) + b) * blockBytes(type);
    }

    /**
     * {@code t} (ggml rows, see {@link #supports}) repacked into panels in memory of {@code arena}: the same values
     * bit for bit ({@link #row}). Panels are built in parallel, each from its 16 rows read once; the file
     * pages of {@code t} are then unloaded, since the panels replace them.
     *
     * @throws IllegalArgumentException for another type or layout
     */
    public static Tensor repack(Tensor t, Arena arena) {
        if (!supports(t)) {
            throw new IllegalArgumentException("cannot repack " + t + " into panels (matrices of Q8_0, Q4_0, or F16 with whole 32-column blocks, in rows)");
        }
        GGMLType type = t.type();
        int rows = t.rows(), cols = t.cols(), nb = cols / 32, panels = panels(rows);
        int rowBytes = Math.toIntExact(t.rowBytes());
        int panelBytes = nb * blockBytes(type);
        MemorySegment src = t.data();
        MemorySegment dst = arena.allocate((long) panels * panelBytes, 64);
        // a few chunks of panels per core, each with its two buffers (per-panel buffers were twice the model in garbage)
        int chunks = Math.min(panels, 4 * Runtime.getRuntime().availableProcessors());
        java.util.concurrent.atomic.AtomicBoolean unshiftable = new java.util.concurrent.atomic.AtomicBoolean();
        IntStream.range(0, chunks).parallel().forEach(chunk -> {
            byte[] in = new byte[ROWS * rowBytes], out = new byte[panelBytes];
            for (int p = (int) ((long) panels * chunk / chunks); p < (int) ((long) panels * (chunk + 1) / chunks) && !unshiftable.get(); p++) {
                int n = Math.min(ROWS, rows - p * ROWS);
                if (n < ROWS) java.util.Arrays.fill(out, (byte) 0); // the last panel's missing rows are zeros
                MemorySegment.copy(src, (long) p * ROWS * rowBytes, MemorySegment.ofArray(in), 0, (long) n * rowBytes);
                if (!packPanel(type, in, n, rowBytes, nb, out)) unshiftable.set(true);
                MemorySegment.copy(MemorySegment.ofArray(out), 0, dst, (long) p * panelBytes, panelBytes);
            }
        });
        if (unshiftable.get()) return t;
        // the file's pages of this tensor are not read again (the panels replace it): let the OS drop them
        if (src.isMapped()) src.unload();
        return new Tensor(t.name(), type, t.shape(), dst, Tensor.Layout.PANELS);
    }

    /**
     * The {@code n} rows of ggml blocks in {@code in} ({@code rowBytes} each) as one panel in {@code out}; false if an
     * F16 value cannot be shifted (see {@link #F16_SHIFT}).
     */
    private static boolean packPanel(GGMLType type, byte[] in, int n, int rowBytes, int nb, byte[] out) {
        int typeSize = type.typeSize, quantBytes = typeSize - 2;
        boolean ok = true;
        for (int b = 0; b < nb; b++) {
            int o = b * blockBytes(type);
            for (int r = 0; r < n; r++) {
                if (type == GGMLType.F16) { // column c's halves side by side, times 2^F16_SHIFT
                    for (int c = 0; c < 32; c++) {
                        int s = r * rowBytes + (b * 32 + c) * 2, d = o + c * 2 * ROWS + 2 * r;
                        float v = Float.float16ToFloat((short) ((in[s] & 0xFF) | in[s + 1] << 8));
                        short h = Float.floatToFloat16(v * F16_SCALE);
                        ok &= Float.isFinite(Float.float16ToFloat(h)) || !Float.isFinite(v);
                        out[d] = (byte) h;
                        out[d + 1] = (byte) (h >> 8);
                    }
                    continue;
                }
                int s = r * rowBytes + b * typeSize;
                out[o + 2 * r] = in[s];
                out[o + 2 * r + 1] = in[s + 1];
                for (int j = 0; j < quantBytes; j++) out[o + SCALE_BYTES + j * ROWS + r] = in[s + 2 + j];
            }
        }
        return ok;
    }

    /** Dequantizes (F16: converts) row {@code row} of panel tensor {@code t} into {@code dst[dstOff..]}: the bits of {@link Dequant#row} on the ggml rows. */
    public static void row(Tensor t, int row, float[] dst, int dstOff) {
        GGMLType type = t.type();
        MemorySegment seg = t.data();
        int cols = t.cols(), p = row / ROWS, r = row % ROWS;
        for (int b = 0; b < cols / 32; b++) {
            long off = blockOffset(type, cols, p, b);
            if (type == GGMLType.F16) {
                for (int c = 0; c < 32; c++) dst[dstOff + b * 32 + c] = Dequant.halfAt(seg, off + 2L * (c * ROWS + r)) * F16_UNSCALE;
                continue;
            }
            float d = Dequant.halfAt(seg, off + 2L * r);
            long q = off + SCALE_BYTES + r;
            int o = dstOff + b * 32;
            if (type == GGMLType.Q8_0) {
                for (int j = 0; j < 32; j++) dst[o + j] = d * seg.get(ValueLayout.JAVA_BYTE, q + (long) j * ROWS);
            } else {
                for (int j = 0; j < 16; j++) {
                    int v = seg.get(ValueLayout.JAVA_BYTE, q + (long) j * ROWS) & 0xFF;
                    dst[o + j] = d * ((v & 0x0F) - 8);
                    dst[o + j + 16] = d * ((v >>> 4) - 8);
                }
            }
        }
    }

    /** Element ({@code row}, {@code col}) of panel tensor {@code t}. */
    public static float element(Tensor t, int row, int col) {
        GGMLType type = t.type();
        long off = blockOffset(type, t.cols(), row / ROWS, col / 32);
        int r = row % ROWS, j = col % 32;
        if (type == GGMLType.F16) return Dequant.halfAt(t.data(), off + 2L * (j * ROWS + r)) * F16_UNSCALE;
        float d = Dequant.halfAt(t.data(), off + 2L * r);
        if (type == GGMLType.Q8_0) return d * t.data().get(ValueLayout.JAVA_BYTE, off + SCALE_BYTES + (long) j * ROWS + r);
        int v = t.data().get(ValueLayout.JAVA_BYTE, off + SCALE_BYTES + (long) (j & 15) * ROWS + r) & 0xFF;
        return d * ((j < 16 ? v & 0x0F : v >>> 4) - 8);
    }
}
