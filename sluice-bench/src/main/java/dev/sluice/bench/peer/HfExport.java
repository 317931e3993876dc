package dev.sluice.bench.peer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.model.TensorNames;
import dev.sluice.engine.tensor.GGMLType;
import dev.sluice.engine.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a Hugging Face model folder ({@code config.json}, {@code model.safetensors},
 * {@code tokenizer.json}, {@code tokenizer_config.json}) holding exactly the weights of an F16/F32
 * qwen2 or llama GGUF file, e.g. the engine benchmark model {@code bench-f16.gguf}, so that a peer
 * that reads only safetensors (Jlama) runs the same model as Sluice.
 *
 * <p>Tensor bytes are copied unchanged (F16 stays F16, F32 stays F32); names map back from GGUF to
 * HF ({@link TensorNames#fromHf} reversed) and shapes reverse (ggml lists the innermost dimension
 * first). Only qwen2 is exported without row permutation: llama-family GGUF files permute Q/K rows
 * for interleaved RoPE, and the benchmark model is qwen2 (NeoX RoPE, no permutation).
 * {@code tokenizer.json} is a plain byte-level BPE model built from the GGUF vocabulary and merges:
 * enough for both engines to load it; the benchmark feeds token ids, not text.
 */
public final class HfExport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfExport() {}

    /** Exports {@code gguf} into {@code dir} (created); skips the work when {@code dir/model.safetensors} exists. */
    public static void export(Path gguf, Path dir) {
        try {
            if (Files.exists(dir.resolve("model.safetensors"))) return;
            Files.createDirectories(dir);
            try (ModelWeights w = ModelLoader.load(gguf)) {
                ModelConfig c = w.config();
                if (!"qwen2".equals(c.architecture())) {
                    throw new IllegalArgumentException(gguf + ": only qwen2 models are exported (got " + c.architecture() + ")");
                }
                writeConfig(c, dir.resolve("config.json"));
                writeSafetensors(w, dir.resolve("model.safetensors"));
            }
            try (GGUFFile g = GGUFFile.open(gguf)) {
                writeTokenizer(g, dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot export " + gguf + " to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void writeConfig(ModelConfig c, Path file) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("Qwen2ForCausalLM");
        o.put("model_type", "qwen2");
        o.put("hidden_size", c.nEmbd());
        o.put("intermediate_size", c.nFf());
        o.put("num_hidden_layers", c.nLayers());
        o.put("num_attention_heads", c.nHeads());
        o.put("num_key_value_heads", c.nKvHeads());
        o.put("head_dim", c.headDim());
        o.put("max_position_embeddings", c.contextLength());
        o.put("rms_norm_eps", c.rmsEps());
        o.put("rope_theta", c.ropeTheta());
        o.put("vocab_size", c.vocabSize());
        o.put("tie_word_embeddings", c.tiedEmbeddings());
        o.put("hidden_act", "silu");
        o.put("bos_token_id", 0);
        o.put("eos_token_id", 1);
        o.put("torch_dtype", "float16");
        o.put("use_sliding_window", false);
        o.put("sliding_window", c.contextLength());
        o.put("max_window_layers", c.nLayers());
        o.put("attention_dropout", 0.0);
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), o);
    }

    static String toHf(String gguf) {
        switch (gguf) {
            case TensorNames.TOKEN_EMBD: return "model.embed_tokens.weight";
            case TensorNames.OUTPUT_NORM: return "model.norm.weight";
            case TensorNames.OUTPUT: return "lm_head.weight";
            default: break;
        }
        if (!gguf.startsWith("blk.")) throw new IllegalArgumentException("no HF name for " + gguf);
        int dot = gguf.indexOf('.', 4);
        String layer = gguf.substring(4, dot), rest = gguf.substring(dot + 1);
        String part = switch (rest) {
            case "attn_norm.weight" -> "input_layernorm.weight";
            case "attn_q.weight" -> "self_attn.q_proj.weight";
            case "attn_k.weight" -> "self_attn.k_proj.weight";
            case "attn_v.weight" -> "self_attn.v_proj.weight";
            case "attn_q.bias" -> "self_attn.q_proj.bias";
            case "attn_k.bias" -> "self_attn.k_proj.bias";
            case "attn_v.bias" -> "self_attn.v_proj.bias";
            case "attn_output.weight" -> "self_attn.o_proj.weight";
            case "ffn_norm.weight" -> "post_attention_layernorm.weight";
            case "ffn_gate.weight" -> "mlp.gate_proj.weight";
            case "ffn_up.weight" -> "mlp.up_proj.weight";
            case "ffn_down.weight" -> "mlp.down_proj.weight";
            default -> throw new IllegalArgumentException("no HF name for " + gguf);
        };
        String hf = "model.layers." + layer + "." + part;
        if (!gguf.equals(TensorNames.fromHf(hf))) throw new IllegalStateException(gguf + " -> " + hf + " does not map back");
        return hf;
    }

    private static void writeSafetensors(ModelWeights w, Path file) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long off = 0;
        for (Tensor t : w.tensors().values()) {
            String dtype = switch (t.type()) {
                case F16 -> "F16";
                case F32 -> "F32";
                case BF16 -> "BF16";
                default -> throw new IllegalArgumentException(t.name() + ": " + t.type() + " cannot go to safetensors unquantized; export the F16 model");
            };
            long[] shape = new long[t.shape().length];
            for (int i = 0; i < shape.length; i++) shape[i] = t.shape()[shape.length - 1 - i];
            long size = t.data().byteSize();
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", dtype);
            e.put("shape", shape);
            e.put("data_offsets", new long[] {off, off + size});
            header.put(toHf(t.name()), e);
            off += size;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        int pad = (8 - h.length % 8) % 8;
        byte[] hp = new byte[h.length + pad];
        System.arraycopy(h, 0, hp, 0, h.length);
        for (int i = h.length; i < hp.length; i++) hp[i] = ' ';
        Path tmp = file.resolveSibling(file.getFileName() + ".part");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hp.length).flip();
            while (len.hasRemaining()) ch.write(len);
            ByteBuffer hb = ByteBuffer.wrap(hp);
            while (hb.hasRemaining()) ch.write(hb);
            for (Tensor t : w.tensors().values()) {
                ByteBuffer b = t.data().asByteBuffer();
                while (b.hasRemaining()) ch.write(b);
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static void writeTokenizer(GGUFFile g, Path dir) throws IOException {
        String[] tokens = g.getArray("tokenizer.ggml.tokens", String[].class);
        String[] merges = g.getArray("tokenizer.ggml.merges", String[].class);
        Object typesObj = g.metadata().get("tokenizer.ggml.token_type");
        int[] types = typesObj instanceof int[] a ? a : null;
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode model = JSON.createObjectNode();
        ObjectNode vocab = JSON.createObjectNode();
        for (int i = 0; i < tokens.length; i++) {
            vocab.put(tokens[i], i);
            boolean special = types != null && i < types.length && types[i] == 3; // CONTROL
            if (special) {
                ObjectNode a = added.addObject();
                a.put("id", i);
                a.put("content", tokens[i]);
                a.put("single_word", false);
                a.put("lstrip", false);
                a.put("rstrip", false);
                a.put("normalized", false);
                a.put("special", true);
            }
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        root.putNull("post_processor");
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode m = model.putArray("merges");
        if (merges != null) for (String s : merges) m.add(s);
        root.set("model", model);
        try (OutputStream out = Files.newOutputStream(dir.resolve("tokenizer.json"))) {
            JSON.writeValue(out, root);
        }
        ObjectNode tc = JSON.createObjectNode();
        tc.put("tokenizer_class", "LlamaTokenizerFast");
        tc.put("bos_token", tokens.length > 0 ? tokens[0] : "");
        tc.put("eos_token", tokens.length > 1 ? tokens[1] : "");
        tc.put("model_max_length", 32768);
        Files.writeString(dir.resolve("tokenizer_config.json"), JSON.writeValueAsString(tc), StandardCharsets.UTF_8);
    }
}
