package dev.sluice.engine.kernels;

/**
 * Per-thread reusable buffers of the CPU kernels, so that a forward step allocates nothing
 * (issue 3: no allocation on the hot path).
 *
 * <p>Design note: each thread (the caller and every {@link Parallel} worker) owns a few numbered
 * slots; a slot grows to the largest size asked of it and is then reused. A slot's contents are
 * valid only until its next use on the same thread, so a kernel takes a slot for the duration of
 * one call and never across a call that may take the same slot: the slots in use are listed below,
 * one owner each. Memory held: the largest request per slot per thread (e.g. a score row of the
 * longest context attended, a 4-row k-block tile).
 */
public final class Scratch {
    private Scratch() {}

    /** {@link VectorKernels} single-vector matmul: the activation deinterleaved for F16/BF16 (caller thread). */
    public static final int DEINTERLEAVED = 0;
    /** Attention score rows: one (token, head) pair's ({@link VectorKernels#attention}), the heads of one (token, kv head) unit ({@code PagedAttention}). */
    public static final int SCORES = 1;
    /** A row dequantized to floats (types without an in-register dot). */
    public static final int ROW = 2;
    /** Q4_K: sums of the activation per 32 (caller thread). */
    public static final int GROUP_SUMS_32 = 3;
    /** Q6_K: sums of the activation per 16 (caller thread). */
    public static final int GROUP_SUMS_16 = 4;
    /** Q6_K: the 16 group scales of one block. */
    public static final int Q6K_SCALES = 5;
    /** {@link VectorKernels} batched matmul: one row tile dequantized to floats (4 rows x the row length). */
    public static final int GEMM_TILE = 6;
    /** {@link VectorKernels#swiglu}: {@code exp(-gate)} of one chunk. */
    public static final int EXP = 7;
    /** Batched matmul, caller thread: {@link VectorKernels}' input vectors at a cache-line offset (only with 64-byte object alignment); {@link PanelKernels}' transposed token block. */
    public static final int GEMM_X = 8;
    /** {@link PanelKernels}' GEMM on long token blocks: one panel decoded to floats (16 rows x the row length). */
    public static final int PANEL_FLOATS = 9;
    private static final int SLOTS = 10;

    /** Int slot: {@code PagedAttention}'s offsets of the attended positions' value rows, one token at a time. */
    public static final int KV_OFFSETS = 0;
    /** The panel GEMM's gather indices (16 ints). */
    public static final int GATHER_INDEX = 1;
    private static final int INT_SLOTS = 2;

    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[SLOTS][]);
    private static final ThreadLocal<int[][]> INT_BUFFERS = ThreadLocal.withInitial(() -> new int[INT_SLOTS][]);

    /** At least {@code n} floats of this thread's {@code slot}; contents are left from the last use. */
    public static float[] floats(int slot, int n) {
        float[][] b = BUFFERS.get();
        float[] a = b[slot];
        if (a == null || a.length < n) b[slot] = a = new float[Math.max(n, a == null ? 0 : a.length + (a.length >> 1))];
        return a;
    }

    /** At least {@code n} ints of this thread's int {@code slot}; contents are left from the last use. */
    public static int[] ints(int slot, int n) {
        int[][] b = INT_BUFFERS.get();
        int[] a = b[slot];
        if (a == null || a.length < n) b[slot] = a = new int[Math.max(n, a == null ? 0 : a.length + (a.length >> 1))];
        return a;
    }
}
