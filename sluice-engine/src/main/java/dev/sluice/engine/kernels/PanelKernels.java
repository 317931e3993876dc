package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Panels;
import dev.sluice.engine.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.sluice.engine.tensor.Panels.ROWS;
import static dev.sluice.engine.tensor.Panels.SCALE_BYTES;

/**
 * Matmuls of Q8_0, Q4_0 and F16 matrices in the {@link Panels} layout, with 16-lane (512-bit) vectors: a lane
 * per row of a 16-row panel. {@link VectorKernels} repacks such matrices at load ({@link VectorKernels#prepare})
 * when its vectors have 16 float lanes, and sends their matmuls here.
 *
 * <p><b>Batched ({@code n >= 2}): outer products.</b> The input vectors of a token block are transposed
 * once per call into {@code xt} (column-major: the block's 16 values of column {@code k} side by side). A
 * register tile holds, for one panel, one accumulator per input vector (16, 8, 4, 2 or 1 of them), its lanes
 * the panel's 16 rows. For each column it decodes the panel's 16 weights in registers (one 128-bit load,
 * a widening, a conversion and a multiply or FMA by the scales; F16: one 256-bit load, a widening and the
 * half-to-float bit conversion) and adds them times each input vector's
 * broadcast value of that column. The weights are read once per token block, straight from the repacked
 * bytes; there is no dequantized copy in memory and no lane reduction; the accumulators are the outputs.
 * The activations stream from L1/L2 at one cache line per column.
 *
 * <p>Batch invariance: every output is one lane's chain of FMAs over the columns in a fixed order
 * (Q8_0, F16: column after column; Q4_0: within a block, each byte column's low nibble then its high one,
 * columns 0, 16, 1, 17, ..., so that one load and one loop step serve two columns) on weights decoded the
 * same way, whatever tile or token block it falls in, so a vector's outputs have the same bits in any batch
 * of {@code n >= 2}.
 *
 * <p><b>Single vector ({@code n = 1}, decode):</b> the same decoding against broadcast inputs, but the
 * quants are summed unscaled within a block (four chains) and scaled once per block, as ggml's dot
 * products do; Q4_0's {@code -8} becomes {@code -8 * sum(x)} over the block. F16: four chains over the
 * columns.
 */
final class PanelKernels {
    private PanelKernels() {}

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PanelKernels.class);

    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int Q8_BLOCK = Panels.blockBytes(GGMLType.Q8_0);
    private static final int Q4_BLOCK = Panels.blockBytes(GGMLType.Q4_0);
    private static final int F16_BLOCK = Panels.blockBytes(GGMLType.F16);
    /** Floats per column in the transposed token block: one per input vector of a 16-vector block. */
    static final int X_STRIDE = 16;
    /** Activation bytes of one token block (as {@link VectorKernels#T_BLOCK_BYTES}): its transpose stays in L2 while the panels are walked. */
    private static final int T_BLOCK_BYTES = VectorKernels.T_BLOCK_BYTES;

    /**
     * Whether the 16-vector register tiles are used: only once C1 is kept off them. C1 (HotSpot's first JIT
     * tier) cannot compile a 16-vector tile, whose loop step holds 16 FMAs and a decoding on Vector API
     * objects: "out of virtual registers". Where C1 had already made its tier-2 code of the method (it does
     * when the C2 queue is long, as at start-up), the failed tier-3 compile left the method in that code for
     * good, never reaching C2: 2.5 GFLOP/s instead of 350 (seen in most two-thread runs of one variant). A
     * compiler directive excluding the tiles from C1 ({@code c1: {Exclude: true}}, added at class
     * initialization through the {@code DiagnosticCommand} MBean's {@code compilerDirectivesAdd}, as
     * {@code jcmd Compiler.directives_add} does) sends them from the interpreter straight to C2. Without it
     * (no {@code java.management}, or the command refused) the tiles stop at 8 vectors, which C1 compiles;
     * those ran 25-30% slower per FMA at 16 vectors with the weights streamed from memory, since 8
     * accumulators barely cover the FMA latency. Either way every output has the same bits.
     */
    static final boolean WIDE = excludeTilesFromC1();

    private static boolean excludeTilesFromC1() {
        java.nio.file.Path file = null;
        try {
            file = java.nio.file.Files.createTempFile("sluice-jit-", ".json");
            java.nio.file.Files.writeString(file,
                    "[ { match: \"" + PanelKernels.class.getName().replace('.', '/') + ".tile*\", c1: { Exclude: true } } ]");
            Object result = java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
                    new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesAdd",
                    new Object[] {new String[] {file.toString()}}, new String[] {String[].class.getName()});
            boolean added = String.valueOf(result).contains("1 compiler directives added");
            if (!added) LOG.warn("JIT directive for the panel tiles refused ({}); 8-vector tiles", String.valueOf(result).strip());
            return added;
        } catch (Exception | LinkageError e) {
            LOG.warn("JIT directive for the panel tiles not added ({}); 8-vector tiles", e.toString());
            return false;
        } finally {
            if (file != null) {
                try {
                    java.nio.file.Files.deleteIfExists(file);
                } catch (java.io.IOException ignored) {
                    // a temp file left behind
                }
            }
        }
    }

    /** Whether these kernels can run here: 16 float lanes. */
    static boolean available() {
        return VectorKernels.L == ROWS;
    }

    /** {@code outs[i] = ws[i] x} for {@code n} vectors of {@code cols}; every {@code ws[i]} is a panel tensor. */
    static void matmul(Tensor[] ws, float[] x, float[][] outs, int n, int cols) {
        int[] panelStart = new int[ws.length + 1];
        for (int i = 0; i < ws.length; i++) panelStart[i + 1] = panelStart[i] + Panels.panels(ws[i].rows());
        if (n == 1) matvec(ws, x, outs, cols, panelStart);
        else gemm(ws, x, outs, n, cols, panelStart);
    }

    private static void matvec(Tensor[] ws, float[] x, float[][] outs, int cols, int[] panelStart) {
        int nb = cols / 32;
        // Q4_0's offset: 8 x the sum of each block's inputs (exact: a power of two times a float)
        boolean q4 = false;
        for (Tensor w : ws) q4 |= w.type() == GGMLType.Q4_0;
        float[] xs8 = q4 ? VectorKernels.groupSums(x, 0, cols, 32, Scratch.floats(Scratch.GROUP_SUMS_32, nb)) : null;
        if (q4) for (int b = 0; b < nb; b++) xs8[b] *= 8f;
        Parallel.forRange(panelStart[ws.length], 1, (from, to) -> Parallel.bySegment(panelStart, from, to, (i, a, b) -> {
            Tensor w = ws[i];
            GGMLType type = w.type();
            int rows = w.rows();
            for (int p = a - panelStart[i]; p < b - panelStart[i]; p++) {
                int r0 = p * ROWS;
                long off = Panels.blockOffset(type, cols, p, 0);
                FloatVector acc = switch (type) {
                    case Q4_0 -> dotQ4_0(w.data(), off, nb, x, xs8);
                    case Q8_0 -> dotQ8_0(w.data(), off, nb, x);
                    default -> dotF16(w.data(), off, nb, x);
                };
                store(acc, outs[i], r0, Math.min(ROWS, rows - r0));
            }
        }));
    }

    /** A Q8_0 panel's 16 dot products with {@code x}. */
    private static FloatVector dotQ8_0(MemorySegment seg, long off, int nb, float[] x) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 32; j += 4) {
                s0 = quants(seg, o + (long) j * ROWS).fma(FloatVector.broadcast(F, x[xb + j]), s0);
                s1 = quants(seg, o + (long) (j + 1) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 1]), s1);
                s2 = quants(seg, o + (long) (j + 2) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 2]), s2);
                s3 = quants(seg, o + (long) (j + 3) * ROWS).fma(FloatVector.broadcast(F, x[xb + j + 3]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).fma(scales(seg, o - SCALE_BYTES), acc);
        }
        return acc;
    }

    /** An F16 panel's 16 dot products with {@code x}. */
    private static FloatVector dotF16(MemorySegment seg, long off, int nb, float[] x) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < nb * 32; c += 4) {
            long o = off + 2L * ROWS * c;
            s0 = halves(seg, o).fma(FloatVector.broadcast(F, x[c]), s0);
            s1 = halves(seg, o + 2 * ROWS).fma(FloatVector.broadcast(F, x[c + 1]), s1);
            s2 = halves(seg, o + 4 * ROWS).fma(FloatVector.broadcast(F, x[c + 2]), s2);
            s3 = halves(seg, o + 6 * ROWS).fma(FloatVector.broadcast(F, x[c + 3]), s3);
        }
        return s0.add(s1).add(s2.add(s3));
    }

    /** A Q4_0 panel's 16 dot products with {@code x}; {@code xs8[b]} is 8 x the sum of block {@code b}'s inputs. */
    private static FloatVector dotQ4_0(MemorySegment seg, long off, int nb, float[] x, float[] xs8) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK + SCALE_BYTES;
            FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
            int xb = b * 32;
            for (int j = 0; j < 16; j += 2) {
                IntVector q0 = nibbles(seg, o + (long) j * ROWS), q1 = nibbles(seg, o + (long) (j + 1) * ROWS);
                s0 = toFloat(q0.and(0x0F)).fma(FloatVector.broadcast(F, x[xb + j]), s0);
                s1 = toFloat(q0.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(F, x[xb + j + 16]), s1);
                s2 = toFloat(q1.and(0x0F)).fma(FloatVector.broadcast(F, x[xb + j + 1]), s2);
                s3 = toFloat(q1.lanewise(VectorOperators.LSHR, 4)).fma(FloatVector.broadcast(F, x[xb + j + 17]), s3);
            }
            acc = s0.add(s1).add(s2.add(s3)).sub(xs8[b]).fma(scales(seg, o - SCALE_BYTES), acc);
        }
        return acc;
    }

    private static void gemm(Tensor[] ws, float[] x, float[][] outs, int n, int cols, int[] panelStart) {
        int nb = cols / 32;
        int tBlock = Math.max(X_STRIDE, T_BLOCK_BYTES / (4 * cols) / X_STRIDE * X_STRIDE);
        float[] xt = Scratch.floats(Scratch.GEMM_X, Math.min(n + X_STRIDE - 1, tBlock) / X_STRIDE * X_STRIDE * cols);
        for (int t0 = 0; t0 < n; t0 += tBlock) {
            int tEnd = Math.min(n, t0 + tBlock), first = t0;
            transpose(x, cols, t0, tEnd, xt);
            Parallel.forRange(panelStart[ws.length], 1, (from, to) -> Parallel.bySegment(panelStart, from, to, (i, a, b) -> {
                Tensor w = ws[i];
                GGMLType type = w.type();
                MemorySegment seg = w.data();
                int rows = w.rows();
                float[] out = outs[i];
                for (int p = a - panelStart[i]; p < b - panelStart[i]; p++) {
                    int r0 = p * ROWS, valid = Math.min(ROWS, rows - r0);
                    // with the next panel of this matrix, if this task has it: pair tiles for the last < 8 vectors
                    // (not Q4_0, which has none: its two-panel tiles ran past C2's inlining budget)
                    int valid2 = type != GGMLType.Q4_0 && p + 1 < b - panelStart[i] ? Math.min(ROWS, rows - r0 - ROWS) : 0;
                    long off = Panels.blockOffset(type, cols, p, 0);
                    for (int s = first; s < tEnd; s += X_STRIDE) {
                        tiles(seg, off, nb, type, xt, (s - first) * cols, Math.min(X_STRIDE, tEnd - s), out, s * rows + r0, rows, valid, valid2);
                    }
                    if (valid2 > 0) p++;
                }
            }));
        }
    }

    /**
     * Vectors {@code [t0, tEnd)} of {@code x} into {@code xt}: blocks of 16 vectors, each column-major
     * ({@code xt[block + k * 16 + u]}), one 16-lane gather per column. In a last block of {@code nt < 16}
     * vectors, lanes from {@code nt} on repeat its last vector (never read by the tiles).
     */
    static void transpose(float[] x, int cols, int t0, int tEnd, float[] xt) {
        int[] index = Scratch.ints(Scratch.GATHER_INDEX, X_STRIDE);
        for (int s = t0; s < tEnd; s += X_STRIDE) {
            int base = (s - t0) * cols, nt = Math.min(X_STRIDE, tEnd - s);
            for (int u = 0; u < X_STRIDE; u++) index[u] = Math.min(u, nt - 1) * cols;
            for (int k = 0; k < cols; k++) FloatVector.fromArray(F, x, s * cols + k, index, 0).intoArray(xt, base + k * X_STRIDE);
        }
    }

    /**
     * One panel ({@code valid2 == 0}) or two consecutive ones (the second's outputs 16 rows further, its first
     * {@code valid2} rows valid) against {@code nt <= 16} input vectors of a transposed block (from
     * {@code xOff}), in register tiles of 16 (where {@link #WIDE}) and 8 vectors per panel, then, for the
     * last vectors, tiles of 4, 2 and 1 vectors over both panels at once (twice the independent FMA chains
     * of a one-panel tile, whose 4 or fewer accumulators wait on the FMA latency; Q8_0 and F16 only). Each tile
     * walks a block's columns in its type's fixed order (Q4_0: 0, 16, 1, 17, ..., a byte's two nibbles per
     * step; see {@code tools/gen-panel-tiles.py}). Vector {@code u}'s 16
     * outputs go to {@code out[oOff + u * rows ..]} (the first {@code valid} of them). Each output's lane
     * chain is the same in every tile.
     */
    private static void tiles(MemorySegment seg, long off, int nb, GGMLType type, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid, int valid2) {
        int u = wide(seg, off, nb, type, xt, xOff, nt, out, oOff, rows, valid);
        if (valid2 > 0) {
            long off2 = Panels.blockOffset(type, nb * 32, 1, 0) + off;
            wide(seg, off2, nb, type, xt, xOff, nt, out, oOff + ROWS, rows, valid2);
            if (type == GGMLType.F16) {
                if (nt - u >= 4) { tile4x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 4; }
                if (nt - u >= 2) { tile2x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 2; }
                if (nt - u >= 1) tile1x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2);
            } else {
                if (nt - u >= 4) { tile4x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 4; }
                if (nt - u >= 2) { tile2x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 2; }
                if (nt - u >= 1) tile1x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2);
            }
            return;
        }
        if (type == GGMLType.F16) {
            if (nt - u >= 4) { tile4F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { tile2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) tile1F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else if (type == GGMLType.Q4_0) {
            if (nt - u >= 4) { tile4Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { tile2Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) tile1Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            if (nt - u >= 4) { tile4Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { tile2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) tile1Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
    }

    /** The 16- and 8-vector tiles of one panel; returns the vectors done (a multiple of 8). */
    private static int wide(MemorySegment seg, long off, int nb, GGMLType type, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid) {
        int u = 0;
        if (type == GGMLType.F16) {
            for (; WIDE && nt - u >= 16; u += 16) tile16F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) tile8F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else if (type == GGMLType.Q4_0) {
            for (; WIDE && nt - u >= 16; u += 16) tile16Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) tile8Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            for (; WIDE && nt - u >= 16; u += 16) tile16Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) tile8Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
        return u;
    }

    /** The 16 rows' scales of the panel block at {@code o}. */
    private static FloatVector scales(MemorySegment seg, long o) {
        return halves(seg, o);
    }

    /** 16 halves (one column of an F16 panel) as floats. */
    private static FloatVector halves(MemorySegment seg, long o) {
        return VectorKernels.halfToFloat((IntVector) ShortVector.fromMemorySegment(S16, seg, o, LE).convertShape(VectorOperators.S2I, I, 0));
    }

    /** 16 Q8_0 quants (one column of a panel) as floats. */
    private static FloatVector quants(MemorySegment seg, long o) {
        return toFloat((IntVector) ByteVector.fromMemorySegment(B16, seg, o, LE).convertShape(VectorOperators.B2I, I, 0));
    }

    /** 16 Q8_0 weights (one column of a panel), scaled. */
    private static FloatVector q8(MemorySegment seg, long o, FloatVector d) {
        return quants(seg, o).mul(d);
    }

    /** 16 Q4_0 bytes (two columns of a panel), zero-extended. */
    private static IntVector nibbles(MemorySegment seg, long o) {
        return (IntVector) ByteVector.fromMemorySegment(B16, seg, o, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /** The low nibbles' weights: {@code (q - 8) d} as one rounding, {@code fma(q, d, -8d)}. */
    private static FloatVector lowNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.and(0x0F)).fma(d, m8);
    }

    private static FloatVector highNibbles(IntVector q, FloatVector d, FloatVector m8) {
        return toFloat(q.lanewise(VectorOperators.LSHR, 4)).fma(d, m8);
    }

    private static FloatVector toFloat(IntVector q) {
        return (FloatVector) q.convert(VectorOperators.I2F, 0);
    }

    private static void store(FloatVector a, float[] out, int off, int valid) {
        a.intoArray(out, off, F.indexInRange(0, valid));
    }

    /** Q4_0, 16 input vectors; see {@link #tiles}. */
    private static void tile16Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** Q4_0, 8 input vectors; see {@link #tiles}. */
    private static void tile8Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q4_0, 4 input vectors; see {@link #tiles}. */
    private static void tile4Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q4_0, 2 input vectors; see {@link #tiles}. */
    private static void tile2Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q4_0, 1 input vector; see {@link #tiles}. */
    private static void tile1Q4(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q4_BLOCK;
            FloatVector d = scales(seg, o), m8 = d.mul(-8f);
            for (int j = 0; j < 16; j++) {
                IntVector q = nibbles(seg, o + SCALE_BYTES + j * ROWS);
                FloatVector w = lowNibbles(q, d, m8), v = highNibbles(q, d, m8);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + 16 * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, 16 input vectors; see {@link #tiles}. */
    private static void tile16Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o + SCALE_BYTES + (j + 1) * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** Q8_0, 8 input vectors; see {@link #tiles}. */
    private static void tile8Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o + SCALE_BYTES + (j + 1) * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** Q8_0, 4 input vectors; see {@link #tiles}. */
    private static void tile4Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** Q8_0, 2 input vectors; see {@link #tiles}. */
    private static void tile2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** Q8_0, 1 input vector; see {@link #tiles}. */
    private static void tile1Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** F16, 16 input vectors; see {@link #tiles}. */
    private static void tile16F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o + 2L * (j + 1) * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a8 = w.fma(FloatVector.broadcast(F, xt[xa + 8]), a8);
                a9 = w.fma(FloatVector.broadcast(F, xt[xa + 9]), a9);
                a10 = w.fma(FloatVector.broadcast(F, xt[xa + 10]), a10);
                a11 = w.fma(FloatVector.broadcast(F, xt[xa + 11]), a11);
                a12 = w.fma(FloatVector.broadcast(F, xt[xa + 12]), a12);
                a13 = w.fma(FloatVector.broadcast(F, xt[xa + 13]), a13);
                a14 = w.fma(FloatVector.broadcast(F, xt[xa + 14]), a14);
                a15 = w.fma(FloatVector.broadcast(F, xt[xa + 15]), a15);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
                a8 = v.fma(FloatVector.broadcast(F, xt[xb + 8]), a8);
                a9 = v.fma(FloatVector.broadcast(F, xt[xb + 9]), a9);
                a10 = v.fma(FloatVector.broadcast(F, xt[xb + 10]), a10);
                a11 = v.fma(FloatVector.broadcast(F, xt[xb + 11]), a11);
                a12 = v.fma(FloatVector.broadcast(F, xt[xb + 12]), a12);
                a13 = v.fma(FloatVector.broadcast(F, xt[xb + 13]), a13);
                a14 = v.fma(FloatVector.broadcast(F, xt[xb + 14]), a14);
                a15 = v.fma(FloatVector.broadcast(F, xt[xb + 15]), a15);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
        a8.intoArray(out, oOff + 8 * rows, m);
        a9.intoArray(out, oOff + 9 * rows, m);
        a10.intoArray(out, oOff + 10 * rows, m);
        a11.intoArray(out, oOff + 11 * rows, m);
        a12.intoArray(out, oOff + 12 * rows, m);
        a13.intoArray(out, oOff + 13 * rows, m);
        a14.intoArray(out, oOff + 14 * rows, m);
        a15.intoArray(out, oOff + 15 * rows, m);
    }

    /** F16, 8 input vectors; see {@link #tiles}. */
    private static void tile8F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j += 2) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o + 2L * (j + 1) * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE, xb = xa + X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
                a4 = w.fma(FloatVector.broadcast(F, xt[xa + 4]), a4);
                a5 = w.fma(FloatVector.broadcast(F, xt[xa + 5]), a5);
                a6 = w.fma(FloatVector.broadcast(F, xt[xa + 6]), a6);
                a7 = w.fma(FloatVector.broadcast(F, xt[xa + 7]), a7);
                a0 = v.fma(FloatVector.broadcast(F, xt[xb]), a0);
                a1 = v.fma(FloatVector.broadcast(F, xt[xb + 1]), a1);
                a2 = v.fma(FloatVector.broadcast(F, xt[xb + 2]), a2);
                a3 = v.fma(FloatVector.broadcast(F, xt[xb + 3]), a3);
                a4 = v.fma(FloatVector.broadcast(F, xt[xb + 4]), a4);
                a5 = v.fma(FloatVector.broadcast(F, xt[xb + 5]), a5);
                a6 = v.fma(FloatVector.broadcast(F, xt[xb + 6]), a6);
                a7 = v.fma(FloatVector.broadcast(F, xt[xb + 7]), a7);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
        a4.intoArray(out, oOff + 4 * rows, m);
        a5.intoArray(out, oOff + 5 * rows, m);
        a6.intoArray(out, oOff + 6 * rows, m);
        a7.intoArray(out, oOff + 7 * rows, m);
    }

    /** F16, 4 input vectors; see {@link #tiles}. */
    private static void tile4F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
                a2 = w.fma(FloatVector.broadcast(F, xt[xa + 2]), a2);
                a3 = w.fma(FloatVector.broadcast(F, xt[xa + 3]), a3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
        a2.intoArray(out, oOff + 2 * rows, m);
        a3.intoArray(out, oOff + 3 * rows, m);
    }

    /** F16, 2 input vectors; see {@link #tiles}. */
    private static void tile2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
                a1 = w.fma(FloatVector.broadcast(F, xt[xa + 1]), a1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
        a1.intoArray(out, oOff + 1 * rows, m);
    }

    /** F16, 1 input vector; see {@link #tiles}. */
    private static void tile1F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid) {
        FloatVector a0 = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                a0 = w.fma(FloatVector.broadcast(F, xt[xa]), a0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid);
        a0.intoArray(out, oOff, m);
    }

    /** Q8_0, panels at {@code off} and the next one, 4 input vectors; see {@link #tiles}. */
    private static void tile4x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + ROWS + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + ROWS + 3 * rows, m2);
    }

    /** Q8_0, panels at {@code off} and the next one, 2 input vectors; see {@link #tiles}. */
    private static void tile2x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b0 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
    }

    /** Q8_0, panels at {@code off} and the next one, 1 input vector; see {@link #tiles}. */
    private static void tile1x2Q8(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        long off2 = off + (long) nb * Q8_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * Q8_BLOCK, o2 = off2 + (long) b * Q8_BLOCK;
            FloatVector d = scales(seg, o);
            FloatVector e = scales(seg, o2);
            for (int j = 0; j < 32; j++) {
                FloatVector w = q8(seg, o + SCALE_BYTES + j * ROWS, d), v = q8(seg, o2 + SCALE_BYTES + j * ROWS, e);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
    }

    /** F16, panels at {@code off} and the next one, 4 input vectors; see {@link #tiles}. */
    private static void tile4x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
                FloatVector x2 = FloatVector.broadcast(F, xt[xa + 2]);
                a2 = w.fma(x2, a2);
                b2 = v.fma(x2, b2);
                FloatVector x3 = FloatVector.broadcast(F, xt[xa + 3]);
                a3 = w.fma(x3, a3);
                b3 = v.fma(x3, b3);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
        a2.intoArray(out, oOff + 2 * rows, m);
        b2.intoArray(out, oOff + ROWS + 2 * rows, m2);
        a3.intoArray(out, oOff + 3 * rows, m);
        b3.intoArray(out, oOff + ROWS + 3 * rows, m2);
    }

    /** F16, panels at {@code off} and the next one, 2 input vectors; see {@link #tiles}. */
    private static void tile2x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b0 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
                FloatVector x1 = FloatVector.broadcast(F, xt[xa + 1]);
                a1 = w.fma(x1, a1);
                b1 = v.fma(x1, b1);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
        a1.intoArray(out, oOff + 1 * rows, m);
        b1.intoArray(out, oOff + ROWS + 1 * rows, m2);
    }

    /** F16, panels at {@code off} and the next one, 1 input vector; see {@link #tiles}. */
    private static void tile1x2F16(MemorySegment seg, long off, int nb, float[] xt, int xOff, float[] out, int oOff, int rows, int valid, int valid2) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        long off2 = off + (long) nb * F16_BLOCK;
        for (int b = 0; b < nb; b++) {
            long o = off + (long) b * F16_BLOCK, o2 = off2 + (long) b * F16_BLOCK;
            for (int j = 0; j < 32; j++) {
                FloatVector w = halves(seg, o + 2L * j * ROWS), v = halves(seg, o2 + 2L * j * ROWS);
                int xa = xOff + (b * 32 + j) * X_STRIDE;
                FloatVector x0 = FloatVector.broadcast(F, xt[xa]);
                a0 = w.fma(x0, a0);
                b0 = v.fma(x0, b0);
            }
        }
        VectorMask<Float> m = F.indexInRange(0, valid), m2 = F.indexInRange(0, valid2);
        a0.intoArray(out, oOff, m);
        b0.intoArray(out, oOff + ROWS, m2);
    }
}
