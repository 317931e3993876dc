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

    /** GGUF metadata for the tokenizer of the Hugging Face model in {@code hfDir}. */
    public static Map<String, Object> toGGUFMetadata(Path hfDir) {
        Path tj = hfDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tj)) throw ModelFormatException.of(hfDir, "no tokenizer.json (needed to build the tokenizer)");
        JsonNode root = read(tj);
        JsonNode config = readOptional(hfDir.resolve("tokenizer_config.json"));
        JsonNode modelConfig = readOptional(hfDir.resolve("config.json"));
        try {
            return convert(root, config, modelConfig, hfDir);
        } catch (ModelFormatException e) {
            throw e.getMessage().startsWith(hfDir.toString()) ? e : ModelFormatException.of(tj, e.getMessage());
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

    private static Map<String, Object> convert(JsonNode root, JsonNode cfg, JsonNode modelCfg, Path dir) {
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
        int n = maxId + 1;
        int cfgVocab = modelCfg.path("vocab_size").asInt(0);
        if (cfgVocab == 0) cfgVocab = modelCfg.path("text_config").path("vocab_size").asInt(0);
        if (cfgVocab > n) n = cfgVocab;

        boolean spm = isSentencePieceStyle(root);
        String[] merges = readMerges(model.path("merges"));
        Map<String, Object> md = new LinkedHashMap<>();
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
            if (a != null) {
                if (a.path("special").asBoolean(false) || looksSpecial(t)) {
                    types[i] = TokenType.CONTROL;
                } else {
                    if (!spm) t = t.replace('\u2581', ' ');
                    types[i] = TokenType.USER_DEFINED;
                }
            } else if (spm && t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
                types[i] = TokenType.BYTE;
            } else if (t.equals(unkText)) {
                types[i] = TokenType.UNKNOWN;
            } else {
                types[i] = TokenType.NORMAL;
            }
            tokens[i] = t;
        }
        md.put("tokenizer.ggml.model", spm ? "llama" : "gpt2");
        if (!spm) md.put("tokenizer.ggml.pre", detectPre(root.path("pre_tokenizer")));
        md.put("tokenizer.ggml.tokens", tokens);
        if (spm) md.put("tokenizer.ggml.scores", scoresFromMerges(tokens, types, merges));
        md.put("tokenizer.ggml.token_type", types);
        if (!spm) md.put("tokenizer.ggml.merges", merges);
        if (spm) md.put("tokenizer.ggml.add_space_prefix", addsSpacePrefix(root));

        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < n; i++) ids.putIfAbsent(tokens[i], i);
        putId(md, "tokenizer.ggml.bos_token_id", tokenName(cfg.path("bos_token")), ids, modelCfg.path("bos_token_id"));
        putId(md, "tokenizer.ggml.eos_token_id", tokenName(cfg.path("eos_token")), ids, modelCfg.path("eos_token_id"));
        putId(md, "tokenizer.ggml.unknown_token_id", tokenName(cfg.path("unk_token")), ids, null);
        putId(md, "tokenizer.ggml.padding_token_id", tokenName(cfg.path("pad_token")), ids, modelCfg.path("pad_token_id"));

        Boolean addBos = cfg.has("add_bos_token") && cfg.get("add_bos_token").isBoolean() ? cfg.get("add_bos_token").asBoolean() : null;
        Boolean addEos = cfg.has("add_eos_token") && cfg.get("add_eos_token").isBoolean() ? cfg.get("add_eos_token").asBoolean() : null;
        String bosText = md.containsKey("tokenizer.ggml.bos_token_id") ? tokens[(Integer) md.get("tokenizer.ggml.bos_token_id")] : null;
        String eosText = md.containsKey("tokenizer.ggml.eos_token_id") ? tokens[(Integer) md.get("tokenizer.ggml.eos_token_id")] : null;
        List<String> template = singleTemplate(root.path("post_processor"));
        if (addBos == null && template != null) addBos = !template.isEmpty() && template.getFirst().equals(bosText);
        if (addEos == null && template != null) addEos = !template.isEmpty() && template.getLast().equals(eosText);
        if (addBos == null) addBos = spm;
        if (addEos == null) addEos = false;
        if (addBos && bosText == null) addBos = false;
        if (addEos && eosText == null) addEos = false;
        md.put("tokenizer.ggml.add_bos_token", addBos);
        md.put("tokenizer.ggml.add_eos_token", addEos);

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

    private static void putId(Map<String, Object> md, String key, String text, Map<String, Integer> ids, JsonNode fallback) {
        if (text != null) {
            Integer id = ids.get(text);
            if (id != null) {
                md.put(key, id);
                return;
            }
        }
        if (fallback != null) {
            JsonNode f = fallback.isArray() && !fallback.isEmpty() ? fallback.get(0) : fallback;
            if (f.isInt() && f.asInt() >= 0) md.put(key, f.asInt());
        }
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
            "starcoder", "falcon", "gpt-4o", "qwen35", "tekken", "chameleon", "bloom", "viking", "seed-coder", "bailingmoe", "tiny_aya",
            "superbpe", "default");

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
                if (p.has("Regex")) out.add(p.path("Regex").asText());
                else out.add(Pattern.quote(p.path("String").asText()));
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
