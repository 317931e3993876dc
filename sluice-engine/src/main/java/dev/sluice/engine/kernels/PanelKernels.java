package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Panels;
import dev.sluice.engine.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.sluice.engine.tensor.Panels.ROWS;
import static dev.sluice.engine.tensor.Panels.SCALE_BYTES;

/**
 * Matmuls of Q8_0, Q4_0 and F16 matrices in the {@link Panels} layout. {@link VectorKernels} repacks such
 * matrices at load ({@link VectorKernels#prepare}) when its vectors have 16 float lanes (AVX-512: a lane per row
 * of a 16-row panel) or 8 (AVX2: a vector per half panel, 8 rows), and sends their matmuls here. The register
 * tiles and single-vector kernels of both widths are generated into {@link PanelTiles}
 * ({@code tools/gen-panel-tiles.py}); every lane is the same chain of operations at both widths, so the two give
 * the same bits.
 *
 * <p><b>Batched ({@code n >= 2}): outer products.</b> The input vectors of a token block are transposed
 * once per call into {@code xt} (column-major: the block's 16 values of column {@code k} side by side). A
 * register tile holds, for one panel, one accumulator per input vector (16, 8, 4, 2 or 1 of them), its lanes
 * the panel's 16 rows. For each column it decodes the panel's 16 weights in registers (one 128-bit load,
 * a widening, a conversion and a multiply or FMA by the scales; F16: one 256-bit load, a widening and the
 * half-to-float bit conversion) and adds them times each input vector's
 * broadcast value of that column. The weights are read once per token block, straight from the repacked
 * bytes; there is no dequantized copy in memory and no lane reduction; the accumulators are the outputs.
 * The activations stream from L1/L2 at one cache line per column. Long token blocks (prefill; see
 * {@link #decodedMin}) instead decode each panel once into a per-thread float copy and run float tiles on it,
 * the same values in the same order.
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

    static final int Q8_BLOCK = Panels.blockBytes(GGMLType.Q8_0);
    static final int Q4_BLOCK = Panels.blockBytes(GGMLType.Q4_0);
    static final int F16_BLOCK = Panels.blockBytes(GGMLType.F16);
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
                    "[ { match: \"" + PanelTiles.class.getName().replace('.', '/') + ".tile*\", c1: { Exclude: true } } ]");
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

    /** Whether these kernels can run here: 16 float lanes (512-bit tiles) or 8 (AVX2: 256-bit tiles on half panels). */
    static boolean available() {
        return VectorKernels.L == 16 || VectorKernels.L == 8;
    }

    /** {@code outs[i] = ws[i] x} for {@code n} vectors of {@code cols}; every {@code ws[i]} is a panel tensor. */
    static void matmul(Tensor[] ws, float[] x, float[][] outs, int n, int cols) {
        matmul(ws, x, outs, n, cols, VectorKernels.L);
    }

    /**
     * As {@link #matmul(Tensor[], float[], float[][], int, int)}, with the 512-bit ({@code lanes} 16) or the
     * 256-bit ({@code lanes} 8) kernels, whatever this machine's vectors (tests run both; each lane's chain is the
     * same at both widths, so are the bits).
     */
    static void matmul(Tensor[] ws, float[] x, float[][] outs, int n, int cols, int lanes) {
        if (lanes != 16 && lanes != 8) throw new IllegalArgumentException("panel kernels have 16 or 8 lanes, not " + lanes);
        int[] panelStart = new int[ws.length + 1];
        for (int i = 0; i < ws.length; i++) panelStart[i + 1] = panelStart[i] + Panels.panels(ws[i].rows());
        if (n == 1) matvec(ws, x, outs, cols, panelStart, lanes == 8);
        else gemm(ws, x, outs, n, cols, panelStart, lanes == 8);
    }

    private static void matvec(Tensor[] ws, float[] x, float[][] outs, int cols, int[] panelStart, boolean half) {
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
            MemorySegment seg = w.data();
            float[] out = outs[i];
            for (int p = a - panelStart[i]; p < b - panelStart[i]; p++) {
                int r0 = p * ROWS, valid = Math.min(ROWS, rows - r0);
                long off = Panels.blockOffset(type, cols, p, 0);
                if (half && type == GGMLType.F16) {
                    PanelTiles.dotF16H(seg, off, nb, x, out, r0, valid);
                } else if (half) {
                    for (int hr = 0; hr < valid; hr += 8) {
                        if (type == GGMLType.Q4_0) PanelTiles.dotQ4H(seg, off, nb, x, xs8, out, r0 + hr, valid - hr, hr);
                        else PanelTiles.dotQ8H(seg, off, nb, x, out, r0 + hr, valid - hr, hr);
                    }
                } else {
                    switch (type) {
                        case Q4_0 -> PanelTiles.dotQ4(seg, off, nb, x, xs8, out, r0, valid);
                        case Q8_0 -> PanelTiles.dotQ8(seg, off, nb, x, out, r0, valid);
                        default -> PanelTiles.dotF16(seg, off, nb, x, out, r0, valid);
                    }
                }
            }
        }));
    }

    /**
     * The batched matmul ({@code n >= 2}): the input vectors transposed in token blocks that stay in L2 (see
     * {@link #transpose}), and for each panel of a task and each 16-vector block, its register tiles
     * ({@link #tiles}, or {@link #tilesH} with 8 lanes).
     */
    private static void gemm(Tensor[] ws, float[] x, float[][] outs, int n, int cols, int[] panelStart, boolean half) {
        int nb = cols / 32;
        // 256 bits: twice the block (1 MiB of activations), since the decoded panel is what the float tiles reread
        // (ffn_down's 4864 columns: 48 vectors per block instead of 16, 69-72 -> 83-85 GFLOP/s single-thread)
        int tBlock = Math.max(X_STRIDE, (half ? 2 * T_BLOCK_BYTES : T_BLOCK_BYTES) / (4 * cols) / X_STRIDE * X_STRIDE);
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
                // a block of many vectors: each panel decoded once into floats, then float tiles (see decodedMin)
                float[] wf = tEnd - first >= decodedMin(type, half) ? Scratch.floats(Scratch.PANEL_FLOATS, nb * 32 * ROWS) : null;
                for (int p = a - panelStart[i]; p < b - panelStart[i]; p++) {
                    int r0 = p * ROWS, valid = Math.min(ROWS, rows - r0);
                    long off = Panels.blockOffset(type, cols, p, 0);
                    if (wf != null) {
                        switch (type) {
                            case Q4_0 -> { if (half) PanelTiles.decodeQ4H(seg, off, nb, wf); else PanelTiles.decodeQ4(seg, off, nb, wf); }
                            case Q8_0 -> { if (half) PanelTiles.decodeQ8H(seg, off, nb, wf); else PanelTiles.decodeQ8(seg, off, nb, wf); }
                            default -> { if (half) PanelTiles.decodeF16H(seg, off, nb, wf); else PanelTiles.decodeF16(seg, off, nb, wf); }
                        }
                        for (int s = first; s < tEnd; s += X_STRIDE) {
                            int xOff = (s - first) * cols, nt = Math.min(X_STRIDE, tEnd - s), oOff = s * rows + r0;
                            if (half) decodedTilesH(wf, nb, type == GGMLType.Q4_0, xt, xOff, nt, out, oOff, rows, valid);
                            else decodedTiles(wf, nb, type == GGMLType.Q4_0, xt, xOff, nt, out, oOff, rows, valid);
                        }
                        continue;
                    }
                    // 512 bits: with the next panel of this matrix, if this task has it: pair tiles for the last < 8
                    // vectors (not Q4_0, which has none: its two-panel tiles ran past C2's inlining budget)
                    int valid2 = !half && type != GGMLType.Q4_0 && p + 1 < b - panelStart[i] ? Math.min(ROWS, rows - r0 - ROWS) : 0;
                    for (int s = first; s < tEnd; s += X_STRIDE) {
                        int xOff = (s - first) * cols, nt = Math.min(X_STRIDE, tEnd - s), oOff = s * rows + r0;
                        if (half) tilesH(seg, off, nb, type, xt, xOff, nt, out, oOff, rows, valid);
                        else tiles(seg, off, nb, type, xt, xOff, nt, out, oOff, rows, valid, valid2);
                    }
                    if (valid2 > 0) p++;
                }
            }));
        }
    }

    /**
     * Vectors {@code [t0, tEnd)} of {@code x} into {@code xt}: blocks of 16 vectors, each column-major
     * ({@code xt[block + k * 16 + u]}), gathered a vector's lanes at a time per column. In a last block of
     * {@code nt < 16} vectors, lanes from {@code nt} on repeat its last vector (never read by the tiles).
     */
    static void transpose(float[] x, int cols, int t0, int tEnd, float[] xt) {
        VectorSpecies<Float> sp = VectorKernels.F;
        int[] index = Scratch.ints(Scratch.GATHER_INDEX, X_STRIDE);
        for (int s = t0; s < tEnd; s += X_STRIDE) {
            int base = (s - t0) * cols, nt = Math.min(X_STRIDE, tEnd - s);
            for (int u = 0; u < X_STRIDE; u++) index[u] = Math.min(u, nt - 1) * cols;
            for (int k = 0; k < cols; k++) {
                for (int u = 0; u < X_STRIDE; u += sp.length()) FloatVector.fromArray(sp, x, s * cols + k, index, u).intoArray(xt, base + k * X_STRIDE + u);
            }
        }
    }

    /**
     * Vectors per token block from which the GEMM decodes each panel once into floats ({@code PanelTiles.decode*})
     * and runs float tiles on them ({@link #decodedTiles}, {@link #decodedTilesH}), rather than decoding in the
     * register tiles for every 16 (512 bits) or 8 (256 bits) vectors. At 256 bits, with 16 registers, a register tile decoding in the loop holds 8
     * accumulators at most and spends 5 of every 21 vector operations on decoding; the float tiles (4 vectors x
     * 16 rows) are FMAs and loads only. Single-thread AVX2 (2.8 GHz Xeon, UseAVX=2), 4864 x 896, 128 vectors:
     * Q4_0 72 -> 90, Q8_0 69 -> 88, F16 59 -> 93 GFLOP/s; 16 vectors 71/69/57 -> 74/68/72. In the engine at
     * batch 16 (two threads), Q4_0 measured 125 against 134 tok/s on the register tiles (its separate decoding
     * pass, 23% of the samples, costs more than the tiles' own), so Q4_0 decodes from 32 vectors (prefill) and
     * Q8_0 and F16 from 16 (F16 at batch 16: 95 -> 110 tok/s). At 512 bits (32 registers: the register tiles hold
     * 16 accumulators, so decoding is a smaller share) the decoded panels and 16-vector float tiles pay only with
     * long blocks: single-thread, 128 vectors of width 896 (one 144-vector block), Q4_0 135 -> 155, Q8_0 144 ->
     * 154, F16 134 -> 169 GFLOP/s, but 16-vector blocks of width 4864 lost 25-30% and 48-vector ones about 5%;
     * so from 64 vectors (prefill of the 896-wide matrices; engine prefill Q8_0 +8%, Q4_0 and F16 within the noise).
     */
    static int decodedMin(GGMLType type, boolean half) {
        if (!half) return 64;
        return type == GGMLType.Q4_0 ? 32 : 16;
    }

    /**
     * 512 bits: a decoded panel ({@code wf}) against {@code nt <= 16} input vectors of a transposed block, in float
     * tiles of 16, 8, 4, 2 and 1 vectors. Each lane's chain is the register tiles' (the same weights, the same
     * column order), so the bits are the same either way.
     */
    private static void decodedTiles(float[] wf, int nb, boolean q4, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid) {
        int u = 0;
        if (q4) {
            if (nt - u >= 16) { PanelTiles.tileF16Q4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 16; }
            if (nt - u >= 8) { PanelTiles.tileF8Q4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 8; }
            if (nt - u >= 4) { PanelTiles.tileF4Q4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { PanelTiles.tileF2Q4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tileF1Q4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            if (nt - u >= 16) { PanelTiles.tileF16(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 16; }
            if (nt - u >= 8) { PanelTiles.tileF8(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 8; }
            if (nt - u >= 4) { PanelTiles.tileF4(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { PanelTiles.tileF2(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tileF1(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
    }

    /** {@link #decodedTiles} at 256 bits: float tiles of 4, 2 and 1 vectors over both halves (8 accumulators at most). */
    private static void decodedTilesH(float[] wf, int nb, boolean q4, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid) {
        int u = 0;
        if (q4) {
            for (; nt - u >= 4; u += 4) PanelTiles.tileF4Q4H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            if (nt - u >= 2) { PanelTiles.tileF2Q4H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tileF1Q4H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            for (; nt - u >= 4; u += 4) PanelTiles.tileF4H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            if (nt - u >= 2) { PanelTiles.tileF2H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tileF1H(wf, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
    }

    /**
     * 256 bits (AVX2): one panel against {@code nt <= 16} input vectors of a transposed block (from
     * {@code xOff}): 8-vector tiles on each 8-row half (8 accumulators, the most that 16 registers hold beside
     * the decoding), then the last vectors in tiles of 4, 2 and 1 over both halves at once (twice the FMA
     * chains). A half with no valid row is skipped. Each output's lane chain is the same as at 512 bits.
     */
    private static void tilesH(MemorySegment seg, long off, int nb, GGMLType type, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid) {
        int full = nt & ~7;
        for (int hr = 0; hr < valid; hr += 8) {
            int v = valid - hr;
            for (int u = 0; u < full; u += 8) {
                switch (type) {
                    case Q4_0 -> PanelTiles.tile8Q4H(seg, off, nb, xt, xOff + u, out, oOff + u * rows + hr, rows, v, hr);
                    case Q8_0 -> PanelTiles.tile8Q8H(seg, off, nb, xt, xOff + u, out, oOff + u * rows + hr, rows, v, hr);
                    default -> PanelTiles.tile8F16H(seg, off, nb, xt, xOff + u, out, oOff + u * rows + hr, rows, v, hr);
                }
            }
        }
        int u = full, v2 = valid - 8;
        if (type == GGMLType.F16) {
            if (nt - u >= 4) { PanelTiles.tile4x2F16H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2); u += 4; }
            if (nt - u >= 2) { PanelTiles.tile2x2F16H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2); u += 2; }
            if (nt - u >= 1) PanelTiles.tile1x2F16H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2);
        } else if (type == GGMLType.Q4_0) { // no pair tiles (past C2's inlining budget): each half alone
            for (int hr = 0; hr < valid; hr += 8) {
                int k = u, v = valid - hr;
                if (nt - k >= 4) { PanelTiles.tile4Q4H(seg, off, nb, xt, xOff + k, out, oOff + k * rows + hr, rows, v, hr); k += 4; }
                if (nt - k >= 2) { PanelTiles.tile2Q4H(seg, off, nb, xt, xOff + k, out, oOff + k * rows + hr, rows, v, hr); k += 2; }
                if (nt - k >= 1) PanelTiles.tile1Q4H(seg, off, nb, xt, xOff + k, out, oOff + k * rows + hr, rows, v, hr);
            }
        } else {
            if (nt - u >= 4) { PanelTiles.tile4x2Q8H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2); u += 4; }
            if (nt - u >= 2) { PanelTiles.tile2x2Q8H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2); u += 2; }
            if (nt - u >= 1) PanelTiles.tile1x2Q8H(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, v2);
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
                if (nt - u >= 4) { PanelTiles.tile4x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 4; }
                if (nt - u >= 2) { PanelTiles.tile2x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 2; }
                if (nt - u >= 1) PanelTiles.tile1x2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2);
            } else {
                if (nt - u >= 4) { PanelTiles.tile4x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 4; }
                if (nt - u >= 2) { PanelTiles.tile2x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2); u += 2; }
                if (nt - u >= 1) PanelTiles.tile1x2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid, valid2);
            }
            return;
        }
        if (type == GGMLType.F16) {
            if (nt - u >= 4) { PanelTiles.tile4F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { PanelTiles.tile2F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tile1F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else if (type == GGMLType.Q4_0) {
            if (nt - u >= 4) { PanelTiles.tile4Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { PanelTiles.tile2Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tile1Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            if (nt - u >= 4) { PanelTiles.tile4Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 4; }
            if (nt - u >= 2) { PanelTiles.tile2Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid); u += 2; }
            if (nt - u >= 1) PanelTiles.tile1Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
    }

    /** The 16- and 8-vector tiles of one panel; returns the vectors done (a multiple of 8). */
    private static int wide(MemorySegment seg, long off, int nb, GGMLType type, float[] xt, int xOff, int nt, float[] out, int oOff, int rows, int valid) {
        int u = 0;
        if (type == GGMLType.F16) {
            for (; WIDE && nt - u >= 16; u += 16) PanelTiles.tile16F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) PanelTiles.tile8F16(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else if (type == GGMLType.Q4_0) {
            for (; WIDE && nt - u >= 16; u += 16) PanelTiles.tile16Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) PanelTiles.tile8Q4(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        } else {
            for (; WIDE && nt - u >= 16; u += 16) PanelTiles.tile16Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
            for (; nt - u >= 8; u += 8) PanelTiles.tile8Q8(seg, off, nb, xt, xOff + u, out, oOff + u * rows, rows, valid);
        }
        return u;
    }
}
