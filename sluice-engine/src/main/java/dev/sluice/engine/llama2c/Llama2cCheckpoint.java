package dev.sluice.engine.llama2c;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelConfigs;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A checkpoint in Andrej Karpathy's llama2.c format ({@code run.c}, "legacy" export version 0),
 * memory-mapped, exposed as {@link ModelWeights} with GGUF tensor names.
 *
 * <p>Layout: seven little-endian int32 ({@code dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len}; a negative {@code vocab_size} means the classifier is not shared with the
 * embedding), then float32 arrays in this order, each stacked over layers:
 * {@code token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
 * wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim], w2[L][dim][hidden],
 * w3[L][hidden][dim], rms_final[dim], freq_cis_real[seq][head/2], freq_cis_imag[seq][head/2]},
 * and {@code wcls[vocab][dim]} when unshared. {@code w1} is the gate, {@code w3} the up and
 * {@code w2} the down projection. Matrices are row-major {@code [out][in]}, the same as GGUF.
 *
 * <p>llama2.c rotates adjacent pairs {@code (x[2i], x[2i+1])}, like GGUF Llama, so
 * {@code ropeNeox = false}; it has no biases, {@code rope_theta = 10000} and
 * {@code rms_eps = 1e-5}. The file size must match the header exactly, so a truncated or
 * mismatched file raises {@link ModelFormatException}. The newer "ak42" export versions are
 * rejected with a message saying so.
 */
public final class Llama2cCheckpoint implements ModelWeights {
    /** Bytes of the seven-int header. */
    public static final int HEADER_BYTES = 7 * 4;
    /** Metadata key holding the path of a {@code tokenizer.bin} found beside the checkpoint. */
    public static final String TOKENIZER_PATH_KEY = "llama2c.tokenizer_path";
    /** llama2.c's fixed hyper-parameters ({@code run.c}). */
    static final float ROPE_THETA = 10000f, RMS_EPS = 1e-5f;
    private static final int AK42_MAGIC = 0x616b3432;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final ModelConfig config;
    private final Map<String, Tensor> tensors;
    private final Map<String, Object> metadata;

    private Llama2cCheckpoint(Path path, Arena arena, ModelConfig config, Map<String, Tensor> tensors, Map<String, Object> metadata) {
        this.path = path;
        this.arena = arena;
        this.config = config;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps and parses {@code path}; the result owns the mapping. */
    public static Llama2cCheckpoint open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment file;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (IOException e) {
                throw new ModelFormatException(path + ": cannot read llama2.c checkpoint: " + e.getMessage(), e);
            }
            if (file.byteSize() < HEADER_BYTES) throw ModelFormatException.of(path, "truncated: " + file.byteSize() + " bytes, llama2.c header needs " + HEADER_BYTES);
            if (file.get(I32, 0) == AK42_MAGIC) {
                throw ModelFormatException.of(path, "llama2.c export version with \"ak42\" magic is not supported (supported: the legacy run.c format, export version 0)");
            }
            int dim = file.get(I32, 0), hidden = file.get(I32, 4), layers = file.get(I32, 8), heads = file.get(I32, 12),
                    kvHeads = file.get(I32, 16), vocabRaw = file.get(I32, 20), seqLen = file.get(I32, 24);
            boolean shared = vocabRaw > 0;
            long vocab = Math.abs((long) vocabRaw);
            if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab == 0 || seqLen <= 0
                    || dim % heads != 0 || heads % kvHeads != 0 || vocab > Integer.MAX_VALUE) {
                throw ModelFormatException.of(path, "not a llama2.c checkpoint: header dim=" + dim + " hidden_dim=" + hidden + " n_layers=" + layers
                        + " n_heads=" + heads + " n_kv_heads=" + kvHeads + " vocab_size=" + vocabRaw + " seq_len=" + seqLen);
            }
            int headSize = dim / heads;
            long kvDim = (long) kvHeads * headSize;
            long L = layers;
            // float counts of each section, in file order (exact arithmetic: a corrupt header must not overflow)
            long[] sizes;
            long expected;
            try {
                sizes = new long[] {
                        mul(vocab, dim), mul(L, dim), mul(L, dim, dim), mul(L, dim, kvDim), mul(L, dim, kvDim), mul(L, dim, dim),
                        mul(L, dim), mul(L, dim, hidden), mul(L, dim, hidden), mul(L, dim, hidden), dim,
                        mul(seqLen, headSize / 2), mul(seqLen, headSize / 2), shared ? 0 : mul(vocab, dim)};
                long floats = 0;
                for (long sz : sizes) floats = Math.addExact(floats, sz);
                expected = Math.addExact(HEADER_BYTES, mul(4, floats));
            } catch (ArithmeticException e) {
                throw ModelFormatException.of(path, "not a llama2.c checkpoint: header sizes overflow (dim=" + dim + ", hidden_dim=" + hidden
                        + ", n_layers=" + layers + ", vocab_size=" + vocabRaw + ", seq_len=" + seqLen + ")");
            }
            if (file.byteSize() != expected) {
                throw ModelFormatException.of(path, "llama2.c checkpoint of " + file.byteSize() + " bytes, but its header (dim=" + dim + ", hidden_dim=" + hidden
                        + ", n_layers=" + layers + ", n_heads=" + heads + ", n_kv_heads=" + kvHeads + ", vocab_size=" + vocabRaw + ", seq_len=" + seqLen
                        + ") implies " + expected + " bytes" + (file.byteSize() < expected ? ": truncated?" : ""));
            }
            ModelConfig config = new ModelConfig("llama", dim, layers, heads, kvHeads, headSize, hidden, (int) vocab, seqLen,
                    RMS_EPS, ROPE_THETA, false, null, false, false, shared, 0);

            Map<String, Tensor> t = new LinkedHashMap<>();
            long[] off = {HEADER_BYTES};
            record Cut(MemorySegment file, long[] off) {
                MemorySegment next(long floats) {
                    MemorySegment s = file.asSlice(off[0], floats * 4);
                    off[0] += floats * 4;
                    return s;
                }
            }
            Cut cut = new Cut(file, off);
            MemorySegment embd = cut.next(sizes[0]);
            MemorySegment attNorm = cut.next(sizes[1]), wq = cut.next(sizes[2]), wk = cut.next(sizes[3]), wv = cut.next(sizes[4]),
                    wo = cut.next(sizes[5]), ffnNorm = cut.next(sizes[6]), w1 = cut.next(sizes[7]), w2 = cut.next(sizes[8]), w3 = cut.next(sizes[9]),
                    finalNorm = cut.next(sizes[10]);
            cut.next(sizes[11]);
            cut.next(sizes[12]);
            MemorySegment wcls = shared ? null : cut.next(sizes[13]);

            put(t, TensorNames.TOKEN_EMBD, embd, dim, vocab);
            for (int l = 0; l < layers; l++) {
                put(t, TensorNames.blk(l, "attn_norm"), layer(attNorm, l, dim), dim);
                put(t, TensorNames.blk(l, "attn_q"), layer(wq, l, (long) dim * dim), dim, dim);
                put(t, TensorNames.blk(l, "attn_k"), layer(wk, l, dim * kvDim), dim, kvDim);
                put(t, TensorNames.blk(l, "attn_v"), layer(wv, l, dim * kvDim), dim, kvDim);
                put(t, TensorNames.blk(l, "attn_output"), layer(wo, l, (long) dim * dim), dim, dim);
                put(t, TensorNames.blk(l, "ffn_norm"), layer(ffnNorm, l, dim), dim);
                put(t, TensorNames.blk(l, "ffn_gate"), layer(w1, l, (long) dim * hidden), dim, hidden);
                put(t, TensorNames.blk(l, "ffn_down"), layer(w2, l, (long) dim * hidden), hidden, dim);
                put(t, TensorNames.blk(l, "ffn_up"), layer(w3, l, (long) dim * hidden), dim, hidden);
            }
            put(t, TensorNames.OUTPUT_NORM, finalNorm, dim);
            if (!shared) put(t, TensorNames.OUTPUT, wcls, dim, vocab);

            Map<String, Object> md = new LinkedHashMap<>(ModelConfigs.ggufHparamsMap(config, "llama"));
            String fname = path.getFileName().toString();
            md.put("general.name", fname.endsWith(".bin") ? fname.substring(0, fname.length() - 4) : fname);
            Path tok = path.toAbsolutePath().resolveSibling("tokenizer.bin");
            if (Files.isRegularFile(tok)) md.put(TOKENIZER_PATH_KEY, tok.toString());
            return new Llama2cCheckpoint(path, arena, config, Collections.unmodifiableMap(t), Collections.unmodifiableMap(md));
        } catch (ModelFormatException e) {
            arena.close();
            if (e.getMessage().startsWith(path.toString())) throw e;
            throw ModelFormatException.of(path, e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static long mul(long... xs) {
        long r = 1;
        for (long x : xs) r = Math.multiplyExact(r, x);
        return r;
    }

    private static MemorySegment layer(MemorySegment all, int l, long floatsPerLayer) {
        return all.asSlice(l * floatsPerLayer * 4, floatsPerLayer * 4);
    }

    private static void put(Map<String, Tensor> t, String name, MemorySegment data, long... shape) {
        t.put(name, new Tensor(name, GGMLType.F32, shape, data));
    }

    /** The {@code tokenizer.bin} beside the checkpoint, if there is one. */
    public Optional<Path> tokenizerPath() {
        return Optional.ofNullable((String) metadata.get(TOKENIZER_PATH_KEY)).map(Path::of);
    }

    @Override public ModelConfig config() { return config; }
    @Override public Optional<Tensor> find(String name) { return Optional.ofNullable(tensors.get(name)); }
    @Override public Map<String, Tensor> tensors() { return tensors; }
    @Override public Map<String, Object> metadata() { return metadata; }
    @Override public Path source() { return path; }
    @Override public void close() { arena.close(); }
}
