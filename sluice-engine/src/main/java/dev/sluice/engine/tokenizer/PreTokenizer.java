package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE pre-tokenizers, selected by GGUF {@code tokenizer.ggml.pre}: for each family the
 * list of regexes that llama.cpp ({@code llm_tokenizer_bpe}) applies in sequence.
 *
 * <p>Semantics (llama.cpp's {@code unicode_regex_split}, Hugging Face's {@code Split} with
 * behaviour {@code Isolated}): each regex splits every current fragment into its matches and
 * the text between them, and the next regex works on all of those fragments separately. The
 * regexes run with {@link Pattern#UNICODE_CHARACTER_CLASS}, so {@code \s} is Unicode
 * White_Space as in Oniguruma (the engine of Hugging Face {@code tokenizers}); {@code \p{L}},
 * {@code \p{N}}, ... are Unicode general categories. Case-insensitive contractions are written
 * out ASCII-only, as llama.cpp adapts them.
 *
 * <p>Families whose regexes backtrack quadratically on long digit runs ({@code superbpe},
 * {@code tiny_aya}: 100k digits take tens of seconds) are left out rather than exposed to
 * adversarial prompts; so are those that need llama.cpp's custom code ({@code kimi-k2},
 * {@code afmoe}, {@code gemma4}).
 */
public final class PreTokenizer {
    static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS;

    // llama.cpp's GPT-2 regex; Hugging Face's ByteLevel adds "|\s+", which changes no split
    // here because text between matches is kept as a fragment of its own.
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    static final String LLAMA3 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN2 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN35 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String GPT2_NO_WS = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    static final String DEEPSEEK_LLM_LETTERS = "\\s?[A-Za-z\\u00B5\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u01BA\\u01BC-\\u01BF\\u01C4-\\u0293\\u0295-\\u02AF\\u0370-\\u0373\\u0376\\u0377\\u037B-\\u037D\\u037F\\u0386\\u0388-\\u038A\\u038C\\u038E-\\u03A1\\u03A3-\\u03F5\\u03F7-\\u0481\\u048A-\\u052F\\u0531-\\u0556\\u10A0-\\u10C5\\u13A0-\\u13F5\\u13F8-\\u13FD\\u1C90-\\u1CBA\\u1CBD-\\u1CBF\\u1D00-\\u1D2B\\u1D6B-\\u1D77\\u1D79-\\u1D9A\\u1E00-\\u1F15\\u1F18-\\u1F1D\\u1F20-\\u1F45\\u1F48-\\u1F4D\\u1F50-\\u1F57\\u1F59\\u1F5B\\u1F5D\\u1F5F-\\u1F7D\\u1F80-\\u1FB4\\u1FB6-\\u1FBC\\u1FBE\\u1FC2-\\u1FC4\\u1FC6-\\u1FCC\\u1FD0-\\u1FD3\\u1FD6-\\u1FDB\\u1FE0-\\u1FEC\\u1FF2-\\u1FF4\\u1FF6-\\u1FFC\\u2102\\u2107\\u210A-\\u2113\\u2115\\u2119-\\u211D\\u2124\\u2126\\u2128\\u212A-\\u212D\\u212F-\\u2134\\u2139\\u213C-\\u213F\\u2145-\\u2149\\u214E\\u2183\\u2184\\u2C00-\\u2C7B\\u2C7E-\\u2CE4\\u2CEB-\\u2CEE\\u2CF2\\u2CF3\\uA640-\\uA66D\\uA680-\\uA69B\\uA722-\\uA76F\\uA771-\\uA787\\uA78B-\\uA78E\\uAB70-\\uABBF\\uFB00-\\uFB06\\uFB13-\\uFB17\\uFF21-\\uFF3A\\uFF41-\\uFF5A\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+";
    static final String DEEPSEEK3_MAIN = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
    // GPT-4o and Tekken: Hugging Face's regexes as published (Java has \p{Lu} etc., so llama.cpp's
    // lookahead rewrite for std::regex is not needed)
    static final String GPT4O = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" + CONTRACTIONS
            + "?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" + CONTRACTIONS
            + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String TEKKEN = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
            + "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** A family: its regexes and the flags llama.cpp sets with it. */
    private record Family(List<String> regexes, boolean ignoreMerges, boolean addBos) {}

    /**
     * Families whose Hugging Face tokenizer NFC-normalizes text first (Qwen 2, 2.5 and 3, and
     * DeepSeek-R1 distilled onto Qwen). llama.cpp skips this step; we apply it so that decomposed
     * input (e + U+0301) tokenizes as the model was trained.
     */
    private static final Set<String> NFC_FAMILIES = Set.of("qwen2", "deepseek-r1-qwen");

    private static final Map<String, Family> FAMILIES = new TreeMap<>();

    private static void def(List<String> names, boolean ignoreMerges, boolean addBos, String... regexes) {
        for (String n : names) FAMILIES.put(n, new Family(List.of(regexes), ignoreMerges, addBos));
    }

    static {
        def(List.of("default"), false, false,
                "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_NO_WS, "\\p{N}+", "[0-9][0-9][0-9]");
        def(List.of("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"), true, true, LLAMA3);
        def(List.of("dbrx", "smaug-bpe", "glm4", "chatglm-bpe"), false, false, LLAMA3);
        def(List.of("deepseek-llm"), false, false,
                "[\r\n]", DEEPSEEK_LLM_LETTERS, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+");
        def(List.of("deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"), false, false,
                "\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", DEEPSEEK3_MAIN);
        def(List.of("deepseek-coder"), false, false,
                "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}");
        def(List.of("falcon"), false, false,
                "[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_NO_WS, "[0-9][0-9][0-9]");
        def(List.of("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"), false, false,
                "\\p{N}", GPT2_NO_WS);
        def(List.of("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
                "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4"), false, false, GPT2);
        def(List.of("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"), false, false, QWEN2);
        def(List.of("qwen35"), false, false, QWEN35);
        def(List.of("poro-chat", "bloom", "gpt3-finnish"), false, false, " ?[^(\\s|.,!?…。，、।۔،)]+");
        def(List.of("viking"), false, false, " ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}");
        def(List.of("tekken"), true, true, TEKKEN);
        def(List.of("chameleon"), false, true,
                "<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", GPT2_NO_WS);
        def(List.of("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"), false, false, GPT4O);
        def(List.of("bailingmoe", "bailingmoe2", "llada-moe"), false, false,
                "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+");
        def(List.of("seed-coder"), false, false,
                CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        def(List.of("grok-2"), false, false, QWEN2);
        def(List.of("ufakzeka"), false, false, "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        def(List.of("laguna"), false, false, "[^\\n]+|[\\n]+",
                CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        def(List.of("minicpm5"), true, false, "\\p{N}{1,3}",
                CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
    }

    /** The {@code tokenizer.ggml.pre} names this class knows. */
    public static Set<String> names() {
        return FAMILIES.keySet();
    }

    private final String name;
    private final Pattern[] patterns;
    private final boolean ignoreMerges;
    private final boolean nfc;

    private PreTokenizer(String name, Family f) {
        this.name = name;
        this.patterns = f.regexes.stream().map(r -> Pattern.compile(r, FLAGS)).toArray(Pattern[]::new);
        this.ignoreMerges = f.ignoreMerges;
        this.nfc = NFC_FAMILIES.contains(name);
    }

    /**
     * The pre-tokenizer for a {@code tokenizer.ggml.pre} value; null or empty selects llama.cpp's
     * {@code default}. Throws {@link ModelFormatException} for names it does not know.
     */
    public static PreTokenizer forName(String pre) {
        String key = pre == null || pre.isEmpty() ? "default" : pre;
        Family f = FAMILIES.get(key);
        if (f == null) {
            throw new ModelFormatException("unknown pre-tokenizer type tokenizer.ggml.pre='" + pre + "' (supported: " + String.join(", ", FAMILIES.keySet()) + ")");
        }
        return new PreTokenizer(key, f);
    }

    /** The regexes of a family, in the order they apply. */
    static List<String> regexes(String pre) {
        Family f = FAMILIES.get(pre);
        return f == null ? List.of() : f.regexes;
    }

    static boolean defaultAddBos(String pre) {
        Family f = FAMILIES.get(pre == null || pre.isEmpty() ? "default" : pre);
        return f != null && f.addBos;
    }

    public String name() { return name; }

    /** Whether a pre-tokenized word that is itself a token skips the merges (llama.cpp's ignore_merges). */
    boolean ignoreMerges() { return ignoreMerges; }

    /** Text as the family's normalizer leaves it (NFC for the Qwen families, else unchanged). */
    String normalize(String text) {
        return nfc && !Normalizer.isNormalized(text, Normalizer.Form.NFC) ? Normalizer.normalize(text, Normalizer.Form.NFC) : text;
    }

    /** Splits text into the words that BPE then encodes one by one. Never returns empty words. */
    public List<String> split(String text) {
        // fragment boundaries as [start0, end0, start1, end1, ...]
        int[] cur = {0, text.length()};
        int curLen = 2;
        for (Pattern p : patterns) {
            int[] out = new int[Math.max(8, curLen * 2)];
            int outLen = 0;
            Matcher m = p.matcher(text);
            for (int f = 0; f < curLen; f += 2) {
                int s = cur[f], e = cur[f + 1];
                m.region(s, e);
                int last = s;
                while (m.find()) {
                    int ms = m.start(), me = m.end();
                    if (ms > last) {
                        if (outLen + 2 > out.length) out = java.util.Arrays.copyOf(out, out.length * 2);
                        out[outLen++] = last;
                        out[outLen++] = ms;
                    }
                    if (me > ms) {
                        if (outLen + 2 > out.length) out = java.util.Arrays.copyOf(out, out.length * 2);
                        out[outLen++] = ms;
                        out[outLen++] = me;
                    }
                    last = me;
                }
                if (last < e) {
                    if (outLen + 2 > out.length) out = java.util.Arrays.copyOf(out, out.length * 2);
                    out[outLen++] = last;
                    out[outLen++] = e;
                }
            }
            cur = out;
            curLen = outLen;
        }
        List<String> words = new ArrayList<>(curLen / 2);
        for (int i = 0; i < curLen; i += 2) words.add(text.substring(cur[i], cur[i + 1]));
        return words;
    }

    @Override
    public String toString() { return "PreTokenizer[" + name + "]"; }
}
