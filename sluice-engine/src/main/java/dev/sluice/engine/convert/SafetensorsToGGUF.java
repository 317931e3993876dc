package dev.sluice.engine.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFValueType;
import dev.sluice.engine.gguf.GGUFWriter;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelConfigs;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.RopeFreqs;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;
import dev.sluice.engine.tokenizer.HfTokenizerConverter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;

/**
 * Converts a Hugging Face checkpoint directory (config.json + safetensors) into a GGUF file that
 * llama.cpp loads, as its {@code convert_hf_to_gguf.py} would write it.
 *
 * <p>What it writes: {@code general.architecture} ({@code llama} for Llama and Mistral,
 * {@code qwen2}, {@code qwen3}), the {@code <arch>.*} hyper-parameters
 * ({@link ModelConfigs#ggufHparams}), {@code general.file_type}; tensors under their GGUF names;
 * for Llama 3.1 RoPE scaling the {@code rope_freqs.weight} tensor. For the {@code llama}
 * architecture the rows of Q and K (weights and biases) are permuted exactly as llama.cpp's
 * {@code LlamaModel.permute(w, n_head, n_head_kv)} so that the file uses interleaved-pair (non
 * NeoX) RoPE; Qwen files keep Hugging Face order (NeoX RoPE). Matrices are written as the
 * requested type (F16 when their rows are not whole blocks); 1-D tensors (norms, biases) stay
 * F32. Tokenizer: with a {@code tokenizer.json}, the whole {@code tokenizer.*} metadata
 * (vocabulary, merges or scores, token types, special ids, chat template) from
 * {@link HfTokenizerConverter}; without one, at least {@code tokenizer.chat_template} and the
 * BOS/EOS ids ({@link #tokenizerMetadata}).
 *
 * <p>Tensors are streamed row by row from the mapped safetensors into the output; nothing the
 * size of a tensor is held on the heap. The output appears atomically ({@link GGUFWriter}).
 */
public final class SafetensorsToGGUF {
    private SafetensorsToGGUF() {}

    /** Output types {@link #convert} accepts. */
    public static final List<GGMLType> OUTPUT_TYPES = List.of(GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0);

    /**
     * Converts {@code hfDir} into {@code outGguf} with matrices of type {@code outType}.
     *
     * @throws ModelFormatException when the checkpoint is unsupported or inconsistent
     * @throws IllegalArgumentException for an output type outside {@link #OUTPUT_TYPES}
     */
    public static void convert(Path hfDir, Path outGguf, GGMLType outType) {
        if (!OUTPUT_TYPES.contains(outType)) throw new IllegalArgumentException("cannot convert to " + outType + " (supported: " + OUTPUT_TYPES + ")");
        if (!Files.isRegularFile(hfDir.resolve("config.json"))) throw ModelFormatException.of(hfDir, "not a Hugging Face checkpoint directory (no config.json)");
        try (ModelWeights w = ModelLoader.load(hfDir)) {
            ModelConfig c = w.config();
            String arch = ModelConfigs.ggufArchitecture(c);
            boolean permute = arch.equals("llama");
            GGUFWriter g = new GGUFWriter();
            g.putString("general.architecture", arch);
            g.putString("general.name", String.valueOf(w.metadata().getOrDefault("general.name", "model")));
            for (ModelConfigs.MetaEntry e : ModelConfigs.ggufHparams(c, arch)) g.put(e.key(), e.type(), e.value());
            g.putUInt32("general.file_type", TensorEncoder.fileType(outType));
            if (outType.isQuantized()) g.putUInt32("general.quantization_version", 2);
            if (Files.isRegularFile(hfDir.resolve("tokenizer.json"))) {
                // the full vocabulary, merges, special ids and chat template, as llama.cpp writes them
                HfTokenizerConverter.write(HfTokenizerConverter.toGGUFMetadata(hfDir), g);
            } else {
                for (ModelConfigs.MetaEntry e : tokenizerMetadata(hfDir)) g.put(e.key(), e.type(), e.value());
            }

            float[] ropeFactors = RopeFreqs.llama3Factors(c);
            if (ropeFactors != null) {
                g.addTensor(TensorNames.ROPE_FREQS, GGMLType.F32, new long[] {ropeFactors.length}, MemorySegment.ofArray(toLeBytes(ropeFactors)));
            }
            for (Map.Entry<String, Tensor> e : w.tensors().entrySet()) {
                String name = e.getKey();
                Tensor t = e.getValue();
                boolean matrix = t.shape().length >= 2;
                GGMLType type = matrix ? TensorEncoder.matrixType(outType, t.cols()) : GGMLType.F32;
                IntUnaryOperator rows = r -> r;
                if (permute) {
                    if (name.endsWith(".attn_q.weight") || name.endsWith(".attn_q.bias")) rows = permutation(t, c.nHeads());
                    else if (name.endsWith(".attn_k.weight") || name.endsWith(".attn_k.bias")) rows = permutation(t, c.nKvHeads());
                }
                Tensor src = matrix ? t : new Tensor(t.name(), t.type(), new long[] {1, t.numElements()}, t.data()); // 1-D: rows of one element
                g.addTensor(name, type, t.shape(), TensorEncoder.encode(src, type, rows));
            }
            g.write(outGguf);
        }
    }

    private static IntUnaryOperator permutation(Tensor t, int nHead) {
        int rows = t.shape().length >= 2 ? t.rows() : Math.toIntExact(t.numElements());
        if (rows % nHead != 0 || (rows / nHead) % 2 != 0) {
            throw new ModelFormatException("tensor '" + t.name() + "': " + rows + " rows cannot be permuted for " + nHead + " heads");
        }
        return r -> llamaPermuteSourceRow(r, nHead, rows);
    }

    /**
     * llama.cpp's {@code permute(w, n_head, n_head_kv)}: {@code w.reshape(n_head, 2, hd/2, ...)
     * .swapaxes(1, 2).reshape(w.shape)}. Returns the source row that lands at output row
     * {@code r}: within each head of {@code hd = rows / nHead} rows, output row {@code 2i + j}
     * comes from source row {@code j * hd/2 + i}, turning rotate-half pairs {@code (i, i + hd/2)}
     * into adjacent pairs {@code (2i, 2i + 1)}.
     */
    public static int llamaPermuteSourceRow(int r, int nHead, int rows) {
        int hd = rows / nHead;
        int head = r / hd, within = r % hd;
        return head * hd + (within % 2) * (hd / 2) + within / 2;
    }

    /** The inverse of {@link #llamaPermuteSourceRow}: where source row {@code s} lands. */
    public static int llamaPermuteTargetRow(int s, int nHead, int rows) {
        int hd = rows / nHead;
        int head = s / hd, within = s % hd;
        return head * hd + (within % (hd / 2)) * 2 + within / (hd / 2);
    }

    private static byte[] toLeBytes(float[] f) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * f.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : f) b.putFloat(v);
        return b.array();
    }

    /**
     * Fallback tokenizer metadata for a directory without {@code tokenizer.json}: {@code tokenizer.chat_template}
     * (from {@code tokenizer_config.json}, or a {@code chat_template.jinja} file), and
     * {@code tokenizer.ggml.bos_token_id} / {@code eos_token_id} (from {@code config.json}, else
     * {@code generation_config.json}; the first id when a list is given).
     */
    public static List<ModelConfigs.MetaEntry> tokenizerMetadata(Path hfDir) {
        List<ModelConfigs.MetaEntry> out = new java.util.ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        JsonNode tc = readJson(json, hfDir.resolve("tokenizer_config.json"));
        String template = null;
        if (tc != null && tc.has("chat_template")) {
            JsonNode ct = tc.get("chat_template");
            if (ct.isTextual()) template = ct.asText();
            else if (ct.isArray()) {
                for (JsonNode n : ct) {
                    if (template == null || "default".equals(n.path("name").asText())) template = n.path("template").asText(null);
                }
            }
        }
        Path jinja = hfDir.resolve("chat_template.jinja");
        if (template == null && Files.isRegularFile(jinja)) {
            try {
                template = Files.readString(jinja);
            } catch (IOException e) {
                throw new ModelFormatException(jinja + ": cannot read: " + e.getMessage(), e);
            }
        }
        if (template != null) out.add(new ModelConfigs.MetaEntry("tokenizer.chat_template", GGUFValueType.STRING, template));
        JsonNode cfg = readJson(json, hfDir.resolve("config.json"));
        JsonNode gen = readJson(json, hfDir.resolve("generation_config.json"));
        for (String which : new String[] {"bos", "eos"}) {
            Integer id = firstId(cfg, which + "_token_id");
            if (id == null) id = firstId(gen, which + "_token_id");
            if (id != null) out.add(new ModelConfigs.MetaEntry("tokenizer.ggml." + which + "_token_id", GGUFValueType.UINT32, id));
        }
        return out;
    }

    private static Integer firstId(JsonNode n, String key) {
        if (n == null) return null;
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return null;
        if (v.isArray()) v = v.isEmpty() ? null : v.get(0);
        return v != null && v.canConvertToInt() ? v.asInt() : null;
    }

    private static JsonNode readJson(ObjectMapper json, Path p) {
        if (!Files.isRegularFile(p)) return null;
        try {
            return json.readTree(p.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(p + ": cannot parse JSON: " + e.getMessage(), e);
        }
    }
}
