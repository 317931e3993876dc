package dev.sluice.server.gateway;

import java.nio.charset.StandardCharsets;

/** Byte-level searches for the gateway's SSE paths, which look for a few markers without decoding every chunk. */
public final class Bytes {
    /** {@code "usage"}, quotes included. */
    public static final byte[] USAGE = ascii("\"usage\"");
    /** {@code "error"}, quotes included. */
    public static final byte[] ERROR = ascii("\"error\"");
    /** {@code [DONE]}. */
    public static final byte[] DONE = ascii("[DONE]");

    private Bytes() {}

    public static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** The first index of {@code needle} in {@code b[from, to)}, or -1. */
    public static int indexOf(byte[] b, byte[] needle, int from, int to) {
        byte first = needle[0];
        outer:
        for (int i = from, last = to - needle.length; i <= last; i++) {
            if (b[i] != first) continue;
            for (int j = 1; j < needle.length; j++) if (b[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** Whether {@code b[from, to)} holds {@code needle}. */
    public static boolean contains(byte[] b, byte[] needle, int from, int to) {
        return indexOf(b, needle, from, to) >= 0;
    }
}
