package dev.sluice.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE as llama.cpp's {@code llm_tokenizer_spm}: spaces become {@code ▁}, a space
 * is prefixed to text at the start and after each special token (SentencePiece's dummy
 * prefix, {@code tokenizer.ggml.add_space_prefix}), then adjacent symbols merge while their
 * concatenation is a vocabulary token, highest score first (leftmost on ties). Symbols left that
 * are not tokens fall back to byte tokens {@code <0xXX>}.
 *
 * <p>Thread-safe: immutable; each call works on its own arrays.
 */
public final class SpmTokenizer extends VocabTokenizer {
    private static final char SPACE = '\u2581';

    SpmTokenizer(Vocab vocab) {
        super(vocab);
    }

    /** Whether a space is prefixed to the text (and stripped again from the first decoded token). */
    public boolean addsSpacePrefix() { return vocab.addSpacePrefix; }

    @Override
    byte[] normalPiece(String text) {
        return text.replace(SPACE, ' ').getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Added tokens of SentencePiece vocabularies may spell spaces as {@code ▁} (Gemma's whitespace
     * runs); llama.cpp's converter rewrites them to spaces, so decoding does the same here.
     */
    @Override
    byte[] userDefinedPiece(String text) {
        return normalPiece(text);
    }

    @Override
    void encodeFragment(String fragment, boolean afterSpecial, IntList out) {
        String text = (vocab.addSpacePrefix && afterSpecial ? " " + fragment : fragment).replace(' ', SPACE);
        // symbols: code points, as [start, end) char offsets in a linked list
        int n = text.codePointCount(0, text.length());
        if (n == 0) return;
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, off = 0; i < n; i++) {
            int cl = Character.charCount(text.codePointAt(off));
            start[i] = off;
            len[i] = cl;
            off += cl;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        record Bigram(float score, int left, int right, int size) {}
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> {
            int c = Float.compare(b.score, a.score);
            return c != 0 ? c : Integer.compare(a.left, b.left);
        });
        for (int i = 1; i < n; i++) {
            int id = vocab.id(text.substring(start[i - 1], start[i] + len[i]));
            if (id >= 0) queue.add(new Bigram(vocab.scores[id], i - 1, i, len[i - 1] + len[i]));
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left, r = b.right;
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            for (int[] pair : new int[][] {{prev[l], l}, {l, next[l]}}) {
                int a = pair[0], c = pair[1];
                if (a < 0 || c < 0) continue;
                int id = vocab.id(text.substring(start[a], start[c] + len[c]));
                if (id >= 0) queue.add(new Bigram(vocab.scores[id], a, c, len[a] + len[c]));
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            String piece = text.substring(start[i], start[i] + len[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                int bt = vocab.byteToken(b & 0xFF);
                int t = bt >= 0 ? bt : vocab.unk;
                if (t >= 0) out.add(t);
            }
        }
    }
}
