package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A vocabulary as llama.cpp's {@code llama_vocab} loads it from GGUF {@code tokenizer.*} metadata:
 * token texts, scores, per-token attributes, special ids and the add-BOS/EOS flags, the
 * end-of-generation set, and the special-token partition that runs before any model-specific
 * tokenization.
 *
 * <p>Design note: attributes are bit flags like llama.cpp's {@code llama_token_attr} because its
 * load step adds flags to tokens (control for EOT-looking tokens, unused, rstrip for Phi-3), and
 * those flags decide which tokens the partition matches. Immutable after construction.
 */
final class Vocab {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Vocab.class);
    static final int ATTR_UNDEFINED = 0;
    static final int ATTR_UNKNOWN = 1;
    static final int ATTR_UNUSED = 1 << 1;
    static final int ATTR_NORMAL = 1 << 2;
    static final int ATTR_CONTROL = 1 << 3;
    static final int ATTR_USER_DEFINED = 1 << 4;
    static final int ATTR_BYTE = 1 << 5;
    static final int ATTR_LSTRIP = 1 << 7;
    static final int ATTR_RSTRIP = 1 << 8;

    enum Kind { SPM, BPE }

    final Kind kind;
    final String pre;
    final String[] tokens;
    final float[] scores;
    final int[] attrs;
    final Map<String, Integer> ids;
    final int bos, eos, eot, eom, unk, pad;
    final boolean addBos, addEos, addSpacePrefix;
    final Set<Integer> eog;
    /** Control, user-defined and unknown tokens, longest text (in UTF-8 bytes) first. */
    private final int[] specialCache;

    /** A piece of input: either raw text {@code [start, end)} or a token id found by the partition. */
    record Fragment(int token, int start, int end) {
        boolean isText() { return token < 0; }
    }

    Vocab(Map<String, Object> md, Kind kind, String pre) {
        this.kind = kind;
        this.pre = pre;
        Object tokObj = md.get("tokenizer.ggml.tokens");
        if (!(tokObj instanceof String[] toks)) throw new ModelFormatException("missing or malformed metadata 'tokenizer.ggml.tokens' (expected a string array)");
        int n = toks.length;
        this.tokens = toks.clone();
        this.scores = new float[n];
        Object sc = md.get("tokenizer.ggml.scores");
        if (sc instanceof float[] f) {
            if (f.length < n) throw new ModelFormatException("tokenizer.ggml.scores has " + f.length + " entries for " + n + " tokens");
            System.arraycopy(f, 0, scores, 0, n);
        } else if (sc instanceof int[] iv) {
            if (iv.length < n) throw new ModelFormatException("tokenizer.ggml.scores has " + iv.length + " entries for " + n + " tokens");
            for (int i = 0; i < n; i++) scores[i] = iv[i];
        } else if (sc != null) {
            throw new ModelFormatException("metadata 'tokenizer.ggml.scores' has type " + sc.getClass().getSimpleName() + ", expected a float32 or int32 array");
        }
        this.attrs = new int[n];
        Object tt = md.get("tokenizer.ggml.token_type");
        int[] types = null;
        if (tt instanceof int[] t) {
            if (t.length < n) throw new ModelFormatException("tokenizer.ggml.token_type has " + t.length + " entries for " + n + " tokens");
            types = t;
        } else if (tt != null) {
            throw new ModelFormatException("metadata 'tokenizer.ggml.token_type' has type " + tt.getClass().getSimpleName() + ", expected an int32 array");
        }
        this.ids = new HashMap<>(n * 2);
        int duplicates = 0;
        for (int i = 0; i < n; i++) {
            String w = tokens[i];
            if (w == null || w.isEmpty()) {
                w = "[EMPTY_" + i + "]";
                tokens[i] = w;
            }
            Integer prev = ids.putIfAbsent(w, i);
            if (prev != null) duplicates++; // e.g. two invalid-UTF-8 tokens that both read as U+FFFD: the first id wins
            attrs[i] = types == null ? ATTR_NORMAL : switch (types[i]) {
                case TokenType.UNKNOWN -> ATTR_UNKNOWN;
                case TokenType.UNUSED -> ATTR_UNUSED;
                case TokenType.NORMAL -> ATTR_NORMAL;
                case TokenType.CONTROL -> ATTR_CONTROL;
                case TokenType.USER_DEFINED -> ATTR_USER_DEFINED;
                case TokenType.BYTE -> ATTR_BYTE;
                default -> ATTR_UNDEFINED;
            };
        }

        if (duplicates > 0) log.warn("{} tokens repeat an earlier token's text (invalid UTF-8 in the vocabulary?); the first id is used when encoding", duplicates);

        // defaults per model type, then metadata (llama.cpp llama_vocab::impl::load)
        int dBos, dEos, dUnk;
        boolean dAddBos, dAddEos = false, dSpace;
        if (kind == Kind.SPM) {
            dBos = 1; dEos = 2; dUnk = 0; dAddBos = true; dSpace = true;
        } else {
            dBos = 11; dEos = 11; dUnk = -1; dSpace = false;
            dAddBos = PreTokenizer.defaultAddBos(pre);
        }
        this.bos = id(md, "tokenizer.ggml.bos_token_id", dBos, n);
        this.eos = id(md, "tokenizer.ggml.eos_token_id", dEos, n);
        this.unk = id(md, "tokenizer.ggml.unknown_token_id", dUnk, n);
        this.pad = id(md, "tokenizer.ggml.padding_token_id", -1, n);
        this.addBos = bool(md, "tokenizer.ggml.add_bos_token", dAddBos);
        this.addEos = bool(md, "tokenizer.ggml.add_eos_token", dAddEos);
        this.addSpacePrefix = bool(md, "tokenizer.ggml.add_space_prefix", dSpace);
        if (addBos && bos < 0) throw new ModelFormatException("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
        if (addEos && eos < 0) throw new ModelFormatException("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");

        // auto-detect EOT / EOM / FIM tokens by text, forcing them to control type (llama.cpp)
        int eotId = id(md, "tokenizer.ggml.eot_token_id", -1, n);
        int eomId = id(md, "tokenizer.ggml.eom_token_id", -1, n);
        int fimPad = id(md, "tokenizer.ggml.fim_pad_token_id", -1, n);
        int fimRep = id(md, "tokenizer.ggml.fim_rep_token_id", -1, n);
        int fimSep = id(md, "tokenizer.ggml.fim_sep_token_id", -1, n);
        if (eotId < 0) eotId = findAndControl(EOT_TEXTS);
        if (eomId < 0) eomId = findAndControl(Set.of("<|eom_id|>"));
        findAndControl(Set.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"));
        findAndControl(Set.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"));
        findAndControl(Set.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"));
        if (fimPad < 0) fimPad = findAndControl(Set.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"));
        if (fimRep < 0) fimRep = findAndControl(Set.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"));
        if (fimSep < 0) fimSep = findAndControl(Set.of("<|file_sep|>"));
        this.eot = eotId;
        this.eom = eomId;
        for (int i = 0; i < n; i++) {
            if ((attrs[i] & ATTR_CONTROL) != 0 && (attrs[i] & ATTR_UNUSED) == 0 && tokens[i].contains("unused")) attrs[i] |= ATTR_UNUSED;
        }

        // end-of-generation set (llama.cpp's text heuristic plus the explicit ids)
        Set<Integer> eogSet = new LinkedHashSet<>();
        for (int f : new int[] {fimPad, fimRep, fimSep}) if (f >= 0) eogSet.add(f);
        for (int i = 0; i < n; i++) {
            if (EOG_TEXTS.contains(tokens[i])) {
                eogSet.add(i);
                attrs[i] |= ATTR_CONTROL;
            }
        }
        for (String t : new String[] {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
            Integer id = ids.get(t);
            if (id != null) attrs[id] = ATTR_USER_DEFINED;
        }
        if (eos >= 0) eogSet.add(eos);
        if (eot >= 0) eogSet.add(eot);
        if (eom >= 0) eogSet.add(eom);
        Integer endId = ids.get("<|end|>");
        if (endId != null && eogSet.contains(endId)
                && ((ids.containsKey("<|return|>") && ids.containsKey("<|call|>")) || (ids.containsKey("<|calls|>") && ids.containsKey("<|flush|>")))) {
            eogSet.remove(endId);
            attrs[endId] = ATTR_USER_DEFINED;
        }
        Integer sId = ids.get("</s>");
        if (sId != null && eogSet.contains(sId) && ids.containsKey("<|tool_response>")) {
            eogSet.remove(sId);
            attrs[sId] = ATTR_NORMAL;
        }
        this.eog = Collections.unmodifiableSet(eogSet);

        List<Integer> special = new ArrayList<>();
        for (int i = 0; i < n; i++) if ((attrs[i] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) != 0) special.add(i);
        int[] byteLen = new int[n];
        for (int id : special) byteLen[id] = tokens[id].getBytes(StandardCharsets.UTF_8).length;
        special.sort((a, b) -> Integer.compare(byteLen[b], byteLen[a]));
        this.specialCache = special.stream().mapToInt(Integer::intValue).toArray();

        // per-model attributes (llama.cpp sets these by model name)
        Object nameObj = md.get("general.name");
        String name = nameObj instanceof String s ? s.toLowerCase(Locale.ROOT) : "";
        if (name.contains("phi-3") || name.contains("phi3")) {
            for (int id : specialCache) attrs[id] |= ATTR_RSTRIP;
            Integer s = ids.get("</s>");
            if (s != null) attrs[s] |= ATTR_RSTRIP;
            for (String t : new String[] {"<unk>", "<s>", "<|endoftext|>"}) {
                Integer id = ids.get(t);
                if (id != null) attrs[id] &= ~ATTR_RSTRIP;
            }
        }
    }

    private static final Set<String> EOT_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
            "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");

    /** Texts llama.cpp treats as end of generation. */
    static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
            "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[");

    private int findAndControl(Set<String> texts) {
        for (int i = 0; i < tokens.length; i++) {
            if (texts.contains(tokens[i])) {
                attrs[i] |= ATTR_CONTROL;
                return i;
            }
        }
        return -1;
    }

    private static int id(Map<String, Object> md, String key, int dflt, int n) {
        if (dflt >= n) dflt = -1;
        Object v = md.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Number num)) throw new ModelFormatException("metadata '" + key + "' is " + v.getClass().getSimpleName() + ", expected an integer");
        long id = num.longValue() & 0xFFFFFFFFL;
        return id < n ? (int) id : dflt;
    }

    private static boolean bool(Map<String, Object> md, String key, boolean dflt) {
        Object v = md.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        throw new ModelFormatException("metadata '" + key + "' is " + v.getClass().getSimpleName() + ", expected BOOL");
    }

    int size() { return tokens.length; }

    int id(String text) {
        Integer i = ids.get(text);
        return i == null ? -1 : i;
    }

    boolean is(int id, int attr) { return (attrs[id] & attr) != 0; }

    /**
     * Splits {@code text} on special-token texts as llama.cpp's {@code tokenizer_st_partition}:
     * tokens longest first, each splitting every remaining text fragment at all its occurrences.
     * Control and unknown tokens take part only when {@code parseSpecial}; user-defined ones always.
     */
    List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        frags.add(new Fragment(-1, 0, text.length()));
        // Quick rejection: with many special tokens (thousands of added tokens in some vocabs),
        // test each token's first three chars against the trigrams of the text before searching.
        LongIntMap trigrams = null;
        if (specialCache.length > TRIGRAM_FILTER_MIN_SPECIALS && text.length() >= 3) {
            trigrams = new LongIntMap(text.length());
            for (int i = 0; i + 3 <= text.length(); i++) trigrams.putIfAbsent(trigram(text, i), 1);
        }
        for (int id : specialCache) {
            if (!parseSpecial && (attrs[id] & (ATTR_CONTROL | ATTR_UNKNOWN)) != 0) continue;
            String tok = tokens[id];
            if (trigrams != null && tok.length() >= 3 && trigrams.get(trigram(tok, 0), 0) == 0) continue;
            if (text.indexOf(tok) < 0) continue;
            List<Fragment> next = new ArrayList<>(frags.size() + 4);
            for (Fragment f : frags) {
                if (!f.isText()) {
                    next.add(f);
                    continue;
                }
                int start = f.start, end = f.end;
                while (true) {
                    int match = indexOf(text, tok, start, end);
                    if (match < 0) {
                        next.add(new Fragment(-1, start, end));
                        break;
                    }
                    int leftEnd = match;
                    if ((attrs[id] & ATTR_LSTRIP) != 0) while (leftEnd > start && isSpace(text.charAt(leftEnd - 1))) leftEnd--;
                    if (leftEnd > start) next.add(new Fragment(-1, start, leftEnd));
                    next.add(new Fragment(id, match, match + tok.length()));
                    int rightStart = match + tok.length();
                    if (rightStart >= end) break;
                    if ((attrs[id] & ATTR_RSTRIP) != 0) while (rightStart < end && isSpace(text.charAt(rightStart))) rightStart++;
                    if (rightStart >= end) break;
                    start = rightStart;
                }
            }
            frags = next;
        }
        return frags;
    }

    /** Special tokens in a vocabulary above which {@link #partition} filters by trigram first (a plain scan is cheaper below). */
    static final int TRIGRAM_FILTER_MIN_SPECIALS = 64;

    private static long trigram(String s, int i) {
        return ((long) s.charAt(i) << 32) | ((long) s.charAt(i + 1) << 16) | s.charAt(i + 2);
    }

    private static int indexOf(String text, String tok, int start, int end) {
        int i = text.indexOf(tok, start);
        return i >= 0 && i + tok.length() <= end ? i : -1;
    }

    /** C {@code isspace} in the "C" locale. */
    static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    /** Byte-fallback token for a byte ({@code <0xXX>}, else the byte as a one-char token), or -1. */
    int byteToken(int b) {
        Integer id = ids.get(String.format("<0x%02X>", b));
        if (id != null) return id;
        id = ids.get(String.valueOf((char) b));
        return id == null ? -1 : id;
    }

    /** The byte a {@code <0xXX>} token stands for. */
    int tokenByte(int id) {
        String t = tokens[id];
        if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) return Integer.parseInt(t.substring(3, 5), 16);
        if (t.length() == 1 && t.charAt(0) < 256) return t.charAt(0);
        return -1;
    }

    @Override
    public String toString() {
        return kind + " vocab, " + tokens.length + " tokens" + (pre != null ? ", pre " + pre : "") + ", bos " + bos + ", eos " + eos
                + ", eog " + eog + ", " + specialCache.length + " special tokens";
    }
}
