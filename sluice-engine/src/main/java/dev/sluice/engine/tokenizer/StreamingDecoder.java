package dev.sluice.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns generated token ids into text one token at a time without ever splitting a UTF-8
 * sequence: bytes of an incomplete multi-byte character (an emoji or CJK character spread over
 * byte-fallback or byte-level tokens) are held until the character completes. Bytes that can
 * never form a character come out as U+FFFD at once, and {@link #flush()} turns bytes still held
 * at the end into U+FFFD.
 *
 * <p>Special (control) tokens render as nothing unless {@code renderSpecial}. With
 * {@code atSequenceStart} and a SentencePiece tokenizer that adds a space prefix, the leading
 * space of the first token is dropped, as llama.cpp's detokenizer does for a whole sequence;
 * decoding a continuation (after a prompt) keeps it.
 *
 * <p>Not thread-safe: one decoder per stream.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean renderSpecial;
    private boolean stripNextSpace;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream(8);

    public StreamingDecoder(Tokenizer tokenizer, boolean renderSpecial, boolean atSequenceStart) {
        this.tokenizer = tokenizer;
        this.renderSpecial = renderSpecial;
        this.stripNextSpace = atSequenceStart && tokenizer instanceof SpmTokenizer s && s.addsSpacePrefix();
    }

    /** A decoder for generated text: specials hidden, leading space kept. */
    public StreamingDecoder(Tokenizer tokenizer) {
        this(tokenizer, false, false);
    }

    /** Adds one token; returns the text that is now complete (possibly empty, never null). */
    public String accept(int tokenId) {
        byte[] piece;
        if (!renderSpecial && tokenizer.isSpecial(tokenId)) {
            piece = new byte[0];
        } else {
            piece = tokenizer instanceof VocabTokenizer v ? v.pieceRef(tokenId) : tokenizer.tokenBytes(tokenId);
        }
        int from = 0;
        if (stripNextSpace) {
            if (piece.length > 0 && piece[0] == ' ') from = 1;
            stripNextSpace = false;
        }
        pending.write(piece, from, piece.length - from);
        return drain(false);
    }

    /** Returns whatever is held, with incomplete characters as U+FFFD, and resets the decoder. */
    public String flush() {
        return drain(true);
    }

    /** Bytes held back because they do not yet form a complete character. */
    public int pendingBytes() {
        return pending.size() - completeLength(pending.toByteArray());
    }

    private String drain(boolean all) {
        if (pending.size() == 0) return "";
        byte[] b = pending.toByteArray();
        int n = all ? b.length : completeLength(b);
        pending.reset();
        pending.write(b, n, b.length - n);
        return n == 0 ? "" : new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /**
     * Length of the prefix of {@code b} to decode now: all of it, except a trailing lead byte
     * and its continuation bytes when the character still misses bytes.
     */
    static int completeLength(byte[] b) {
        int n = b.length;
        // look back at most 3 bytes for the lead byte of the last character
        for (int k = 1; k <= Math.min(3, n); k++) {
            int c = b[n - k] & 0xFF;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking
            int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return need > k ? n - k : n;
        }
        return n; // only continuation bytes at the end: invalid, decode (to U+FFFD) now
    }
}
