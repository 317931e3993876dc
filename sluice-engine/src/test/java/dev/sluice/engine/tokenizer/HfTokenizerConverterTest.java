package dev.sluice.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.engine.TestFixtures;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.gguf.GGUFValueType;
import dev.sluice.engine.gguf.GGUFWriter;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * HF tokenizer.json conversion: tokenizer.json files are synthesized from the llama.cpp vocab
 * fixtures (as Hugging Face lays them out), converted back, and must tokenize the fixture
 * strings exactly as the reference ids say.
 */
class HfTokenizerConverterTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Path fixture(String name) {
        var dir = TestFixtures.shared("tokenizers");
        Assumptions.assumeTrue(dir.isPresent(), "shared fixtures tokenizers/ absent");
        return dir.get().resolve(name);
    }

    /** Writes tokenizer.json + tokenizer_config.json for a byte-level BPE GGUF vocab. */
    static void writeHfDir(Path gguf, Path dir, JsonNode preTokenizer) throws IOException {
        Map<String, Object> md;
        try (GGUFFile f = GGUFFile.open(gguf)) {
            md = f.metadata();
            String[] tokens = (String[]) md.get("tokenizer.ggml.tokens");
            int[] types = (int[]) md.get("tokenizer.ggml.token_type");
            String[] merges = (String[]) md.get("tokenizer.ggml.merges");
            ObjectNode root = JSON.createObjectNode();
            root.put("version", "1.0");
            ArrayNode added = root.putArray("added_tokens");
            ObjectNode model = JSON.createObjectNode();
            model.put("type", "BPE");
            ObjectNode vocab = model.putObject("vocab");
            for (int i = 0; i < tokens.length; i++) {
                if (types[i] == TokenType.CONTROL || types[i] == TokenType.USER_DEFINED) {
                    ObjectNode a = added.addObject();
                    a.put("id", i);
                    a.put("content", tokens[i]);
                    a.put("special", types[i] == TokenType.CONTROL);
                    if (tokens[i].startsWith("[PAD")) { added.remove(added.size() - 1); continue; }
                }
                vocab.put(tokens[i], i);
            }
            ArrayNode ms = model.putArray("merges");
            for (String m : merges) ms.add(m);
            root.set("normalizer", null);
            root.set("pre_tokenizer", preTokenizer);
            root.set("model", model);
            root.set("decoder", JSON.readTree("{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}"));
            Files.createDirectories(dir);
            JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
            ObjectNode cfg = JSON.createObjectNode();
            int bos = (Integer) md.get("tokenizer.ggml.bos_token_id"), eos = (Integer) md.get("tokenizer.ggml.eos_token_id");
            cfg.put("bos_token", tokens[bos]);
            cfg.putObject("eos_token").put("content", tokens[eos]).put("special", true);
            if (md.containsKey("tokenizer.ggml.add_bos_token")) cfg.put("add_bos_token", (Boolean) md.get("tokenizer.ggml.add_bos_token"));
            cfg.put("chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");
            JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
            ObjectNode config = JSON.createObjectNode();
            config.put("vocab_size", tokens.length);
            JSON.writeValue(dir.resolve("config.json").toFile(), config);
        }
    }

    static void assertMatchesFixture(Tokenizer tok, Path gguf) throws IOException {
        List<String> in = VocabFixturesTest.readInputs(Path.of(gguf + ".inp"));
        List<int[]> out = VocabFixturesTest.readOutputs(Path.of(gguf + ".out"));
        for (int i = 0; i < in.size(); i++) {
            assertThat(tok.encode(in.get(i), false, false)).as("case %d %s", i, VocabFixturesTest.escape(in.get(i))).containsExactly(out.get(i));
        }
    }

    @Test
    void gpt2ByteLevelRoundTrip(@TempDir Path tmp) throws IOException {
        Path gguf = fixture("ggml-vocab-gpt-2.gguf");
        writeHfDir(gguf, tmp, JSON.readTree("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}"));
        Map<String, Object> md = HfTokenizerConverter.toGGUFMetadata(tmp);
        assertThat(md).containsEntry("tokenizer.ggml.model", "gpt2").containsEntry("tokenizer.ggml.pre", "gpt-2")
                .containsEntry("tokenizer.ggml.bos_token_id", 50256).containsEntry("tokenizer.ggml.eos_token_id", 50256)
                .containsEntry("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");
        assertThat(((int[]) md.get("tokenizer.ggml.token_type"))[50256]).isEqualTo(TokenType.CONTROL);
        assertMatchesFixture(Tokenizers.fromHuggingFace(tmp), gguf);
    }

    @Test
    void deepseekLlmSplitSequenceRoundTripThroughGGUFWriter(@TempDir Path tmp) throws IOException {
        Path gguf = fixture("ggml-vocab-deepseek-llm.gguf");
        // as DeepSeek's tokenizer.json: isolated regex splits, then ByteLevel without its regex
        ArrayNode seq = JSON.createArrayNode();
        for (String r : PreTokenizer.regexes("deepseek-llm")) {
            ObjectNode s = seq.addObject();
            s.put("type", "Split");
            s.putObject("pattern").put("Regex", r);
            s.put("behavior", "Isolated");
            s.put("invert", false);
        }
        seq.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false).put("use_regex", false);
        ObjectNode pre = JSON.createObjectNode();
        pre.put("type", "Sequence");
        pre.set("pretokenizers", seq);
        writeHfDir(gguf, tmp.resolve("hf"), pre);
        Map<String, Object> md = HfTokenizerConverter.toGGUFMetadata(tmp.resolve("hf"));
        assertThat(md).containsEntry("tokenizer.ggml.pre", "deepseek-llm").containsEntry("tokenizer.ggml.add_bos_token", true);
        assertThat(((String[]) md.get("tokenizer.ggml.tokens"))[100015]).isEqualTo("[PAD100015]");

        Path out = tmp.resolve("vocab.gguf");
        GGUFWriter w = new GGUFWriter();
        HfTokenizerConverter.write(md, w);
        w.write(out);
        try (GGUFFile f = GGUFFile.open(out)) {
            assertThat(f.metadataTypes().get("tokenizer.ggml.bos_token_id")).isEqualTo(GGUFValueType.UINT32);
            assertThat(f.metadataTypes().get("tokenizer.ggml.add_bos_token")).isEqualTo(GGUFValueType.BOOL);
            assertThat(f.arrayType("tokenizer.ggml.token_type")).isEqualTo(GGUFValueType.INT32);
            assertThat(f.arrayType("tokenizer.ggml.tokens")).isEqualTo(GGUFValueType.STRING);
            assertThat(f.arrayType("tokenizer.ggml.merges")).isEqualTo(GGUFValueType.STRING);
            assertMatchesFixture(Tokenizers.fromGGUF(f), gguf);
        }
    }

    static JsonNode split(String regex) {
        ObjectNode pre = JSON.createObjectNode();
        pre.put("type", "Sequence");
        ArrayNode seq = pre.putArray("pretokenizers");
        ObjectNode s = seq.addObject();
        s.put("type", "Split");
        s.putObject("pattern").put("Regex", regex);
        s.put("behavior", "Isolated");
        seq.addObject().put("type", "ByteLevel").put("use_regex", false);
        return pre;
    }

    @Test
    void detectsPreTokenizerFamiliesFromTheirHfRegexes() throws IOException {
        assertThat(HfTokenizerConverter.detectPre(split(
                "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")))
                .isEqualTo("llama-bpe");
        assertThat(HfTokenizerConverter.detectPre(split(
                "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")))
                .isEqualTo("qwen2");
        assertThat(HfTokenizerConverter.detectPre(JSON.readTree("""
                {"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},
                 {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]}""")))
                .isEqualTo("starcoder");
        assertThat(HfTokenizerConverter.detectPre(JSON.readTree("""
                {"type":"Sequence","pretokenizers":[{"type":"Punctuation","behavior":"contiguous"},
                 {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
                 {"type":"Digits","individual_digits":false},
                 {"type":"Split","pattern":{"Regex":"[0-9][0-9][0-9]"},"behavior":"Isolated","invert":false}]}""")))
                .isEqualTo("falcon");
        assertThat(HfTokenizerConverter.detectPre(JSON.readTree("""
                {"type":"Sequence","pretokenizers":[
                 {"type":"Split","pattern":{"Regex":"\\\\p{N}{1,3}"},"behavior":"Isolated","invert":false},
                 {"type":"Split","pattern":{"Regex":"[一-龥\\u3040-ゟ゠-ヿ]+"},"behavior":"Isolated","invert":false},
                 {"type":"Split","pattern":{"Regex":"[!\\"#$%&'()*+,\\\\-./:;<=>?@\\\\[\\\\\\\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\\\p{L}\\\\p{P}\\\\p{S}]?[\\\\p{L}\\\\p{M}]+| ?[\\\\p{P}\\\\p{S}]+[\\r\\n]*|\\\\s*[\\r\\n]+|\\\\s+(?!\\\\S)|\\\\s+"},"behavior":"Isolated","invert":false},
                 {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}""")))
                .isEqualTo("deepseek-v3");
        assertThat(HfTokenizerConverter.detectPre(split("\\w+|[^\\w\\s]+"))).isEqualTo("gpt-2"); // unknown: warned fallback
    }

    @Test
    void unknownModelTypeIsAClearError(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HfTokenizerConverter.toGGUFMetadata(tmp))
                .isInstanceOf(dev.sluice.engine.ModelFormatException.class).hasMessageContaining("WordPiece").hasMessageContaining("tokenizer.json");
        Files.delete(tmp.resolve("tokenizer.json"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HfTokenizerConverter.toGGUFMetadata(tmp))
                .isInstanceOf(dev.sluice.engine.ModelFormatException.class).hasMessageContaining("no tokenizer.json");
    }

    /**
     * A Llama 2 style tokenizer.json (BPE with byte fallback, {@code ▁} normalizer) built from the
     * llama-spm fixture, with merges derived from the SentencePiece scores the way transformers'
     * {@code LlamaConverter} does; converted back it must tokenize like the original.
     */
    @Test
    void sentencePieceStyleTokenizerJsonRoundTrip(@TempDir Path tmp) throws IOException {
        Path gguf = fixture("ggml-vocab-llama-spm.gguf");
        Map<String, Object> md = Vocabs.ggufMetadata("llama-spm");
        String[] tokens = (String[]) md.get("tokenizer.ggml.tokens");
        float[] scores = (float[]) md.get("tokenizer.ggml.scores");
        int[] types = (int[]) md.get("tokenizer.ggml.token_type");
        java.util.Map<String, Integer> vocabIds = new java.util.HashMap<>();
        for (int i = 0; i < tokens.length; i++) vocabIds.put(tokens[i], i);
        record Merge(String l, String r, float score, int li, int ri) {}
        List<Merge> merges = new java.util.ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] != TokenType.NORMAL) continue;
            String t = tokens[i];
            List<Merge> local = new java.util.ArrayList<>();
            for (int k = 1; k < t.length(); k++) {
                if (Character.isLowSurrogate(t.charAt(k))) continue;
                Integer l = vocabIds.get(t.substring(0, k)), r = vocabIds.get(t.substring(k));
                if (l != null && r != null) local.add(new Merge(t.substring(0, k), t.substring(k), scores[i], l, r));
            }
            local.sort(java.util.Comparator.comparingInt(Merge::li).thenComparingInt(Merge::ri));
            merges.addAll(local);
        }
        merges.sort((a, b) -> Float.compare(b.score, a.score)); // stable: keeps the per-piece order
        ObjectNode root = JSON.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < 3; i++) {
            added.addObject().put("id", i).put("content", tokens[i]).put("special", true);
        }
        root.set("normalizer", JSON.readTree("""
                {"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}"""));
        root.set("pre_tokenizer", null);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").put("unk_token", "<unk>").put("fuse_unk", true).put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], i);
        ArrayNode ms = model.putArray("merges");
        for (Merge m : merges) ms.add(m.l + " " + m.r);
        root.set("decoder", JSON.readTree("""
                {"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}"""));
        JSON.writeValue(tmp.resolve("tokenizer.json").toFile(), root);
        JSON.writeValue(tmp.resolve("tokenizer_config.json").toFile(), JSON.readTree("""
                {"add_bos_token":true,"add_eos_token":false,"bos_token":"<s>","eos_token":"</s>","unk_token":"<unk>"}"""));
        Map<String, Object> conv = HfTokenizerConverter.toGGUFMetadata(tmp);
        assertThat(conv).containsEntry("tokenizer.ggml.model", "llama").containsEntry("tokenizer.ggml.add_space_prefix", true)
                .containsEntry("tokenizer.ggml.bos_token_id", 1).containsEntry("tokenizer.ggml.eos_token_id", 2)
                .containsEntry("tokenizer.ggml.unknown_token_id", 0).doesNotContainKey("tokenizer.ggml.merges");
        assertThat((int[]) conv.get("tokenizer.ggml.token_type")).containsExactly(types);
        assertMatchesFixture(Tokenizers.fromHuggingFace(tmp), gguf);
    }

    /** Protobuf encoding helpers for a SentencePiece ModelProto. */
    static void varint(java.io.ByteArrayOutputStream o, long v) {
        while ((v & ~0x7FL) != 0) {
            o.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        o.write((int) v);
    }

    static void lenField(java.io.ByteArrayOutputStream o, int field, byte[] b) {
        varint(o, ((long) field << 3) | 2);
        varint(o, b.length);
        o.writeBytes(b);
    }

    static byte[] sentencePieceModel(String[] pieces, float[] scores, int[] types, boolean dummyPrefix) {
        var o = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < pieces.length; i++) {
            var p = new java.io.ByteArrayOutputStream();
            lenField(p, 1, pieces[i].getBytes(java.nio.charset.StandardCharsets.UTF_8));
            varint(p, (2 << 3) | 5);
            p.writeBytes(java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(scores[i]).array());
            if (types[i] != TokenType.NORMAL) {
                varint(p, 3 << 3);
                varint(p, types[i]);
            }
            lenField(o, 1, p.toByteArray());
        }
        var trainer = new java.io.ByteArrayOutputStream();
        lenField(trainer, 1, "input.txt".getBytes()); // a field the reader skips
        varint(trainer, 3 << 3);
        varint(trainer, 2); // BPE
        varint(trainer, 40 << 3);
        varint(trainer, 0);
        varint(trainer, 41 << 3);
        varint(trainer, 1);
        varint(trainer, 42 << 3);
        varint(trainer, 2);
        lenField(o, 2, trainer.toByteArray());
        var norm = new java.io.ByteArrayOutputStream();
        lenField(norm, 1, "identity".getBytes());
        varint(norm, 3 << 3);
        varint(norm, dummyPrefix ? 1 : 0);
        lenField(o, 3, norm.toByteArray());
        return o.toByteArray();
    }

    @Test
    void sentencePieceModelFileIsReadExactly(@TempDir Path tmp) throws IOException {
        Path gguf = fixture("ggml-vocab-llama-spm.gguf");
        Map<String, Object> md = Vocabs.ggufMetadata("llama-spm");
        String[] tokens = (String[]) md.get("tokenizer.ggml.tokens");
        float[] scores = (float[]) md.get("tokenizer.ggml.scores");
        int[] types = (int[]) md.get("tokenizer.ggml.token_type");
        Files.write(tmp.resolve("tokenizer.model"), sentencePieceModel(tokens, scores, types, true));
        JSON.writeValue(tmp.resolve("tokenizer_config.json").toFile(), JSON.readTree("""
                {"add_bos_token":true,"add_eos_token":false,"bos_token":{"content":"<s>"},"eos_token":"</s>","chat_template":"{{ messages }}"}"""));
        JSON.writeValue(tmp.resolve("config.json").toFile(), JSON.readTree("{\"vocab_size\":32002}"));
        Map<String, Object> conv = HfTokenizerConverter.toGGUFMetadata(tmp);
        assertThat(conv).containsEntry("tokenizer.ggml.model", "llama").containsEntry("tokenizer.ggml.add_space_prefix", true)
                .containsEntry("tokenizer.ggml.bos_token_id", 1).containsEntry("tokenizer.ggml.eos_token_id", 2)
                .containsEntry("tokenizer.ggml.unknown_token_id", 0).containsEntry("tokenizer.chat_template", "{{ messages }}");
        String[] ct = (String[]) conv.get("tokenizer.ggml.tokens");
        assertThat(ct).hasSize(32002);
        assertThat(ct[32001]).isEqualTo("[PAD32001]");
        assertThat(Arrays.copyOf((float[]) conv.get("tokenizer.ggml.scores"), 32000)).containsExactly(scores);
        assertThat(Arrays.copyOf((int[]) conv.get("tokenizer.ggml.token_type"), 32000)).containsExactly(types);
        assertMatchesFixture(Tokenizers.fromHuggingFace(tmp), gguf);

        Files.write(tmp.resolve("tokenizer.model"), new byte[] {0x0A, 0x7F, 0x01});
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HfTokenizerConverter.toGGUFMetadata(tmp))
                .isInstanceOf(dev.sluice.engine.ModelFormatException.class).hasMessageContaining("tokenizer.model");
    }

    static int[] ids(int... a) { return Arrays.copyOf(a, a.length); }
}
