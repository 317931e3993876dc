package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE (GPT-2 style) as llama.cpp's {@code llm_tokenizer_bpe}: split special tokens
 * out, pre-tokenize each text fragment with the family's regexes ({@link PreTokenizer}), map
 * each word's UTF-8 bytes to GPT-2's stand-in chars, then merge adjacent symbols by merge rank
 * (lowest first, leftmost on ties) from {@code tokenizer.ggml.merges}.
 *
 * <p>Design note: merges are looked up by token-id pair in a primitive hash map, and merged
 * symbols carry the id of their text, so merging allocates no strings. Words repeat a lot in
 * real text, so encoded words are cached (bounded, {@link #WORD_CACHE_MAX_ENTRIES}). Thread-safe:
 * immutable apart from the concurrent cache.
 */
public final class BpeTokenizer extends VocabTokenizer {
    /** Cached words before the cache is cleared: 64 Ki words, a few MB; bounds memory on adversarial input. */
    static final int WORD_CACHE_MAX_ENTRIES = 1 << 16;
    /** Words longer than this (chars) are not cached: long words are rare and would bloat the cache. */
    static final int WORD_CACHE_MAX_WORD_CHARS = 64;

    private final PreTokenizer pre;
    /** (left id << 32 | right id) to merge rank. */
    private final LongIntMap ranks;
    /** merge rank to the id of the merged token. */
    private final int[] mergeResult;
    /** token id of each byte's stand-in char, -1 when the vocabulary lacks it. */
    private final int[] byteIds = new int[256];
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeTokenizer(Vocab vocab, String[] merges, PreTokenizer pre) {
        super(vocab);
        this.pre = pre;
        if (merges == null) throw new ModelFormatException("BPE tokenizer without 'tokenizer.ggml.merges'");
        this.ranks = new LongIntMap(merges.length);
        this.mergeResult = new int[merges.length];
        for (int i = 0; i < merges.length; i++) {
            String m = merges[i];
            mergeResult[i] = -1;
            int sp = m.indexOf(' ', 1);
            if (sp < 0) continue;
            String l = m.substring(0, sp), r = m.substring(sp + 1);
            int li = vocab.id(l), ri = vocab.id(r), res = vocab.id(l + r);
            if (li < 0 || ri < 0 || res < 0) continue; // cannot produce a token of this vocabulary
            if (ranks.putIfAbsent(((long) li << 32) | (ri & 0xFFFFFFFFL), i)) mergeResult[i] = res;
        }
        for (int b = 0; b < 256; b++) byteIds[b] = vocab.id(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
    }

    public PreTokenizer preTokenizer() { return pre; }

    @Override
    byte[] normalPiece(String text) {
        return ByteLevel.decode(text);
    }

    @Override
    void encodeFragment(String text, boolean afterSpecial, IntList out) {
        for (String word : pre.split(pre.normalize(text))) out.addAll(encodeWord(word));
    }

    int[] encodeWord(String word) {
        boolean cacheable = word.length() <= WORD_CACHE_MAX_WORD_CHARS;
        if (cacheable) {
            int[] hit = cache.get(word);
            if (hit != null) return hit;
        }
        int[] ids = bpe(word.getBytes(StandardCharsets.UTF_8));
        if (cacheable) {
            if (cache.size() >= WORD_CACHE_MAX_ENTRIES) cache.clear();
            cache.put(word, ids);
        }
        return ids;
    }

    private int rank(int left, int right) {
        if (left < 0 || right < 0) return -1;
        return ranks.get(((long) left << 32) | (right & 0xFFFFFFFFL), -1);
    }

    private int[] bpe(byte[] utf8) {
        int n = utf8.length;
        if (n == 0) return new int[0];
        if (pre.ignoreMerges()) {
            int whole = vocab.id(ByteLevel.encode(utf8));
            if (whole >= 0) return new int[] {whole};
        }
        int[] sym = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            sym[i] = byteIds[utf8[i] & 0xFF];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // queue entries: rank << 32 | left index; lowest rank first, then leftmost
        PriorityQueue<Long> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) {
            int r = rank(sym[i], sym[i + 1]);
            if (r >= 0) queue.add(((long) r << 32) | i);
        }
        while (!queue.isEmpty()) {
            long e = queue.poll();
            int r = (int) (e >>> 32), left = (int) e;
            int right = next[left];
            if (sym[left] == Integer.MIN_VALUE || right < 0 || rank(sym[left], sym[right]) != r) continue; // stale
            sym[left] = mergeResult[r];
            sym[right] = Integer.MIN_VALUE;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) {
                int rl = rank(sym[prev[left]], sym[left]);
                if (rl >= 0) queue.add(((long) rl << 32) | prev[left]);
            }
            if (next[left] >= 0) {
                int rr = rank(sym[left], sym[next[left]]);
                if (rr >= 0) queue.add(((long) rr << 32) | left);
            }
        }
        IntList out = new IntList(n);
        for (int i = 0; i >= 0; i = next[i]) if (sym[i] >= 0) out.add(sym[i]);
        return out.toArray();
    }

    /** Words this tokenizer's pre-tokenizer makes of {@code text} (for tests and diagnostics). */
    List<String> words(String text) {
        return pre.split(text);
    }
}
