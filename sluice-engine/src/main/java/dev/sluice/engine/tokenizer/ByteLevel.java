package dev.sluice.engine.tokenizer;

/**
 * GPT-2's reversible byte to unicode mapping used by byte-level BPE: printable Latin-1 bytes
 * map to themselves, the other 68 bytes to U+0100.. in order (so a space becomes {@code Ġ}).
 */
final class ByteLevel {
    private ByteLevel() {}

    /** byte (0..255) to its stand-in char. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** stand-in char to byte, -1 when the char is not a stand-in. */
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        boolean[] direct = new boolean[256];
        for (int b = 0x21; b <= 0x7E; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) {
            char c = direct[b] ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    /** The byte a stand-in char encodes, or -1. */
    static int charToByte(int c) {
        return c >= 0 && c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** UTF-8 bytes of {@code s}, each replaced by its stand-in char. */
    static String encode(byte[] utf8) {
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        return new String(out);
    }

    /**
     * Bytes a byte-level token text stands for; a char that is not a stand-in (added tokens
     * with plain text) contributes its own UTF-8 bytes.
     */
    static byte[] decode(String tokenText) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(tokenText.length());
        for (int i = 0; i < tokenText.length(); ) {
            int cp = tokenText.codePointAt(i);
            i += Character.charCount(cp);
            int b = charToByte(cp);
            if (b >= 0) {
                out.write(b);
            } else {
                byte[] raw = new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                out.write(raw, 0, raw.length);
            }
        }
        return out.toByteArray();
    }
}
