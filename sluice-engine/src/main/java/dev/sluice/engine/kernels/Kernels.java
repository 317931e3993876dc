package dev.sluice.engine.kernels;

import dev.sluice.engine.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compute kernels of the CPU forward pass. Activations are row-major {@code float[]}; weights
 * are {@link Tensor}s of any {@link dev.sluice.engine.tensor.GGMLType#SUPPORTED supported} type,
 * read in place from their (usually memory-mapped) segment.
 *
 * <p>Two implementations: {@link ScalarKernels}, plain Java that reads like the math and is the
 * reference, and {@link VectorKernels}, which uses the incubating Vector API. Tests hold every
 * vector kernel to its scalar twin. {@link #create()} picks one from the system property
 * {@value #BACKEND_PROPERTY} ({@code cpu-vector}, the default, or {@code cpu-scalar}) and logs the
 * choice; when the {@code jdk.incubator.vector} module is missing it falls back to scalar and says
 * so. Implementations are stateless and thread-safe; large kernels split their work over
 * {@link Parallel}.
 */
public interface Kernels {

    /** System property that selects the backend: {@code cpu-vector} (default) or {@code cpu-scalar}. */
    String BACKEND_PROPERTY = "sluice.backend";

    /** Backend name, e.g. {@code cpu-vector}. */
    String name();

    /**
     * Batched matrix-vector product: for each of the {@code n} input vectors {@code x[t*cols ..]},
     * {@code out[t*rows + r] = dot(W row r, x[t])}, where {@code rows = w.rows()} and {@code cols = w.cols()}.
     */
    void matmul(Tensor w, float[] x, float[] out, int n);

    /**
     * {@link #matmul(Tensor, float[], float[], int)} of several matrices with the same input (e.g. the
     * Q, K and V projections): {@code outs[i]} receives {@code ws[i] x}. All matrices have the same
     * column count. Implementations may run them as one parallel job; every output element equals
     * what the single-matrix call computes.
     */
    default void matmul(Tensor[] ws, float[] x, float[][] outs, int n) {
        if (ws.length != outs.length) throw new IllegalArgumentException(ws.length + " matrices but " + outs.length + " outputs");
        for (int i = 0; i < ws.length; i++) matmul(ws[i], x, outs[i], n);
    }

    /** {@link #matmul(Tensor, float[], float[], int)} for one vector. */
    default void matvec(Tensor w, float[] x, float[] out) {
        matmul(w, x, out, 1);
    }

    /**
     * {@code w} in the layout this backend's matmuls read fastest, holding the same values: called once per
     * weight matrix at load (the {@link dev.sluice.engine.runtime.Transformer} does). The default keeps the
     * file's layout; {@link VectorKernels} repacks Q8_0, Q4_0 and F16 matrices into
     * {@link dev.sluice.engine.tensor.Panels}. Every backend accepts tensors of either layout.
     */
    default Tensor prepare(Tensor w) {
        return w;
    }

    /** Dot product of row {@code row} of {@code w} with {@code x[xOff .. xOff + w.cols())}. */
    float dot(Tensor w, int row, float[] x, int xOff);

    /**
     * RMSNorm: {@code out[i] = weight[i] * x[i] / sqrt(mean(x^2) + eps)} over {@code size} elements,
     * for {@code n} consecutive vectors (stride {@code size}). {@code out} may be {@code x}.
     */
    void rmsnorm(float[] out, float[] x, float[] weight, int size, int n, float eps);

    /**
     * Rotates, in place, {@code nHeads} heads of {@code table.headDim} floats at
     * {@code x[off ..]} by the angles of position {@code pos}.
     */
    void rope(float[] x, int off, int nHeads, int pos, RopeTable table);

    /** In-place softmax of {@code x[off .. off + size)}. */
    void softmax(float[] x, int off, int size);

    /** SwiGLU: {@code gate[i] = silu(gate[i]) * up[i]} for {@code i < size}, where {@code silu(g) = g / (1 + e^-g)}. */
    void swiglu(float[] gate, float[] up, int size);

    /**
     * Causal grouped-query attention of {@code nTokens} queries at positions
     * {@code startPos .. startPos + nTokens - 1} over a KV cache holding keys and values for positions
     * {@code 0 .. startPos + nTokens - 1}.
     *
     * <p>{@code q} and {@code out} are {@code [nTokens][nHeads * headDim]}; {@code k} and {@code v} are
     * {@code [position][nKvHeads * headDim]}. Query head {@code h} reads kv head {@code h / (nHeads / nKvHeads)}.
     * Token at position {@code p} attends to positions {@code j <= p} with {@code p - j < window}
     * ({@code window <= 0}: no window). Scores are scaled by {@code 1 / sqrt(headDim)}.
     */
    void attention(float[] q, float[] out, int nTokens, int startPos, float[] k, float[] v,
                   int nHeads, int nKvHeads, int headDim, int window);

    /** Element-wise {@code x[i] += y[i]} for {@code i < size}. */
    default void add(float[] x, float[] y, int size) {
        for (int i = 0; i < size; i++) x[i] += y[i];
    }

    /** The backend named by {@value #BACKEND_PROPERTY}; see the class note. */
    static Kernels create() {
        String name = System.getProperty(BACKEND_PROPERTY);
        return create(name == null ? "cpu-vector" : name.trim(), name == null ? "default" : BACKEND_PROPERTY + "=" + name);
    }

    /** The backend named {@code name} ({@code cpu-vector} or {@code cpu-scalar}). */
    static Kernels create(String name) {
        return create(name, "requested");
    }

    private static Kernels create(String name, String why) {
        Logger log = LoggerFactory.getLogger(Kernels.class);
        switch (name) {
            case "cpu-scalar" -> {
                log.info("cpu-scalar: reference kernels, {} threads ({})", Parallel.THREADS, why);
                return new ScalarKernels();
            }
            case "cpu-vector" -> {
                if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                    log.warn("cpu-vector unavailable: module jdk.incubator.vector is not loaded (run with --add-modules jdk.incubator.vector); falling back to cpu-scalar");
                    return new ScalarKernels();
                }
                VectorKernels k = new VectorKernels();
                log.info("{} ({})", k.describe(), why);
                return k;
            }
            default -> throw new IllegalArgumentException(
                    "unknown " + BACKEND_PROPERTY + " '" + name + "' (supported: cpu-vector, cpu-scalar)");
        }
    }
}
