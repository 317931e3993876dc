package dev.sluice.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFValueType;
import dev.sluice.engine.gguf.GGUFWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a Hugging Face model directory's {@code tokenizer.json} (with {@code tokenizer_config.json},
 * and {@code config.json} for the padded vocabulary size) into GGUF {@code tokenizer.*} metadata,
 * as llama.cpp's {@code convert_hf_to_gguf.py} writes it.
 *
 * <p>Two kinds are understood. Byte-level BPE ({@code ByteLevel} pre-tokenizer or decoder)
 * becomes {@code tokenizer.ggml.model = gpt2}; its {@code tokenizer.ggml.pre} is found by
 * matching the pre-tokenizer's regexes against the families {@link PreTokenizer} knows (an
 * unknown one falls back to {@code gpt-2} with a warning). SentencePiece-style BPE (Metaspace or
 * {@code ▁} normalizer, byte fallback) becomes {@code llama}, with scores derived from the merge
 * order (a token made by merge {@code r} scores {@code -r}) so that score-ordered merging follows
 * the merge ranks.
 *
 * <p>Values are typed as {@link dev.sluice.engine.gguf.GGUFFile} returns them: String, Integer,
 * Boolean, String[], int[], float[]; {@link #write} puts them with their GGUF types.
 */
public final class HfTokenizerConverter {
    private static final Logger log = LoggerFactory.getLogger(HfTokenizerConverter.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTokenizerConverter() {}

    /**
     * GGUF metadata for the tokenizer of the Hugging Face model in {@code hfDir}. A SentencePiece
     * {@code tokenizer.model} is preferred when there is one and {@code tokenizer.json} is absent
     * or SentencePiece-style (its scores are exact), as llama.cpp's converter does.
     */
    public static Map<String, Object> toGGUFMetadata(Path hfDir) {
        Path tj = hfDir.resolve("tokenizer.json");
        Path sp = hfDir.resolve("tokenizer.model");
        JsonNode root = Files.isRegularFile(tj) ? read(tj) : null;
        boolean useSp = Files.isRegularFile(sp) && (root == null || isSentencePieceStyle(root));
        if (root == null && !useSp) throw ModelFormatException.of(hfDir, "no tokenizer.json or SentencePiece tokenizer.model (needed to build the tokenizer)");
        JsonNode config = readOptional(hfDir.resolve("tokenizer_config.json"));
        JsonNode modelConfig = readOptional(hfDir.resolve("config.json"));
        Path source = useSp ? sp : tj;
        try {
            Base base = useSp ? fromSentencePiece(SentencePieceModel.read(sp), root, config, modelConfig, hfDir)
                    : fromTokenizerJson(root, modelConfig);
            return finish(base, root, config, modelConfig, hfDir);
        } catch (ModelFormatException e) {
            throw e.getMessage().startsWith(hfDir.toString()) ? e : ModelFormatException.of(source, e.getMessage());
        }
    }

    private static JsonNode read(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw ModelFormatException.of(p, "cannot parse JSON: " + e.getMessage());
        }
    }

    private static JsonNode readOptional(Path p) {
        return Files.isRegularFile(p) ? read(p) : JSON.createObjectNode();
    }

    /** The vocabulary part of the metadata, before special ids and flags. */
    private record Base(String model, String pre, String[] tokens, int[] types, float[] scores, String[] merges,
                        Boolean addSpacePrefix, int spUnk, int spBos, int spEos, int spPad) {}

    private static int paddedSize(int n, JsonNode modelCfg) {
        int cfgVocab = modelCfg.path("vocab_size").asInt(0);
        if (cfgVocab == 0) cfgVocab = modelCfg.path("text_config").path("vocab_size").asInt(0);
        return Math.max(n, cfgVocab);
    }

    private static Base fromTokenizerJson(JsonNode root, JsonNode modelCfg) {
        JsonNode model = root.path("model");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) throw new ModelFormatException("tokenizer.json model type '" + type + "' is not supported (supported: BPE, byte-level or SentencePiece-style)");
        JsonNode vocabNode = model.path("vocab");
        if (!vocabNode.isObject()) throw new ModelFormatException("tokenizer.json has no model.vocab");

        Map<Integer, String> byId = new HashMap<>();
        int maxId = -1;
        for (var it = vocabNode.fields(); it.hasNext(); ) {
            var e = it.next();
            int id = e.getValue().asInt();
            byId.put(id, e.getKey());
            maxId = Math.max(maxId, id);
        }
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt();
            added.put(id, a);
            byId.put(id, a.path("content").asText());
            maxId = Math.max(maxId, id);
        }
        int n = paddedSize(maxId + 1, modelCfg);
        boolean spm = isSentencePieceStyle(root);
        String[] merges = readMerges(model.path("merges"));
        String[] tokens = new String[n];
        int[] types = new int[n];
        String unkText = model.path("unk_token").isTextual() ? model.path("unk_token").asText() : null;
        for (int i = 0; i < n; i++) {
            String t = byId.get(i);
            if (t == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = spm ? TokenType.UNUSED : TokenType.USER_DEFINED;
                continue;
            }
            JsonNode a = added.get(i);
            if (spm && t.equals(unkText)) {
                types[i] = TokenType.UNKNOWN;
            } else if (a != null) {
                if (a.path("special").asBoolean(false) || looksSpecial(t)) {
                    types[i] = TokenType.CONTROL;
                } else {
                    if (!spm) t = t.replace('\u2581', ' ');
                    types[i] = TokenType.USER_DEFINED;
                }
            } else if (spm && t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
                types[i] = TokenType.BYTE;
            } else {
                types[i] = TokenType.NORMAL;
            }
            tokens[i] = t;
        }
        if (spm) return new Base("llama", null, tokens, types, scoresFromMerges(tokens, types, merges), null, addsSpacePrefix(root), -1, -1, -1, -1);
        return new Base("gpt2", detectPre(root.path("pre_tokenizer")), tokens, types, null, merges, null, -1, -1, -1, -1);
    }

    /** llama.cpp's {@code _create_vocab_sentencepiece}: pieces, then added tokens, then padding to the model's vocabulary size. */
    private static Base fromSentencePiece(SentencePieceModel sp, JsonNode root, JsonNode cfg, JsonNode modelCfg, Path dir) {
        if (sp.modelType() != SentencePieceModel.MODEL_BPE) {
            throw new ModelFormatException("SentencePiece model type " + (sp.modelType() == SentencePieceModel.MODEL_UNIGRAM ? "unigram" : sp.modelType())
                    + " is not supported (supported: BPE)");
        }
        Map<Integer, String> text = new HashMap<>();
        Map<Integer, Integer> type = new HashMap<>();
        Map<Integer, Float> score = new HashMap<>();
        int n = sp.pieces().size();
        for (int i = 0; i < n; i++) {
            text.put(i, sp.pieces().get(i));
            type.put(i, sp.types()[i]);
            score.put(i, sp.scores()[i]);
        }
        JsonNode addedJson = readOptional(dir.resolve("added_tokens.json"));
        for (var it = addedJson.fields(); it.hasNext(); ) {
            var e = it.next();
            int id = e.getValue().asInt();
            if (id >= n && !text.containsKey(id)) {
                text.put(id, e.getKey());
                type.put(id, TokenType.USER_DEFINED);
                score.put(id, -1000f);
            }
        }
        List<Map.Entry<Integer, JsonNode>> decoder = new ArrayList<>();
        for (var it = cfg.path("added_tokens_decoder").fields(); it.hasNext(); ) {
            var e = it.next();
            decoder.add(Map.entry(Integer.parseInt(e.getKey()), e.getValue()));
        }
        if (decoder.isEmpty() && root != null) {
            for (JsonNode a : root.path("added_tokens")) decoder.add(Map.entry(a.path("id").asInt(), a));
        }
        for (var e : decoder) {
            int id = e.getKey();
            text.put(id, e.getValue().path("content").asText());
            score.put(id, -1000f);
            type.put(id, e.getValue().path("special").asBoolean(false) ? TokenType.CONTROL : TokenType.USER_DEFINED);
        }
        int max = text.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        int size = paddedSize(max + 1, modelCfg);
        String[] tokens = new String[size];
        int[] types = new int[size];
        float[] scores = new float[size];
        for (int i = 0; i < size; i++) {
            String t = text.get(i);
            if (t == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = TokenType.UNUSED;
                scores[i] = -1000f;
            } else {
                tokens[i] = t;
                types[i] = type.get(i);
                scores[i] = score.get(i);
            }
        }
        return new Base("llama", null, tokens, types, scores, null, sp.addDummyPrefix(), sp.unkId(), sp.bosId(), sp.eosId(), sp.padId());
    }

    private static Map<String, Object> finish(Base b, JsonNode root, JsonNode cfg, JsonNode modelCfg, Path dir) {
        Map<String, Object> md = new LinkedHashMap<>();
        String[] tokens = b.tokens();
        md.put("tokenizer.ggml.model", b.model());
        if (b.pre() != null) md.put("tokenizer.ggml.pre", b.pre());
        md.put("tokenizer.ggml.tokens", tokens);
        if (b.scores() != null) md.put("tokenizer.ggml.scores", b.scores());
        md.put("tokenizer.ggml.token_type", b.types());
        if (b.merges() != null) md.put("tokenizer.ggml.merges", b.merges());
        if (b.addSpacePrefix() != null) md.put("tokenizer.ggml.add_space_prefix", b.addSpacePrefix());
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) ids.putIfAbsent(tokens[i], i);
        putId(md, "tokenizer.ggml.bos_token_id", tokenName(cfg.path("bos_token")), ids, modelCfg.path("bos_token_id"), b.spBos(), tokens.length);
        putId(md, "tokenizer.ggml.eos_token_id", tokenName(cfg.path("eos_token")), ids, modelCfg.path("eos_token_id"), b.spEos(), tokens.length);
        putId(md, "tokenizer.ggml.unknown_token_id", tokenName(cfg.path("unk_token")), ids, null, b.spUnk(), tokens.length);
        putId(md, "tokenizer.ggml.padding_token_id", tokenName(cfg.path("pad_token")), ids, modelCfg.path("pad_token_id"), b.spPad(), tokens.length);

        Boolean addBos = cfg.has("add_bos_token") && cfg.get("add_bos_token").isBoolean() ? cfg.get("add_bos_token").asBoolean() : null;
        Boolean addEos = cfg.has("add_eos_token") && cfg.get("add_eos_token").isBoolean() ? cfg.get("add_eos_token").asBoolean() : null;
        String bosText = md.containsKey("tokenizer.ggml.bos_token_id") ? tokens[(Integer) md.get("tokenizer.ggml.bos_token_id")] : null;
        String eosText = md.containsKey("tokenizer.ggml.eos_token_id") ? tokens[(Integer) md.get("tokenizer.ggml.eos_token_id")] : null;
        List<String> template = root == null ? null : singleTemplate(root.path("post_processor"));
        if (addBos == null && template != null) addBos = !template.isEmpty() && template.getFirst().equals(bosText);
        if (addEos == null && template != null) addEos = !template.isEmpty() && template.getLast().equals(eosText);
        // written only when the model says; otherwise the default of the model type and
        // pre-tokenizer family applies at load time (as llama.cpp's converter leaves it out)
        if (addBos != null) md.put("tokenizer.ggml.add_bos_token", addBos && bosText != null);
        if (addEos != null) md.put("tokenizer.ggml.add_eos_token", addEos && eosText != null);

        String chat = chatTemplate(cfg, dir);
        if (chat != null) md.put("tokenizer.chat_template", chat);
        return md;
    }

    /** Writes metadata made by {@link #toGGUFMetadata} with the GGUF types llama.cpp expects. */
    public static void write(Map<String, Object> md, GGUFWriter w) {
        for (var e : md.entrySet()) {
            String k = e.getKey();
            Object v = e.getValue();
            switch (v) {
                case String s -> w.putString(k, s);
                case Boolean b -> w.putBool(k, b);
                case Integer i -> w.putUInt32(k, i);
                case String[] a -> w.putArray(k, GGUFValueType.STRING, a);
                case int[] a -> w.putArray(k, GGUFValueType.INT32, a);
                case float[] a -> w.putArray(k, GGUFValueType.FLOAT32, a);
                default -> throw new IllegalArgumentException("metadata '" + k + "' has unsupported value type " + v.getClass().getSimpleName());
            }
        }
    }

    // ---- kind, pre-tokenizer, specials ----

    private static boolean isSentencePieceStyle(JsonNode root) {
        if (contains(root.path("pre_tokenizer"), "ByteLevel") || contains(root.path("decoder"), "ByteLevel")) return false;
        return root.path("model").path("byte_fallback").asBoolean(false)
                || contains(root.path("pre_tokenizer"), "Metaspace") || contains(root.path("decoder"), "Metaspace")
                || contains(root.path("decoder"), "ByteFallback") || root.path("normalizer").toString().contains("\u2581");
    }

    private static boolean addsSpacePrefix(JsonNode root) {
        String norm = root.path("normalizer").toString();
        if (norm.contains("\"Prepend\"")) return true;
        JsonNode meta = find(root.path("pre_tokenizer"), "Metaspace");
        if (meta != null) {
            if (meta.has("prepend_scheme")) return !meta.path("prepend_scheme").asText().equals("never");
            return meta.path("add_prefix_space").asBoolean(true);
        }
        return false;
    }

    private static boolean contains(JsonNode n, String type) {
        return find(n, type) != null;
    }

    /** The first node of {@code "type": type} in a (possibly nested Sequence) component. */
    private static JsonNode find(JsonNode n, String type) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (type.equals(n.path("type").asText())) return n;
        for (String k : new String[] {"pretokenizers", "decoders", "normalizers", "processors"}) {
            for (JsonNode c : n.path(k)) {
                JsonNode f = find(c, type);
                if (f != null) return f;
            }
        }
        return null;
    }

    /** llama.cpp's {@code does_token_look_special}. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<｜") && t.endsWith("｜>"))
                || (t.startsWith("<start_of_") && t.endsWith(">"));
    }

    private static String[] readMerges(JsonNode merges) {
        String[] out = new String[merges.size()];
        int i = 0;
        for (JsonNode m : merges) {
            if (m.isArray()) out[i++] = m.get(0).asText() + " " + m.get(1).asText();
            else out[i++] = m.asText();
        }
        return out;
    }

    private static float[] scoresFromMerges(String[] tokens, int[] types, String[] merges) {
        Map<String, Integer> firstMerge = new HashMap<>();
        for (int r = 0; r < merges.length; r++) {
            String m = merges[r];
            int sp = m.indexOf(' ', 1);
            if (sp < 0) continue;
            firstMerge.putIfAbsent(m.substring(0, sp) + m.substring(sp + 1), r);
        }
        float[] scores = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            Integer r = firstMerge.get(tokens[i]);
            if (r != null) scores[i] = -r;
            else if (types[i] == TokenType.NORMAL) scores[i] = -(float) (merges.length + i); // never merged to: lowest
            else scores[i] = 0f;
        }
        return scores;
    }

    private static String tokenName(JsonNode n) {
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.path("content").asText();
        return null;
    }

    private static void putId(Map<String, Object> md, String key, String text, Map<String, Integer> ids, JsonNode fallback, int spId, int n) {
        if (text != null) {
            Integer id = ids.get(text);
            if (id != null) {
                md.put(key, id);
                return;
            }
        }
        if (fallback != null) {
            JsonNode f = fallback.isArray() && !fallback.isEmpty() ? fallback.get(0) : fallback;
            if (f.isInt() && f.asInt() >= 0 && f.asInt() < n) {
                md.put(key, f.asInt());
                return;
            }
        }
        if (spId >= 0 && spId < n) md.put(key, spId);
    }

    /** Token strings of the post-processor's single-sequence template, or null when there is none. */
    private static List<String> singleTemplate(JsonNode pp) {
        JsonNode tp = find(pp, "TemplateProcessing");
        if (tp == null) return null;
        List<String> out = new ArrayList<>();
        for (JsonNode item : tp.path("single")) {
            if (item.has("SpecialToken")) out.add(item.path("SpecialToken").path("id").asText());
            else out.add("$" + item.path("Sequence").path("id").asText("A"));
        }
        return out;
    }

    private static String chatTemplate(JsonNode cfg, Path dir) {
        JsonNode ct = cfg.path("chat_template");
        if (ct.isTextual()) return ct.asText();
        if (ct.isArray()) {
            for (JsonNode t : ct) if ("default".equals(t.path("name").asText())) return t.path("template").asText();
            if (!ct.isEmpty()) return ct.get(0).path("template").asText(null);
        }
        try {
            Path jinja = dir.resolve("chat_template.jinja");
            if (Files.isRegularFile(jinja)) return Files.readString(jinja);
            Path json = dir.resolve("chat_template.json");
            if (Files.isRegularFile(json)) {
                JsonNode j = read(json).path("chat_template");
                if (j.isTextual()) return j.asText();
            }
        } catch (IOException e) {
            throw ModelFormatException.of(dir, "cannot read chat template: " + e.getMessage());
        }
        return null;
    }

    // ---- pre-tokenizer detection ----

    private static final Pattern CI_CONTRACTIONS = Pattern.compile(Pattern.quote("(?i:'s|'t|'re|'ve|'m|'ll|'d)"));
    /** Hugging Face's ByteLevel regex (use_regex = true). */
    private static final String HF_BYTE_LEVEL = PreTokenizer.GPT2;
    /** Hugging Face's Punctuation pre-tokenizer as llama.cpp writes it for falcon. */
    private static final String HF_PUNCT = "[\\p{P}\\$\\+<=>\\^~\\|`]+";
    private static final List<String> SEARCH_ORDER = List.of("gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "deepseek-v3",
            "starcoder", "falcon", "gpt-4o", "qwen35", "tekken", "chameleon", "bloom", "viking", "seed-coder", "bailingmoe",
            "default");

    /** The llama.cpp {@code tokenizer.ggml.pre} name for a tokenizer.json pre-tokenizer. */
    static String detectPre(JsonNode pre) {
        List<String> sig = new ArrayList<>();
        flatten(pre, sig);
        List<String> norm = sig.stream().map(HfTokenizerConverter::normalizeRegex).toList();
        if (norm.isEmpty()) {
            log.warn("tokenizer.json has no regex pre-tokenizer; using pre-tokenizer 'gpt-2'");
            return "gpt-2";
        }
        List<String> candidates = new ArrayList<>(SEARCH_ORDER);
        for (String name : PreTokenizer.names()) if (!candidates.contains(name)) candidates.add(name);
        for (String name : candidates) {
            List<String> fam = PreTokenizer.regexes(name).stream().map(HfTokenizerConverter::normalizeRegex).toList();
            if (fam.equals(norm)) return name;
        }
        if (norm.equals(List.of(normalizeRegex(HF_PUNCT), normalizeRegex(HF_BYTE_LEVEL), "[0-9][0-9][0-9]"))) return "falcon";
        log.warn("unrecognised pre-tokenizer {} in tokenizer.json; using 'gpt-2' (tokenization may differ from the reference)", sig);
        return "gpt-2";
    }

    private static void flatten(JsonNode n, List<String> out) {
        if (n == null || n.isNull() || n.isMissingNode()) return;
        switch (n.path("type").asText()) {
            case "Sequence" -> {
                for (JsonNode c : n.path("pretokenizers")) flatten(c, out);
            }
            case "ByteLevel" -> {
                if (n.path("use_regex").asBoolean(true)) out.add(HF_BYTE_LEVEL);
            }
            case "Split" -> {
                JsonNode p = n.path("pattern");
                String behavior = n.path("behavior").asText("Isolated");
                boolean invert = n.path("invert").asBoolean(false);
                // Isolated keeps matches and gaps as pieces; Removed + invert keeps the matches
                // and drops gaps, the same split for regexes that match every char (GPT-4o's)
                boolean isolated = behavior.equals("Isolated") && !invert || behavior.equals("Removed") && invert;
                String re = p.has("Regex") ? p.path("Regex").asText() : Pattern.quote(p.path("String").asText());
                out.add(isolated ? re : "<Split " + behavior + (invert ? " inverted" : "") + " " + re + ">");
            }
            case "Digits" -> {
                if (n.path("individual_digits").asBoolean(false)) out.add("\\p{N}");
                // contiguous digits: llama.cpp's lists do not model this step (falcon)
            }
            case "Punctuation" -> out.add(HF_PUNCT);
            default -> out.add("<" + n.path("type").asText() + ">");
        }
    }

    private static final Pattern ESCAPED_CHAR = Pattern.compile("\\\\u([0-9A-Fa-f]{4})|\\\\x\\{([0-9A-Fa-f]+)\\}");

    /** Canonical text of a regex for comparison: char escapes written out, contractions as llama.cpp adapts them. */
    static String normalizeRegex(String r) {
        Matcher m = ESCAPED_CHAR.matcher(r);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            int cp = Integer.parseInt(m.group(1) != null ? m.group(1) : m.group(2), 16);
            m.appendReplacement(b, Matcher.quoteReplacement(Character.toString(cp)));
        }
        m.appendTail(b);
        r = b.toString();
        String s = CI_CONTRACTIONS.matcher(r).replaceAll(Matcher.quoteReplacement(PreTokenizer.CONTRACTIONS));
        if (s.equals(PreTokenizer.GPT2_NO_WS)) s = PreTokenizer.GPT2;
        return s;
    }
}
