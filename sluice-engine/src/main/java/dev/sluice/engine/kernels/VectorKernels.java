package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.Dequant;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Panels;
import dev.sluice.engine.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.Vector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Kernels on the incubating Vector API, with {@link FloatVector#SPECIES_PREFERRED} lanes
 * (16 floats on AVX-512, 8 on AVX2).
 *
 * <p>Design note.
 * <ul>
 *   <li><b>Single-vector dots</b> (decode) dequantize in registers. F32 loads floats straight from
 *       the segment. F16 and BF16 load {@code L} int lanes holding {@code 2L} halves and dot the low
 *       and high halves against an activation {@link #deinterleave deinterleaved} once per matmul
 *       (even elements, then odd, per {@code 2L} chunk); BF16 is a shift into the float's top
 *       half, F16 rebuilds the float bits ({@code (h & 0x7fff) << 13} times 2^112, sign or-ed back;
 *       exact for finite halves, subnormals included). Q8_0 widens 32 int8 per block and scales
 *       the block's partial sum by {@code d}; Q4_0 zero-extends bytes to int lanes and splits the
 *       nibbles there (x86 has no byte shifts), subtracts 8 and does the same; Q4_K sums {@code q*x} per 32-element sub-block,
 *       applies {@code d*sc}, and takes {@code dmin*m*sum(x)} from per-activation group sums; Q6_K
 *       rebuilds unsigned 6-bit quants from {@code ql}/{@code qh} on int lanes, scales by
 *       {@code d*scales[is]}, and takes the {@code -32} offset from per-activation sums of 16. No integer dot products: activations stay float, so results differ
 *       from the scalar twin only by float reassociation.</li>
 *   <li><b>Batched matmul</b> (prefill, batched decode) is a GEMM ({@link #gemm}):
 *       each tile of 4 whole rows is dequantized once per block of tokens (vector code for F32, F16,
 *       Q8_0, Q4_0) into a per-thread scratch and multiplied with 4 input vectors per register tile
 *       (16 accumulators), or for rows of at least {@link #WIDE_COLS} with 6 (24 accumulators with AVX-512's
 *       32 registers; each weight load feeds 6 FMAs), each dot product accumulated over the whole row and
 *       lane-reduced once. Token blocks keep the activations in
 *       L2. Dequantization is amortized over the batch, and results are batch-invariant (see
 *       {@link #gemm}).</li>
 *   <li>Rows are split over {@link Parallel}; attention is split over (token, head) pairs.</li>
 *   <li>Quantized in-register paths need 8 or 16 float lanes; other shapes use the scratch path.</li>
 * </ul>
 */
public final class VectorKernels implements Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** One Q8_0 block of quants (32 bytes). */
    static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    /** Sixteen bytes (Q4_0 nibbles). */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** {@code L} bytes: one float vector's worth, when L is 8 or 16. */
    static final VectorSpecies<Byte> BL = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    /** {@code L} shorts: one float vector's worth of halves (null below 4 lanes). */
    static final VectorSpecies<Short> S = L >= 4 ? VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16)) : null;
    static final boolean QUANT_IN_REGISTER = L == 8 || L == 16;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final java.lang.foreign.ValueLayout.OfLong LE_LONG = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final java.lang.foreign.ValueLayout.OfInt LE_INT = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final float F16_MAGIC = 0x1p112f;

    /** One line for the start-up log, e.g. {@code cpu-vector: 512-bit AVX-512 (16 float lanes), 2 threads}. */
    public String describe() {
        int bits = F.vectorBitSize();
        String isa = switch (bits) {
            case 512 -> "AVX-512";
            case 256 -> "AVX2";
            case 128 -> "SSE/NEON";
            default -> "?";
        };
        return "cpu-vector: " + bits + "-bit " + isa + " (" + L + " float lanes), " + Parallel.THREADS + " threads"
                + (QUANT_IN_REGISTER ? "" : "; quantized dots use the dequantize-to-scratch path")
                + (PANELS ? "; Q8_0/Q4_0/F16 matrices repacked into 16-row panels" + (PanelKernels.WIDE ? "" : " (8-vector tiles: JIT directive not added)") : "");
    }

    @Override
    public String name() {
        return "cpu-vector";
    }

    // ---------------------------------------------------------------- matmul / dot

    @Override
    public void matmul(Tensor w, float[] x, float[] out, int n) {
        matmul(new Tensor[] {w}, x, new float[][] {out}, n);
    }

    /**
     * All of {@code ws} in one parallel job (one pass of the worker pool instead of one per matrix:
     * fewer barriers per decode step). Each output element is computed exactly as by the
     * single-matrix {@link #matmul(Tensor, float[], float[], int)}.
     */
    @Override
    public void matmul(Tensor[] ws, float[] x, float[][] outs, int n) {
        if (ws.length != outs.length) throw new IllegalArgumentException(ws.length + " matrices but " + outs.length + " outputs");
        int cols = ws[0].cols();
        for (int i = 0; i < ws.length; i++) {
            if (ws[i].cols() != cols) throw new IllegalArgumentException(ws[i] + " has " + ws[i].cols() + " columns, " + ws[0] + " has " + cols);
            ScalarKernels.checkMatmul(ws[i], x, outs[i], n);
        }
        int panels = 0;
        for (Tensor w : ws) if (w.layout() == Tensor.Layout.PANELS) panels++;
        if (panels == ws.length) {
            PanelKernels.matmul(ws, x, outs, n, cols);
        } else if (panels > 0) { // mixed layouts (e.g. a Q4_0 file with a Q6_K matrix): each group in its own job
            for (int i = 0; i < ws.length; i++) matmul(new Tensor[] {ws[i]}, x, new float[][] {outs[i]}, n);
        } else if (n == 1) {
            matvec(ws, x, outs, cols);
        } else {
            gemm(ws, x, outs, n, cols);
        }
    }

    /**
     * Whether {@link #prepare} repacks Q8_0, Q4_0 and F16 matrices into {@link Panels} for {@link PanelKernels}: where
     * vectors have 16 float lanes, unless the system property {@code sluice.panels} is {@code false} (for
     * comparisons with the row-layout kernels).
     */
    static final boolean PANELS = PanelKernels.available() && !"false".equalsIgnoreCase(System.getProperty("sluice.panels"));

    /** Q8_0, Q4_0 and F16 matrices repacked into {@link Panels} (see {@link #PANELS}, {@link Panels#supports}); other tensors as they are. */
    @Override
    public Tensor prepare(Tensor w) {
        if (!PANELS || !Panels.supports(w)) return w;
        return Panels.repack(w, java.lang.foreign.Arena.ofAuto());
    }

    /** The single-vector matmul (decode): rows of all matrices split over threads, each row dotted in registers. */
    private static void matvec(Tensor[] ws, float[] x, float[][] outs, int cols) {
        boolean half = false, q4k = false, q6k = false, scratch = false;
        int[] rowStart = new int[ws.length + 1];
        for (int i = 0; i < ws.length; i++) {
            GGMLType t = ws[i].type();
            half |= t == GGMLType.F16 || t == GGMLType.BF16;
            q4k |= t == GGMLType.Q4_K;
            q6k |= t == GGMLType.Q6_K;
            scratch |= needsScratch(t);
            rowStart[i + 1] = rowStart[i] + ws[i].rows();
        }
        float[] xp = half ? deinterleave(x, 0, cols, Scratch.floats(Scratch.DEINTERLEAVED, cols)) : null;
        float[] xsum32 = q4k && QUANT_IN_REGISTER ? groupSums(x, 0, cols, 32, Scratch.floats(Scratch.GROUP_SUMS_32, cols / 32)) : null;
        float[] xsum16 = q6k && QUANT_IN_REGISTER ? groupSums(x, 0, cols, 16, Scratch.floats(Scratch.GROUP_SUMS_16, cols / 16)) : null;
        boolean needScratch = scratch;
        Parallel.forRange(rowStart[ws.length], 8, (from, to) -> {
            float[] tmp = needScratch ? Scratch.floats(Scratch.ROW, cols) : null;
            Parallel.bySegment(rowStart, from, to, (i, a, b) -> {
                Tensor w = ws[i];
                GGMLType type = w.type();
                MemorySegment seg = w.data();
                long rowBytes = w.rowBytes();
                float[] out = outs[i];
                for (int r = a - rowStart[i]; r < b - rowStart[i]; r++) {
                    long off = r * rowBytes;
                    out[r] = switch (type) {
                        case F16 -> dotF16(seg, off, xp, cols);
                        case BF16 -> dotBF16(seg, off, xp, cols);
                        case Q4_K -> xsum32 != null ? dotQ4_K(seg, off, x, 0, cols, xsum32) : dotRow(type, seg, off, x, 0, cols, tmp);
                        case Q6_K -> xsum16 != null ? dotQ6_K(seg, off, x, 0, cols, xsum16) : dotRow(type, seg, off, x, 0, cols, tmp);
                        default -> dotRow(type, seg, off, x, 0, cols, tmp);
                    };
                }
            });
        });
    }

    /** A cache line: a 512-bit vector load at a multiple of it reads one line, elsewhere two. */
    static final int CACHE_LINE = 64;

    /**
     * Offset (floats) at which the batched matmul starts its dequantized row tiles and its copy of the input
     * vectors so that they begin on a cache line: nonzero only when the JVM aligns every object to a cache
     * line ({@code -XX:ObjectAlignmentInBytes=64}), where a {@code float[]}'s data always starts
     * {@code ARRAY_FLOAT_BASE_OFFSET} bytes past one. Otherwise an array's data is only 8-byte aligned, at a
     * place that differs run to run, and most 512-bit loads span two lines; in the batch-16 step of the Q4_0
     * benchmark model the aligned tiles took 12% less CPU (docs/engine.md). 0 when either value cannot be read.
     */
    static final int ALIGN_FLOATS = alignFloats();

    private static int alignFloats() {
        try {
            var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            int objectAlignment = Integer.parseInt(hotspot.getVMOption("ObjectAlignmentInBytes").getValue());
            if (objectAlignment % CACHE_LINE != 0) return 0;
            int base = sun.misc.Unsafe.ARRAY_FLOAT_BASE_OFFSET;
            return (CACHE_LINE - base % CACHE_LINE) % CACHE_LINE / Float.BYTES;
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /** Rows per tile of the batched matmul. */
    static final int ROW_TILE = 4;
    /**
     * Input vectors per register tile of the batched matmul: with 32 vector registers (AVX-512) 4 rows x 6
     * vectors = 24 accumulators, 4 weight and 1 activation registers, so each weight load feeds 6 FMAs
     * and each activation load 4 (0.42 loads per FMA); with 16 registers (AVX2) 4 x 4.
     */
    static final int T_TILE = L >= 16 ? 6 : 4;
    /** Floats of a thread's area for the register tiles' sums (the 4 x 6 tile stores two 16-lane vectors). */
    static final int ACC_FLOATS = 32;

    /**
     * Rows at least this long use the 4 x 6 register tiles; shorter ones at most 4 x 4. JMH on this Zen 5
     * (docs/engine.md): with 4864 columns the 4 x 6 tiles were 10-22% faster at 16 and 128 vectors; with 896
     * columns up to 30% slower. The choice depends on the matrix only, never on the batch, so results stay
     * batch-invariant.
     */
    static final int WIDE_COLS = 2048;

    /** Activation bytes of one token block of {@link #gemm}: it stays in L2 (1 MiB per core here) beside the dequantized row tile. */
    static final int T_BLOCK_BYTES = 512 * 1024;

    /**
     * The batched matmul ({@code n >= 2}), with whole-row register accumulation: each task walks its row tiles once per
     * block of tokens; a row tile ({@link #ROW_TILE} rows x all {@code cols}) is dequantized once per
     * token block into a per-thread scratch (L2), and each (row, token) dot product is accumulated over
     * the whole row in one register ({@link #tile}: 4 x 6 register tiles for rows of at least {@link #WIDE_COLS},
     * 4 x 4 for shorter ones), lane-reduced once at the end. An earlier version walked the
     * columns in k-blocks of 512 (an L1-sized weight tile) and reduced and stored a partial sum per
     * k-block; one reduction per output instead was 20-40% faster at 4, 16 and 128 vectors (Q8_0, Q4_0,
     * F16; single thread, docs/engine.md). Token blocks ({@link #T_BLOCK_BYTES} of activations) keep a long prefill's activations in
     * L2 while the tiles are walked.
     *
     * <p>Batch invariance: an output element is computed by the same operations in the same order
     * (one accumulator over the row, lane-reduced the same way, then the scalar tail) whatever {@code n},
     * the token block, the register tile it falls in or the other input vectors are; the kernel is chosen
     * by the row length alone.
     */
    private static void gemm(Tensor[] ws, float[] x, float[][] outs, int n, int cols) {
        int[] tileStart = new int[ws.length + 1];
        for (int i = 0; i < ws.length; i++) tileStart[i + 1] = tileStart[i] + (ws[i].rows() + ROW_TILE - 1) / ROW_TILE;
        boolean wide = cols >= WIDE_COLS;
        int step = wide ? T_TILE : 4;
        int tBlock = Math.max(step, T_BLOCK_BYTES / (4 * cols) / step * step);
        int a0 = ALIGN_FLOATS, accOff = a0 + ROW_TILE * cols;
        // where the JVM aligns objects to cache lines: the input vectors copied to where a row starts on a line
        float[] xa = x;
        if (a0 > 0) {
            xa = Scratch.floats(Scratch.GEMM_X, a0 + n * cols);
            System.arraycopy(x, 0, xa, a0, n * cols);
        }
        float[] xs = xa;
        Parallel.forRange(tileStart[ws.length], 1, (from, to) -> {
            // the dequantized row tile (from a0), then the accumulator spill area
            float[] w4 = Scratch.floats(Scratch.GEMM_TILE, accOff + ACC_FLOATS);
            for (int t0 = 0; t0 < n; t0 += tBlock) {
                int tEnd = Math.min(n, t0 + tBlock), first = t0;
                Parallel.bySegment(tileStart, from, to, (i, a, b) -> {
                    Tensor w = ws[i];
                    GGMLType type = w.type();
                    MemorySegment seg = w.data();
                    long rowBytes = w.rowBytes();
                    int rows = w.rows();
                    float[] out = outs[i];
                    for (int g = a; g < b; g++) {
                        int r0 = (g - tileStart[i]) * ROW_TILE, nr = Math.min(ROW_TILE, rows - r0);
                        for (int j = 0; j < nr; j++) dequantRow(type, seg, (r0 + j) * rowBytes, w4, a0 + j * cols, cols);
                        for (int j = nr; j < ROW_TILE; j++) java.util.Arrays.fill(w4, a0 + j * cols, a0 + (j + 1) * cols, 0f);
                        for (int t = first; t < tEnd; ) {
                            int nt = tile(w4, a0, cols, xs, a0 + t * cols, cols, wide ? tEnd - t : Math.min(4, tEnd - t), w4, accOff);
                            for (int u = 0; u < nt; u++) {
                                int xo = a0 + (t + u) * cols, o = (t + u) * rows + r0;
                                for (int j = 0; j < nr; j++) out[o + j] = withTail(w4[accOff + u * ROW_TILE + j], w4, a0 + j * cols, cols, xs, xo);
                            }
                            t += nt;
                        }
                    }
                });
            }
        });
    }

    /**
     * Register tile: the 4 rows of {@code w} ({@code kc} floats each, from {@code wOff}) against the first {@code k} of the
     * {@code nt} input vectors at {@code xOff + t * xStride}, with {@code k} = {@link #T_TILE}, 4, 2 or 1, the
     * largest that fits; returns {@code k}. The accumulator of (vector {@code t}, row {@code j}) covers the row's
     * first {@code kc - kc % L} columns; its lane sum is stored at {@code acc[accOff + t * 4 + j]}. Each (row, vector)
     * pair has its own accumulator, fed in the same order and reduced the same way in every tile shape.
     */
    static int tile(float[] w, int wOff, int kc, float[] x, int xOff, int xStride, int nt, float[] acc, int accOff) {
        if (nt >= 6 && T_TILE == 6) {
            tile4x6(w, wOff, kc, x, xOff, xStride, acc, accOff);
            return 6;
        }
        if (nt >= 4) {
            tile4x4(w, wOff, kc, x, xOff, xStride, acc, accOff);
            return 4;
        }
        if (nt >= 2) {
            tile4x2(w, wOff, kc, x, xOff, xStride, acc, accOff);
            return 2;
        }
        tile4x1(w, wOff, kc, x, xOff, xStride, acc, accOff);
        return 1;
    }

    /**
     * Reductions of the register tiles: {@link #TREE} (8 or 16 lanes) sums 16 accumulators into one vector
     * of 16 sums by a transposing tree: at stride {@code s} = 1, 2, 4, 8, two vectors {@code a}, {@code b}
     * become {@code a.blend(b, M_s) + b.blend(a, M_s).rearrange(P_s)}, where lanes with bit {@code s} set take
     * {@code b}'s pair sums and the others {@code a}'s ({@code P_s} swaps lane {@code l} with {@code l ^ s}); groups
     * of 8 or 4 accumulators finish with {@code v + v.rearrange(P_s)}. Lane {@code k} of the result is the sum
     * of accumulator {@code k}: about 4 vector operations per output instead of a {@code reduceLanes}
     * (log2(L) dependent shuffle-and-add steps) each, which cost a quarter of the GEMM at width 896.
     * Every output's value is the same pairwise tree over its lanes ((l0 + l1) + (l2 + l3)) + ..., whatever
     * group it was reduced in (float addition is commutative), so tile shapes stay batch-invariant; and
     * lane-wise operations give the same bits compiled or interpreted, which {@code reduceLanes} does not
     * (its Java fallback adds in sequence, the intrinsic as a tree: a tile reduced through a helper that C2
     * inlined at some call sites only could round differently from another).
     */
    static final boolean TREE = L == 8 || L == 16;
    private static final VectorMask<Float> M1 = TREE ? VectorMask.fromLong(F, 0xAAAAL) : null;
    private static final VectorMask<Float> M2 = TREE ? VectorMask.fromLong(F, 0xCCCCL) : null;
    private static final VectorMask<Float> M4 = TREE ? VectorMask.fromLong(F, 0xF0F0L) : null;
    private static final VectorMask<Float> M8 = L == 16 ? VectorMask.fromLong(F, 0xFF00L) : null;
    private static final VectorShuffle<Float> P1 = TREE ? VectorShuffle.fromOp(F, i -> i ^ 1) : null;
    private static final VectorShuffle<Float> P2 = TREE ? VectorShuffle.fromOp(F, i -> i ^ 2) : null;
    private static final VectorShuffle<Float> P4 = TREE ? VectorShuffle.fromOp(F, i -> i ^ 4) : null;
    private static final VectorShuffle<Float> P8 = L == 16 ? VectorShuffle.fromOp(F, i -> i ^ 8) : null;

    /** One output of the batched matmul: the tile's lane sum {@code s} plus the scalar tail {@code [kc - kc % L, kc)} of {@code w[wOff ..]} against {@code x[xOff ..]}. */
    private static float withTail(float s, float[] w, int wOff, int kc, float[] x, int xOff) {
        for (int i = kc - kc % L; i < kc; i++) s += w[wOff + i] * x[xOff + i];
        return s;
    }

    /** 4 rows x 6 input vectors; see {@link #tile}. */
    private static void tile4x6(float[] w, int wOff, int kc, float[] x, int xOff, int xStride, float[] acc, int accOff) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        FloatVector a40 = FloatVector.zero(F), a41 = FloatVector.zero(F), a42 = FloatVector.zero(F), a43 = FloatVector.zero(F);
        FloatVector a50 = FloatVector.zero(F), a51 = FloatVector.zero(F), a52 = FloatVector.zero(F), a53 = FloatVector.zero(F);
        int x0 = xOff;
        int x1 = xOff + 1 * xStride;
        int x2 = xOff + 2 * xStride;
        int x3 = xOff + 3 * xStride;
        int x4 = xOff + 4 * xStride;
        int x5 = xOff + 5 * xStride;
        for (int i = 0; i <= kc - L; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i), w1 = FloatVector.fromArray(F, w, wOff + kc + i);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * kc + i), w3 = FloatVector.fromArray(F, w, wOff + 3 * kc + i);
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v0, a00); a01 = w1.fma(v0, a01); a02 = w2.fma(v0, a02); a03 = w3.fma(v0, a03);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            a10 = w0.fma(v1, a10); a11 = w1.fma(v1, a11); a12 = w2.fma(v1, a12); a13 = w3.fma(v1, a13);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
            a20 = w0.fma(v2, a20); a21 = w1.fma(v2, a21); a22 = w2.fma(v2, a22); a23 = w3.fma(v2, a23);
            FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
            a30 = w0.fma(v3, a30); a31 = w1.fma(v3, a31); a32 = w2.fma(v3, a32); a33 = w3.fma(v3, a33);
            FloatVector v4 = FloatVector.fromArray(F, x, x4 + i);
            a40 = w0.fma(v4, a40); a41 = w1.fma(v4, a41); a42 = w2.fma(v4, a42); a43 = w3.fma(v4, a43);
            FloatVector v5 = FloatVector.fromArray(F, x, x5 + i);
            a50 = w0.fma(v5, a50); a51 = w1.fma(v5, a51); a52 = w2.fma(v5, a52); a53 = w3.fma(v5, a53);
        }
        if (TREE) {
            FloatVector r0_0 = a00.blend(a01, M1).add(a01.blend(a00, M1).rearrange(P1));
            FloatVector r0_1 = a02.blend(a03, M1).add(a03.blend(a02, M1).rearrange(P1));
            FloatVector r0_2 = a10.blend(a11, M1).add(a11.blend(a10, M1).rearrange(P1));
            FloatVector r0_3 = a12.blend(a13, M1).add(a13.blend(a12, M1).rearrange(P1));
            FloatVector r0_4 = a20.blend(a21, M1).add(a21.blend(a20, M1).rearrange(P1));
            FloatVector r0_5 = a22.blend(a23, M1).add(a23.blend(a22, M1).rearrange(P1));
            FloatVector r0_6 = a30.blend(a31, M1).add(a31.blend(a30, M1).rearrange(P1));
            FloatVector r0_7 = a32.blend(a33, M1).add(a33.blend(a32, M1).rearrange(P1));
            FloatVector r0_8 = r0_0.blend(r0_1, M2).add(r0_1.blend(r0_0, M2).rearrange(P2));
            FloatVector r0_9 = r0_2.blend(r0_3, M2).add(r0_3.blend(r0_2, M2).rearrange(P2));
            FloatVector r0_10 = r0_4.blend(r0_5, M2).add(r0_5.blend(r0_4, M2).rearrange(P2));
            FloatVector r0_11 = r0_6.blend(r0_7, M2).add(r0_7.blend(r0_6, M2).rearrange(P2));
            FloatVector r0_12 = r0_8.blend(r0_9, M4).add(r0_9.blend(r0_8, M4).rearrange(P4));
            FloatVector r0_13 = r0_10.blend(r0_11, M4).add(r0_11.blend(r0_10, M4).rearrange(P4));
            FloatVector r1_0 = a40.blend(a41, M1).add(a41.blend(a40, M1).rearrange(P1));
            FloatVector r1_1 = a42.blend(a43, M1).add(a43.blend(a42, M1).rearrange(P1));
            FloatVector r1_2 = a50.blend(a51, M1).add(a51.blend(a50, M1).rearrange(P1));
            FloatVector r1_3 = a52.blend(a53, M1).add(a53.blend(a52, M1).rearrange(P1));
            FloatVector r1_4 = r1_0.blend(r1_1, M2).add(r1_1.blend(r1_0, M2).rearrange(P2));
            FloatVector r1_5 = r1_2.blend(r1_3, M2).add(r1_3.blend(r1_2, M2).rearrange(P2));
            FloatVector r1_6 = r1_4.blend(r1_5, M4).add(r1_5.blend(r1_4, M4).rearrange(P4));
            if (L == 16) {
                r0_12.blend(r0_13, M8).add(r0_13.blend(r0_12, M8).rearrange(P8)).intoArray(acc, accOff + 0);
                FloatVector r1_6s8 = r1_6.add(r1_6.rearrange(P8)); r1_6s8.intoArray(acc, accOff + 16);
            } else {
                r0_12.intoArray(acc, accOff + 0); r0_13.intoArray(acc, accOff + 8);
                r1_6.intoArray(acc, accOff + 16);
            }
        } else {
            acc[accOff + 0] = a00.reduceLanes(VectorOperators.ADD);
            acc[accOff + 1] = a01.reduceLanes(VectorOperators.ADD);
            acc[accOff + 2] = a02.reduceLanes(VectorOperators.ADD);
            acc[accOff + 3] = a03.reduceLanes(VectorOperators.ADD);
            acc[accOff + 4] = a10.reduceLanes(VectorOperators.ADD);
            acc[accOff + 5] = a11.reduceLanes(VectorOperators.ADD);
            acc[accOff + 6] = a12.reduceLanes(VectorOperators.ADD);
            acc[accOff + 7] = a13.reduceLanes(VectorOperators.ADD);
            acc[accOff + 8] = a20.reduceLanes(VectorOperators.ADD);
            acc[accOff + 9] = a21.reduceLanes(VectorOperators.ADD);
            acc[accOff + 10] = a22.reduceLanes(VectorOperators.ADD);
            acc[accOff + 11] = a23.reduceLanes(VectorOperators.ADD);
            acc[accOff + 12] = a30.reduceLanes(VectorOperators.ADD);
            acc[accOff + 13] = a31.reduceLanes(VectorOperators.ADD);
            acc[accOff + 14] = a32.reduceLanes(VectorOperators.ADD);
            acc[accOff + 15] = a33.reduceLanes(VectorOperators.ADD);
            acc[accOff + 16] = a40.reduceLanes(VectorOperators.ADD);
            acc[accOff + 17] = a41.reduceLanes(VectorOperators.ADD);
            acc[accOff + 18] = a42.reduceLanes(VectorOperators.ADD);
            acc[accOff + 19] = a43.reduceLanes(VectorOperators.ADD);
            acc[accOff + 20] = a50.reduceLanes(VectorOperators.ADD);
            acc[accOff + 21] = a51.reduceLanes(VectorOperators.ADD);
            acc[accOff + 22] = a52.reduceLanes(VectorOperators.ADD);
            acc[accOff + 23] = a53.reduceLanes(VectorOperators.ADD);
        }
    }

    /** 4 rows x 4 input vectors; see {@link #tile}. */
    private static void tile4x4(float[] w, int wOff, int kc, float[] x, int xOff, int xStride, float[] acc, int accOff) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int x0 = xOff;
        int x1 = xOff + 1 * xStride;
        int x2 = xOff + 2 * xStride;
        int x3 = xOff + 3 * xStride;
        for (int i = 0; i <= kc - L; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i), w1 = FloatVector.fromArray(F, w, wOff + kc + i);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * kc + i), w3 = FloatVector.fromArray(F, w, wOff + 3 * kc + i);
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v0, a00); a01 = w1.fma(v0, a01); a02 = w2.fma(v0, a02); a03 = w3.fma(v0, a03);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            a10 = w0.fma(v1, a10); a11 = w1.fma(v1, a11); a12 = w2.fma(v1, a12); a13 = w3.fma(v1, a13);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
            a20 = w0.fma(v2, a20); a21 = w1.fma(v2, a21); a22 = w2.fma(v2, a22); a23 = w3.fma(v2, a23);
            FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
            a30 = w0.fma(v3, a30); a31 = w1.fma(v3, a31); a32 = w2.fma(v3, a32); a33 = w3.fma(v3, a33);
        }
        if (TREE) {
            FloatVector r0_0 = a00.blend(a01, M1).add(a01.blend(a00, M1).rearrange(P1));
            FloatVector r0_1 = a02.blend(a03, M1).add(a03.blend(a02, M1).rearrange(P1));
            FloatVector r0_2 = a10.blend(a11, M1).add(a11.blend(a10, M1).rearrange(P1));
            FloatVector r0_3 = a12.blend(a13, M1).add(a13.blend(a12, M1).rearrange(P1));
            FloatVector r0_4 = a20.blend(a21, M1).add(a21.blend(a20, M1).rearrange(P1));
            FloatVector r0_5 = a22.blend(a23, M1).add(a23.blend(a22, M1).rearrange(P1));
            FloatVector r0_6 = a30.blend(a31, M1).add(a31.blend(a30, M1).rearrange(P1));
            FloatVector r0_7 = a32.blend(a33, M1).add(a33.blend(a32, M1).rearrange(P1));
            FloatVector r0_8 = r0_0.blend(r0_1, M2).add(r0_1.blend(r0_0, M2).rearrange(P2));
            FloatVector r0_9 = r0_2.blend(r0_3, M2).add(r0_3.blend(r0_2, M2).rearrange(P2));
            FloatVector r0_10 = r0_4.blend(r0_5, M2).add(r0_5.blend(r0_4, M2).rearrange(P2));
            FloatVector r0_11 = r0_6.blend(r0_7, M2).add(r0_7.blend(r0_6, M2).rearrange(P2));
            FloatVector r0_12 = r0_8.blend(r0_9, M4).add(r0_9.blend(r0_8, M4).rearrange(P4));
            FloatVector r0_13 = r0_10.blend(r0_11, M4).add(r0_11.blend(r0_10, M4).rearrange(P4));
            if (L == 16) {
                r0_12.blend(r0_13, M8).add(r0_13.blend(r0_12, M8).rearrange(P8)).intoArray(acc, accOff + 0);
            } else {
                r0_12.intoArray(acc, accOff + 0); r0_13.intoArray(acc, accOff + 8);
            }
        } else {
            acc[accOff + 0] = a00.reduceLanes(VectorOperators.ADD);
            acc[accOff + 1] = a01.reduceLanes(VectorOperators.ADD);
            acc[accOff + 2] = a02.reduceLanes(VectorOperators.ADD);
            acc[accOff + 3] = a03.reduceLanes(VectorOperators.ADD);
            acc[accOff + 4] = a10.reduceLanes(VectorOperators.ADD);
            acc[accOff + 5] = a11.reduceLanes(VectorOperators.ADD);
            acc[accOff + 6] = a12.reduceLanes(VectorOperators.ADD);
            acc[accOff + 7] = a13.reduceLanes(VectorOperators.ADD);
            acc[accOff + 8] = a20.reduceLanes(VectorOperators.ADD);
            acc[accOff + 9] = a21.reduceLanes(VectorOperators.ADD);
            acc[accOff + 10] = a22.reduceLanes(VectorOperators.ADD);
            acc[accOff + 11] = a23.reduceLanes(VectorOperators.ADD);
            acc[accOff + 12] = a30.reduceLanes(VectorOperators.ADD);
            acc[accOff + 13] = a31.reduceLanes(VectorOperators.ADD);
            acc[accOff + 14] = a32.reduceLanes(VectorOperators.ADD);
            acc[accOff + 15] = a33.reduceLanes(VectorOperators.ADD);
        }
    }

    /** 4 rows x 2 input vectors; see {@link #tile}. */
    private static void tile4x2(float[] w, int wOff, int kc, float[] x, int xOff, int xStride, float[] acc, int accOff) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        int x0 = xOff;
        int x1 = xOff + 1 * xStride;
        for (int i = 0; i <= kc - L; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i), w1 = FloatVector.fromArray(F, w, wOff + kc + i);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * kc + i), w3 = FloatVector.fromArray(F, w, wOff + 3 * kc + i);
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v0, a00); a01 = w1.fma(v0, a01); a02 = w2.fma(v0, a02); a03 = w3.fma(v0, a03);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            a10 = w0.fma(v1, a10); a11 = w1.fma(v1, a11); a12 = w2.fma(v1, a12); a13 = w3.fma(v1, a13);
        }
        if (TREE) {
            FloatVector r0_0 = a00.blend(a01, M1).add(a01.blend(a00, M1).rearrange(P1));
            FloatVector r0_1 = a02.blend(a03, M1).add(a03.blend(a02, M1).rearrange(P1));
            FloatVector r0_2 = a10.blend(a11, M1).add(a11.blend(a10, M1).rearrange(P1));
            FloatVector r0_3 = a12.blend(a13, M1).add(a13.blend(a12, M1).rearrange(P1));
            FloatVector r0_4 = r0_0.blend(r0_1, M2).add(r0_1.blend(r0_0, M2).rearrange(P2));
            FloatVector r0_5 = r0_2.blend(r0_3, M2).add(r0_3.blend(r0_2, M2).rearrange(P2));
            FloatVector r0_6 = r0_4.blend(r0_5, M4).add(r0_5.blend(r0_4, M4).rearrange(P4));
            if (L == 16) {
                FloatVector r0_6s8 = r0_6.add(r0_6.rearrange(P8)); r0_6s8.intoArray(acc, accOff + 0);
            } else {
                r0_6.intoArray(acc, accOff + 0);
            }
        } else {
            acc[accOff + 0] = a00.reduceLanes(VectorOperators.ADD);
            acc[accOff + 1] = a01.reduceLanes(VectorOperators.ADD);
            acc[accOff + 2] = a02.reduceLanes(VectorOperators.ADD);
            acc[accOff + 3] = a03.reduceLanes(VectorOperators.ADD);
            acc[accOff + 4] = a10.reduceLanes(VectorOperators.ADD);
            acc[accOff + 5] = a11.reduceLanes(VectorOperators.ADD);
            acc[accOff + 6] = a12.reduceLanes(VectorOperators.ADD);
            acc[accOff + 7] = a13.reduceLanes(VectorOperators.ADD);
        }
    }

    /** 4 rows x 1 input vector; see {@link #tile}. */
    private static void tile4x1(float[] w, int wOff, int kc, float[] x, int xOff, int xStride, float[] acc, int accOff) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        int x0 = xOff;
        for (int i = 0; i <= kc - L; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i), w1 = FloatVector.fromArray(F, w, wOff + kc + i);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * kc + i), w3 = FloatVector.fromArray(F, w, wOff + 3 * kc + i);
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v0, a00); a01 = w1.fma(v0, a01); a02 = w2.fma(v0, a02); a03 = w3.fma(v0, a03);
        }
        if (TREE) {
            FloatVector r0_0 = a00.blend(a01, M1).add(a01.blend(a00, M1).rearrange(P1));
            FloatVector r0_1 = a02.blend(a03, M1).add(a03.blend(a02, M1).rearrange(P1));
            FloatVector r0_2 = r0_0.blend(r0_1, M2).add(r0_1.blend(r0_0, M2).rearrange(P2));
            if (L == 16) {
                FloatVector r0_2s4 = r0_2.add(r0_2.rearrange(P4)); FloatVector r0_2s8 = r0_2s4.add(r0_2s4.rearrange(P8)); r0_2s8.intoArray(acc, accOff + 0);
            } else {
                FloatVector r0_2s4 = r0_2.add(r0_2.rearrange(P4)); r0_2s4.intoArray(acc, accOff + 0);
            }
        } else {
            acc[accOff + 0] = a00.reduceLanes(VectorOperators.ADD);
            acc[accOff + 1] = a01.reduceLanes(VectorOperators.ADD);
            acc[accOff + 2] = a02.reduceLanes(VectorOperators.ADD);
            acc[accOff + 3] = a03.reduceLanes(VectorOperators.ADD);
        }
    }


    /**
     * {@link Dequant#row} with vector code for Q8_0 and Q4_0 (bit-identical: each element is the one
     * product {@code d * q}); other types use the scalar reference.
     */
    static void dequantRow(GGMLType type, MemorySegment seg, long off, float[] dst, int dstOff, int n) {
        if (type == GGMLType.F32) {
            int i = 0;
            for (; i <= n - L; i += L) FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).intoArray(dst, dstOff + i);
            for (; i < n; i++) dst[dstOff + i] = seg.get(Dequant.F32, off + 4L * i);
            return;
        }
        if (type == GGMLType.F16 && S != null) {
            int i = 0;
            for (; i <= n - L; i += L) {
                halfToFloat((IntVector) ShortVector.fromMemorySegment(S, seg, off + 2L * i, LE).castShape(I, 0)).intoArray(dst, dstOff + i);
            }
            for (; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(seg.get(Dequant.I16, off + 2L * i));
            return;
        }
        if (!QUANT_IN_REGISTER || (type != GGMLType.Q8_0 && type != GGMLType.Q4_0)) {
            Dequant.row(type, seg, off, dst, dstOff, n);
            return;
        }
        if (type == GGMLType.Q8_0) {
            // L bytes per load, widened whole (part 0): taking part p of one 32-byte vector cost a shuffle
            // more; with 16 lanes the two halves written out (20-25% faster than the loop over p, measured)
            if (L == 16) {
                for (int b = 0, o = dstOff; b < n / 32; b++, off += 34, o += 32) {
                    FloatVector d = FloatVector.broadcast(F, Dequant.halfAt(seg, off));
                    ((FloatVector) ByteVector.fromMemorySegment(BL, seg, off + 2, LE).castShape(F, 0)).mul(d).intoArray(dst, o);
                    ((FloatVector) ByteVector.fromMemorySegment(BL, seg, off + 18, LE).castShape(F, 0)).mul(d).intoArray(dst, o + 16);
                }
                return;
            }
            for (int b = 0; b < n / 32; b++, off += 34) {
                FloatVector d = FloatVector.broadcast(F, Dequant.halfAt(seg, off));
                for (int p = 0; p < 32 / L; p++) {
                    ((FloatVector) ByteVector.fromMemorySegment(BL, seg, off + 2 + p * L, LE).castShape(F, 0)).mul(d).intoArray(dst, dstOff + b * 32 + p * L);
                }
            }
        } else {
            // d * (q - 8) as fma(q, d, -8d): the same real number (-8d is exact), rounded once, so
            // bit-identical to the scalar twin, without the two integer subtractions
            for (int b = 0; b < n / 32; b++, off += 18) {
                float df = Dequant.halfAt(seg, off);
                FloatVector d = FloatVector.broadcast(F, df), m8d = FloatVector.broadcast(F, -8f * df);
                ByteVector q = ByteVector.fromMemorySegment(B16, seg, off + 2, LE);
                for (int p = 0; p < 16 / L; p++) {
                    IntVector qi = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                    ((FloatVector) qi.and(0x0F).convert(VectorOperators.I2F, 0)).fma(d, m8d).intoArray(dst, dstOff + b * 32 + p * L);
                    ((FloatVector) qi.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(d, m8d)
                            .intoArray(dst, dstOff + b * 32 + 16 + p * L);
                }
            }
        }
    }


    private static boolean needsScratch(GGMLType type) {
        return switch (type) {
            case F32, F16, BF16 -> false;
            case Q8_0, Q4_0, Q4_K, Q6_K -> !QUANT_IN_REGISTER;
            default -> true;
        };
    }

    @Override
    public float dot(Tensor w, int row, float[] x, int xOff) {
        int cols = w.cols();
        if (w.layout() == Tensor.Layout.PANELS) {
            float[] tmp = new float[cols];
            Dequant.row(w, row, tmp, 0);
            return dot(tmp, 0, x, xOff, cols);
        }
        return dotRow(w.type(), w.data(), row * w.rowBytes(), x, xOff, cols, needsScratch(w.type()) ? new float[cols] : null);
    }

    static float dotRow(GGMLType type, MemorySegment seg, long off, float[] x, int xOff, int n, float[] scratch) {
        if (scratch != null) {
            Dequant.row(type, seg, off, scratch, 0, n);
            return dot(scratch, 0, x, xOff, n);
        }
        return switch (type) {
            case F32 -> dotF32(seg, off, x, xOff, n);
            case F16 -> dotF16(seg, off, deinterleave(x, xOff, n), n);
            case BF16 -> dotBF16(seg, off, deinterleave(x, xOff, n), n);
            case Q8_0 -> dotQ8_0(seg, off, x, xOff, n);
            case Q4_0 -> dotQ4_0(seg, off, x, xOff, n);
            case Q4_K -> dotQ4_K(seg, off, x, xOff, n, groupSums(x, xOff, n, 32));
            case Q6_K -> dotQ6_K(seg, off, x, xOff, n, groupSums(x, xOff, n, 16));
            default -> throw new UnsupportedOperationException("no dot product for " + type + " (supported: " + GGMLType.supportedList() + ")");
        };
    }

    /** Float dot of two arrays. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        int bound2 = n - n % (2 * L);
        for (; i < bound2; i += 2 * L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    static float dotF32(MemorySegment seg, long off, float[] x, int xOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        int bound2 = n - n % (2 * L);
        for (; i < bound2; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, seg, off + 4L * (i + L), LE).fma(FloatVector.fromArray(F, x, xOff + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += seg.get(Dequant.F32, off + 4L * i) * x[xOff + i];
        return s;
    }

    /**
     * {@code x[xOff .. xOff+n)} reordered for the 16-bit dots: each chunk of {@code 2L} elements becomes
     * its even-indexed elements followed by its odd-indexed ones, matching the two float vectors
     * obtained from {@code L} int lanes of packed halves (low half = even element, high half = odd).
     * A tail shorter than {@code 2L} keeps its order.
     */
    static float[] deinterleave(float[] x, int xOff, int n) {
        return deinterleave(x, xOff, n, new float[n]);
    }

    /** {@link #deinterleave(float[], int, int)} into {@code p} (at least {@code n} floats); returns {@code p}. */
    static float[] deinterleave(float[] x, int xOff, int n, float[] p) {
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            for (int j = 0; j < L; j++) {
                p[i + j] = x[xOff + i + 2 * j];
                p[i + L + j] = x[xOff + i + 2 * j + 1];
            }
        }
        System.arraycopy(x, xOff + i, p, i, n - i);
        return p;
    }

    /** BF16 row against a {@link #deinterleave deinterleaved} {@code xp}: a bf16 is the top half of a float. */
    static float dotBF16(MemorySegment seg, long off, float[] xp, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            IntVector h = IntVector.fromMemorySegment(I, seg, off + 2L * i, LE);
            FloatVector even = h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector odd = h.and(0xFFFF0000).reinterpretAsFloats();
            acc0 = even.fma(FloatVector.fromArray(F, xp, i), acc0);
            acc1 = odd.fma(FloatVector.fromArray(F, xp, i + L), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Dequant.bf16(seg.get(Dequant.I16, off + 2L * i)) * xp[i];
        return s;
    }

    /**
     * Half to float on int lanes holding a sign-extended half in bits 15..0 (bits 31..16 copies of
     * the sign): {@code (s << 13) & 0x8FFFE000} puts the sign at bit 31 and the half's exponent and
     * mantissa at bits 27..13, i.e. a float with the half's exponent field unbiased by 112, and the
     * multiplication by 2^112 rebiases it (sign kept). Three operations; exact for every finite half,
     * subnormals included (they become float denormals, scaled exactly); inf and NaN are not handled.
     */
    static FloatVector halfToFloat(IntVector s) {
        return halfToFloat(s, F16_MAGIC);
    }

    /**
     * {@link #halfToFloat} with another rebiasing factor: {@code 2^(112 - k)} for halves stored as the value
     * times {@code 2^k} (F16 panels, {@link dev.sluice.engine.tensor.Panels#F16_SHIFT}), exact as well.
     */
    static FloatVector halfToFloat(IntVector s, float magic) {
        return s.lanewise(VectorOperators.LSHL, 13).and(HALF_BITS).reinterpretAsFloats().mul(magic);
    }

    /** Sign and exponent-mantissa bit positions of a half moved up by 13 (see {@link #halfToFloat}). */
    private static final int HALF_BITS = 0x8FFFE000;

    /** The half in the high 16 bits of each int lane (see {@link #halfToFloat}): an arithmetic shift right by 3 lines it up. */
    static FloatVector highHalfToFloat(IntVector h) {
        return highHalfToFloat(h, F16_MAGIC);
    }

    /** {@link #highHalfToFloat} with the rebiasing factor {@code magic} (see {@link #halfToFloat(IntVector, float)}). */
    static FloatVector highHalfToFloat(IntVector h, float magic) {
        return h.lanewise(VectorOperators.ASHR, 3).and(HALF_BITS).reinterpretAsFloats().mul(magic);
    }

    /** The half in the low 16 bits of each int lane: moved to the high half first. */
    static FloatVector lowHalfToFloat(IntVector h) {
        return lowHalfToFloat(h, F16_MAGIC);
    }

    /** {@link #lowHalfToFloat} with the rebiasing factor {@code magic}. */
    static FloatVector lowHalfToFloat(IntVector h, float magic) {
        return highHalfToFloat(h.lanewise(VectorOperators.LSHL, 16), magic);
    }

    /** F16 row against a {@link #deinterleave deinterleaved} {@code xp}; four accumulators (two chunks of {@code 2L} per step) hide the FMA latency. */
    static float dotF16(MemorySegment seg, long off, float[] xp, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F), acc2 = FloatVector.zero(F), acc3 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 4 * L; i += 4 * L) {
            IntVector h = IntVector.fromMemorySegment(I, seg, off + 2L * i, LE);
            IntVector g = IntVector.fromMemorySegment(I, seg, off + 2L * (i + 2 * L), LE);
            acc0 = lowHalfToFloat(h).fma(FloatVector.fromArray(F, xp, i), acc0);
            acc1 = highHalfToFloat(h).fma(FloatVector.fromArray(F, xp, i + L), acc1);
            acc2 = lowHalfToFloat(g).fma(FloatVector.fromArray(F, xp, i + 2 * L), acc2);
            acc3 = highHalfToFloat(g).fma(FloatVector.fromArray(F, xp, i + 3 * L), acc3);
        }
        for (; i <= n - 2 * L; i += 2 * L) {
            IntVector h = IntVector.fromMemorySegment(I, seg, off + 2L * i, LE);
            acc0 = lowHalfToFloat(h).fma(FloatVector.fromArray(F, xp, i), acc0);
            acc1 = highHalfToFloat(h).fma(FloatVector.fromArray(F, xp, i + L), acc1);
        }
        float s = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Float.float16ToFloat(seg.get(Dequant.I16, off + 2L * i)) * xp[i];
        return s;
    }

    static float dotQ8_0(MemorySegment seg, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int parts = 32 / L;
        for (int b = 0; b < n / 32; b++, off += 34) {
            float d = Dequant.halfAt(seg, off);
            ByteVector q = ByteVector.fromMemorySegment(B32, seg, off + 2, LE);
            int xo = xOff + b * 32;
            FloatVector sum = ((FloatVector) q.castShape(F, 0)).mul(FloatVector.fromArray(F, x, xo));
            for (int p = 1; p < parts; p++) {
                sum = ((FloatVector) q.castShape(F, p)).fma(FloatVector.fromArray(F, x, xo + p * L), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ4_0(MemorySegment seg, long off, float[] x, int xOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int parts = 16 / L;
        for (int b = 0; b < n / 32; b++, off += 18) {
            float d = Dequant.halfAt(seg, off);
            ByteVector q = ByteVector.fromMemorySegment(B16, seg, off + 2, LE);
            int xo = xOff + b * 32;
            FloatVector sum = FloatVector.zero(F);
            for (int p = 0; p < parts; p++) {
                // nibble arithmetic on int lanes (x86 has no byte shifts); zero-extended, so the high nibble needs no mask
                IntVector qi = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                FloatVector lo = (FloatVector) qi.and(0x0F).sub(8).convert(VectorOperators.I2F, 0);
                FloatVector hi = (FloatVector) qi.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0);
                sum = lo.fma(FloatVector.fromArray(F, x, xo + p * L), sum);
                sum = hi.fma(FloatVector.fromArray(F, x, xo + 16 + p * L), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, d), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Sums of {@code x} over each group of {@code group} elements: the Q4_K offset term
     * {@code dmin*m*sum(x)} (groups of 32) and the Q6_K {@code -32} term (groups of 16) need only these.
     */
    static float[] groupSums(float[] x, int xOff, int n, int group) {
        return groupSums(x, xOff, n, group, new float[n / group]);
    }

    /** {@link #groupSums(float[], int, int, int)} into {@code sums} (at least {@code n / group} floats); returns {@code sums}. */
    static float[] groupSums(float[] x, int xOff, int n, int group, float[] sums) {
        for (int g = 0; g < n / group; g++) {
            FloatVector v = FloatVector.zero(F);
            int i = 0;
            for (; i <= group - L; i += L) v = v.add(FloatVector.fromArray(F, x, xOff + group * g + i));
            float s = v.reduceLanes(VectorOperators.ADD);
            for (; i < group; i++) s += x[xOff + group * g + i];
            sums[g] = s;
        }
        return sums;
    }

    /**
     * {@code get_scale_min_k4} for sub-block {@code j >= 4} from the 12 scale bytes held as a long
     * ({@code s0}: bytes 0-7) and an int ({@code s1}: bytes 8-11): the scale, or the min when {@code min}.
     */
    private static int scaleK4(int j, long s0, int s1, boolean min) {
        int qj4 = (s1 >>> (8 * (j - 4))) & 0xFF;         // byte j + 4
        if (min) return (qj4 >>> 4) | ((((int) (s0 >>> (8 * j)) & 0xFF) >>> 6) << 4);            // byte j
        return (qj4 & 0xF) | ((((int) (s0 >>> (8 * (j - 4))) & 0xFF) >>> 6) << 4);            // byte j - 4
    }

    /**
     * Q4_K: per 32-element sub-block {@code sum(w*x) = d*sc*sum(q*x) - dmin*m*sum(x)}; the first sum is
     * vectorized, the second uses {@link #groupSums} computed once per activation.
     */
    static float dotQ4_K(MemorySegment seg, long off, float[] x, int xOff, int n, float[] xsum) {
        FloatVector acc = FloatVector.zero(F);
        float offsets = 0f;
        int parts = 32 / L;
        for (int b = 0; b < n / 256; b++, off += 144) {
            float d = Dequant.halfAt(seg, off), dmin = Dequant.halfAt(seg, off + 2);
            // the 12 packed scale bytes, read once (get_scale_min_k4 for all 8 sub-blocks)
            long s0 = seg.get(LE_LONG, off + 4);
            int s1 = seg.get(LE_INT, off + 12);
            long qs = off + 16;
            int xb = xOff + b * 256;
            for (int jj = 0; jj < 4; jj++) {
                // sub-blocks 2jj (low nibbles) and 2jj+1 (high nibbles) share the 32 bytes qs[32jj ..]
                int scLo, mLo, scHi, mHi;
                if (jj < 2) {
                    scLo = (int) (s0 >>> (16 * jj)) & 63;
                    mLo = (int) (s0 >>> (16 * jj + 32)) & 63;
                    scHi = (int) (s0 >>> (16 * jj + 8)) & 63;
                    mHi = (int) (s0 >>> (16 * jj + 40)) & 63;
                } else {
                    scLo = scaleK4(2 * jj, s0, s1, false);
                    mLo = scaleK4(2 * jj, s0, s1, true);
                    scHi = scaleK4(2 * jj + 1, s0, s1, false);
                    mHi = scaleK4(2 * jj + 1, s0, s1, true);
                }
                offsets += dmin * mLo * xsum[b * 8 + 2 * jj] + dmin * mHi * xsum[b * 8 + 2 * jj + 1];
                ByteVector q = ByteVector.fromMemorySegment(B32, seg, qs + 32L * jj, LE);
                int x0 = xb + 64 * jj, x1 = x0 + 32;
                FloatVector qxLo = FloatVector.zero(F), qxHi = FloatVector.zero(F);
                for (int p = 0; p < parts; p++) {
                    IntVector qi = (IntVector) q.castShape(I, p);
                    qxLo = ((FloatVector) qi.and(0x0F).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, x0 + p * L), qxLo);
                    qxHi = ((FloatVector) qi.lanewise(VectorOperators.ASHR, 4).and(0x0F).convert(VectorOperators.I2F, 0))
                            .fma(FloatVector.fromArray(F, x, x1 + p * L), qxHi);
                }
                acc = qxLo.fma(FloatVector.broadcast(F, d * scLo), acc);
                acc = qxHi.fma(FloatVector.broadcast(F, d * scHi), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) - offsets;
    }

    /**
     * Q6_K: {@code sum(d*sc*(q-32)*x) = sum(d*sc*q*x) - 32*d*sum_g(sc_g * sum(x in group g))} over the
     * 16 groups of 16 of a block; the first sum is vectorized on unsigned 6-bit quants, the second
     * uses {@link #groupSums} of 16 computed once per activation.
     */
    static float dotQ6_K(MemorySegment seg, long off, float[] x, int xOff, int n, float[] xsum16) {
        FloatVector acc = FloatVector.zero(F);
        float offsets = 0f;
        float[] ds = Scratch.floats(Scratch.Q6K_SCALES, 16);
        for (int b = 0; b < n / 256; b++, off += 210) {
            float d = Dequant.halfAt(seg, off + 208);
            float groupTerm = 0f;
            for (int g = 0; g < 16; g++) {
                ds[g] = d * seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + 192 + g);
                groupTerm += ds[g] * xsum16[b * 16 + g];
            }
            offsets += 32 * groupTerm;
            long ql = off, qh = off + 128;
            int y = xOff + b * 256;
            for (int half = 0; half < 2; half++) {
                for (int l0 = 0; l0 < 32; l0 += L) {
                    int is = 8 * half + l0 / 16;
                    IntVector qa = (IntVector) ByteVector.fromMemorySegment(BL, seg, ql + l0, LE).castShape(I, 0);
                    IntVector qb = (IntVector) ByteVector.fromMemorySegment(BL, seg, ql + 32 + l0, LE).castShape(I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(BL, seg, qh + l0, LE).castShape(I, 0);
                    // bytes were sign-extended: mask every field after shifting
                    FloatVector q1 = (FloatVector) qa.and(0x0F).or(h.and(3).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
                    FloatVector q2 = (FloatVector) qb.and(0x0F).or(h.lanewise(VectorOperators.ASHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
                    FloatVector q3 = (FloatVector) qa.lanewise(VectorOperators.ASHR, 4).and(0x0F).or(h.lanewise(VectorOperators.ASHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
                    FloatVector q4 = (FloatVector) qb.lanewise(VectorOperators.ASHR, 4).and(0x0F).or(h.lanewise(VectorOperators.ASHR, 6).and(3).lanewise(VectorOperators.LSHL, 4)).convert(VectorOperators.I2F, 0);
                    acc = q1.mul(ds[is]).fma(FloatVector.fromArray(F, x, y + l0), acc);
                    acc = q2.mul(ds[is + 2]).fma(FloatVector.fromArray(F, x, y + l0 + 32), acc);
                    acc = q3.mul(ds[is + 4]).fma(FloatVector.fromArray(F, x, y + l0 + 64), acc);
                    acc = q4.mul(ds[is + 6]).fma(FloatVector.fromArray(F, x, y + l0 + 96), acc);
                }
                y += 128;
                ql += 64;
                qh += 32;
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) - offsets;
    }

    // ---------------------------------------------------------------- element-wise

    @Override
    public void rmsnorm(float[] out, float[] x, float[] weight, int size, int n, float eps) {
        for (int t = 0; t < n; t++) {
            int o = t * size;
            float ss = dot(x, o, x, o, size);
            float inv = (float) (1.0 / Math.sqrt(ss / size + eps));
            int i = 0;
            for (; i <= size - L; i += L) {
                FloatVector.fromArray(F, x, o + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, o + i);
            }
            for (; i < size; i++) out[o + i] = weight[i] * (x[o + i] * inv);
        }
    }

    @Override
    public void rope(float[] x, int off, int nHeads, int pos, RopeTable table) {
        int headDim = table.headDim, half = headDim / 2;
        int base = pos * half;
        float[] cos = table.cos, sin = table.sin;
        for (int h = 0; h < nHeads; h++) {
            int o = off + h * headDim;
            int i = 0;
            if (table.neox) {
                for (; i <= half - L; i += L) {
                    FloatVector c = FloatVector.fromArray(F, cos, base + i), s = FloatVector.fromArray(F, sin, base + i);
                    FloatVector x0 = FloatVector.fromArray(F, x, o + i), x1 = FloatVector.fromArray(F, x, o + i + half);
                    x0.mul(c).sub(x1.mul(s)).intoArray(x, o + i);
                    x0.mul(s).add(x1.mul(c)).intoArray(x, o + i + half);
                }
            }
            for (; i < half; i++) {
                float c = cos[base + i], s = sin[base + i];
                int i0 = table.neox ? o + i : o + 2 * i;
                int i1 = table.neox ? o + i + half : o + 2 * i + 1;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * c - x1 * s;
                x[i1] = x0 * s + x1 * c;
            }
        }
    }

    @Override
    public void softmax(float[] x, int off, int size) {
        // a plain max: inlined into the attention lambda, C2 left a vector max loop here on the Java
        // fallback, which allocated a vector per element block (JFR, decode); the scores are short
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) max = Math.max(max, x[off + i]);
        float sum = exp(x, off, size, 1f, max, x, off);
        float inv = 1f / sum;
        int i = 0;
        for (; i <= size - L; i += L) FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
        for (; i < size; i++) x[off + i] *= inv;
    }

    /** Below this {@code exp(x)} is 0 in float (the smallest denormal is about {@code e^-103.3}); returned as 0. */
    private static final float EXP_LO = -103.9f;
    /** Above this {@code exp(x)} overflows; clamped here (about 3.4e38) as the polynomial's range ends. */
    private static final float EXP_HI = 88.72f;

    /**
     * {@code dst[dstOff + i] = e^(scale * x[off + i] - shift)} for {@code i < n}; returns their sum.
     * Within 2 ulp of {@link Math#exp} for normal results (Cephes {@code expf}, as llama.cpp's
     * {@code ggml_v_expf}): {@code y = k ln2 + r} with {@code k = round(y / ln2)} and {@code |r| <= ln2/2}
     * (ln2 split in two for an exact {@code r}), {@code e^r} by a degree-6 polynomial, times {@code 2^k}
     * built in the exponent bits (in two halves, so that results down to the denormals are right); the
     * tail uses {@link Math#exp}, the scalar twin. Written out instead of {@code lanewise(EXP)}, whose
     * Java fallback allocates, and over arrays rather than as a vector-to-vector helper: C2 declined to
     * inline such a helper (too large, 263 bytecodes) and, compiled on its own, its vectors lost their
     * exact type and ran the allocating fallback (seen in JFR on the decode path).
     */
    static float exp(float[] x, int off, int n, float scale, float shift, float[] dst, int dstOff) {
        FloatVector sum = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector y = FloatVector.fromArray(F, x, off + i).mul(scale).sub(shift);
            FloatVector yc = y.max(EXP_LO).min(EXP_HI);
            // k = round(y * log2(e)): adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits
            FloatVector t = yc.fma(1.44269504088896341f, 12582912f);
            FloatVector k = t.sub(12582912f);
            FloatVector r = k.fma(FloatVector.broadcast(F, -0.693359375f), yc).add(k.mul(2.12194440e-4f));
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
            p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
            p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
            p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
            FloatVector er = p.mul(r).fma(r, r).add(1f);
            // 2^k = 2^(k/2) * 2^(k - k/2): each factor a normal float for k in [-150, 128]
            IntVector ki = t.reinterpretAsInts().sub(0x4B400000);
            IntVector k1 = ki.lanewise(VectorOperators.ASHR, 1), k2 = ki.sub(k1);
            FloatVector s1 = k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector s2 = k2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector e = er.mul(s1).mul(s2).blend(0f, y.compare(VectorOperators.LT, EXP_LO));
            e.intoArray(dst, dstOff + i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) total += dst[dstOff + i] = (float) Math.exp(scale * x[off + i] - shift);
        return total;
    }

    /** Elements of {@link #swiglu} per {@code exp} pass: an L1-sized scratch of {@code exp(-gate)}. */
    private static final int SWIGLU_CHUNK = 1024;

    @Override
    public void swiglu(float[] gate, float[] up, int size) {
        float[] e = Scratch.floats(Scratch.EXP, SWIGLU_CHUNK);
        for (int c = 0; c < size; c += SWIGLU_CHUNK) {
            int len = Math.min(SWIGLU_CHUNK, size - c);
            exp(gate, c, len, -1f, 0f, e, 0);     // e = exp(-g)
            int i = 0;
            for (; i <= len - L; i += L) {
                FloatVector g = FloatVector.fromArray(F, gate, c + i);
                g.div(FloatVector.fromArray(F, e, i).add(1f)).mul(FloatVector.fromArray(F, up, c + i)).intoArray(gate, c + i);
            }
            for (; i < len; i++) gate[c + i] = gate[c + i] / (1f + e[i]) * up[c + i];
        }
    }

    @Override
    public void add(float[] x, float[] y, int size) {
        int i = 0;
        for (; i <= size - L; i += L) FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, y, i)).intoArray(x, i);
        for (; i < size; i++) x[i] += y[i];
    }

    // ---------------------------------------------------------------- attention

    @Override
    public void attention(float[] q, float[] out, int nTokens, int startPos, float[] k, float[] v,
                          int nHeads, int nKvHeads, int headDim, int window) {
        int group = nHeads / nKvHeads, qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Parallel.forRange(nTokens * nHeads, 1, (from, to) -> {
            float[] att = Scratch.floats(Scratch.SCORES, startPos + nTokens);
            for (int th = from; th < to; th++) {
                int t = th / nHeads, h = th % nHeads;
                int pos = startPos + t;
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int qo = t * qDim + h * headDim, kvo = (h / group) * headDim;
                int len = pos - first + 1;
                for (int j = first; j <= pos; j++) att[j - first] = dot(q, qo, k, j * kvDim + kvo, headDim) * scale;
                softmax(att, 0, len);
                int oo = t * qDim + h * headDim;
                int d = 0;
                for (; d <= headDim - L; d += L) {
                    FloatVector acc = FloatVector.zero(F);
                    for (int j = first; j <= pos; j++) {
                        acc = FloatVector.fromArray(F, v, j * kvDim + kvo + d).fma(FloatVector.broadcast(F, att[j - first]), acc);
                    }
                    acc.intoArray(out, oo + d);
                }
                for (; d < headDim; d++) {
                    float s = 0f;
                    for (int j = first; j <= pos; j++) s += att[j - first] * v[j * kvDim + kvo + d];
                    out[oo + d] = s;
                }
            }
        });
    }
}
