package dev.sluice.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;

/**
 * What BPE and SentencePiece tokenizers share: the vocabulary, special-token partition,
 * BOS/EOS handling and decoding (llama.cpp's {@code token_to_piece}). Subclasses encode raw
 * text fragments.
 */
abstract sealed class VocabTokenizer implements Tokenizer permits BpeTokenizer, SpmTokenizer {
    final Vocab vocab;
    /** Bytes each token decodes to (special tokens as their text). */
    private final byte[][] pieces;

    VocabTokenizer(Vocab vocab) {
        this.vocab = vocab;
        this.pieces = new byte[vocab.size()][];
        for (int i = 0; i < pieces.length; i++) pieces[i] = piece(i);
    }

    /** The bytes of a normal token. */
    abstract byte[] normalPiece(String text);

    /** The bytes of a user-defined (added, not special) token: its text. */
    byte[] userDefinedPiece(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private byte[] piece(int id) {
        String text = vocab.tokens[id];
        if (vocab.is(id, Vocab.ATTR_UNKNOWN | Vocab.ATTR_CONTROL)) return text.getBytes(StandardCharsets.UTF_8);
        if (vocab.is(id, Vocab.ATTR_USER_DEFINED)) return userDefinedPiece(text);
        if (vocab.is(id, Vocab.ATTR_NORMAL)) return normalPiece(text);
        if (vocab.is(id, Vocab.ATTR_BYTE)) {
            int b = vocab.tokenByte(id);
            return b >= 0 ? new byte[] {(byte) b} : new byte[0];
        }
        return new byte[0]; // unused / undefined tokens render as nothing, as in llama.cpp
    }

    /** Appends the tokens of one raw-text fragment. {@code afterSpecial}: the fragment follows a special token or starts the text. */
    abstract void encodeFragment(String text, boolean afterSpecial, IntList out);

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList out = new IntList(Math.max(16, text.length() / 3));
        if (addSpecial && vocab.addBos) out.add(vocab.bos);
        boolean afterSpecial = true;
        for (Vocab.Fragment f : vocab.partition(text, parseSpecial)) {
            if (f.isText()) {
                encodeFragment(text.substring(f.start(), f.end()), afterSpecial, out);
                afterSpecial = false;
            } else {
                out.add(f.token());
                afterSpecial = true;
            }
        }
        if (addSpecial && vocab.addEos) out.add(vocab.eos);
        return out.toArray();
    }

    /** Whether decoding drops the leading space of the first token (SentencePiece's dummy prefix). */
    boolean stripsLeadingSpace() {
        return vocab.addSpacePrefix;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            byte[] p = tokenBytes(ids[i]);
            int from = i == 0 && stripsLeadingSpace() && p.length > 0 && p[0] == ' ' ? 1 : 0;
            out.write(p, from, p.length - from);
        }
        return new String(out.toByteArray(), StandardCharsets.UTF_8);
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return pieces[id].clone();
    }

    /** Same as {@link #tokenBytes} without the defensive copy, for decoders in this package. */
    byte[] pieceRef(int id) {
        checkId(id);
        return pieces[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("token id " + id + " out of range [0, " + pieces.length + ")");
    }

    @Override
    public String tokenText(int id) {
        checkId(id);
        return vocab.tokens[id];
    }

    /** Id of the token whose vocabulary string is {@code text}, or -1. */
    public int tokenId(String text) {
        return vocab.id(text);
    }

    /** The token's GGUF type ({@link TokenType}). */
    public int tokenType(int id) {
        checkId(id);
        int a = vocab.attrs[id];
        if ((a & Vocab.ATTR_USER_DEFINED) != 0) return TokenType.USER_DEFINED;
        if ((a & Vocab.ATTR_UNUSED) != 0) return TokenType.UNUSED;
        if ((a & Vocab.ATTR_CONTROL) != 0) return TokenType.CONTROL;
        if ((a & Vocab.ATTR_UNKNOWN) != 0) return TokenType.UNKNOWN;
        if ((a & Vocab.ATTR_BYTE) != 0) return TokenType.BYTE;
        if ((a & Vocab.ATTR_NORMAL) != 0) return TokenType.NORMAL;
        return TokenType.UNDEFINED;
    }

    @Override
    public int vocabSize() { return vocab.size(); }

    @Override
    public int bosId() { return vocab.bos; }

    @Override
    public int eosId() { return vocab.eos; }

    /** Whether {@code encode(..., addSpecial=true, ...)} adds BOS. */
    public boolean addsBos() { return vocab.addBos; }

    /** Whether {@code encode(..., addSpecial=true, ...)} adds EOS. */
    public boolean addsEos() { return vocab.addEos; }

    @Override
    public Set<Integer> endOfGenerationIds() { return vocab.eog; }

    @Override
    public boolean isSpecial(int id) {
        checkId(id);
        return vocab.is(id, Vocab.ATTR_CONTROL | Vocab.ATTR_UNKNOWN);
    }

    @Override
    public String toString() { return getClass().getSimpleName() + "[" + vocab + "]"; }

    /** Growable int array. */
    static final class IntList {
        int[] a;
        int n;

        IntList(int cap) { a = new int[Math.max(4, cap)]; }

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }

        void addAll(int[] v) {
            if (n + v.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
            System.arraycopy(v, 0, a, n, v.length);
            n += v.length;
        }

        int[] toArray() { return Arrays.copyOf(a, n); }
    }
}
