package dev.sluice.server.gateway.upstream;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Splits a byte stream into SSE events, each passed on as its exact bytes, terminator included
 * ({@code \n\n} or {@code \r\n\r\n}), so that a relay can forward them unchanged. Works on bytes,
 * so a UTF-8 character split across network chunks is never cut. Not thread-safe.
 */
final class SseSplitter {
    /** Largest single event buffered: 4 MiB (a chunk is a few hundred bytes); a longer one is a protocol error. */
    static final int MAX_EVENT_BYTES = 4 << 20;

    private byte[] buf = new byte[256];
    private int len;
    private int scanFrom;

    /** Appends {@code data} and passes each complete event to {@code onEvent}. */
    void feed(byte[] data, Consumer<byte[]> onEvent) {
        if (len == 0) {
            // nothing pending (the usual case: whole events per frame): split the frame where it is, keep only its rest
            int rest = split(data, data.length, 1, onEvent);
            if (rest < data.length) append(data, rest, data.length - rest);
            scanFrom = Math.max(0, len - 1);
            return;
        }
        append(data, 0, data.length);
        int start = split(buf, len, Math.max(scanFrom, 1), onEvent);
        if (start > 0) {
            System.arraycopy(buf, start, buf, 0, len - start);
            len -= start;
        }
        scanFrom = Math.max(0, len - 1);
    }

    private void append(byte[] data, int from, int n) {
        if (len + n > buf.length) {
            if (len + n > MAX_EVENT_BYTES) throw new IllegalStateException("an SSE event is longer than " + MAX_EVENT_BYTES + " bytes");
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
        }
        System.arraycopy(data, from, buf, len, n);
        len += n;
    }

    /** Passes each event that ends in {@code b[0, n)} (looking for ends from {@code from}) to {@code onEvent}; returns where the rest starts. */
    private static int split(byte[] b, int n, int from, Consumer<byte[]> onEvent) {
        int start = 0;
        for (int i = Math.max(from, 1); i < n; i++) {
            if (b[i] != '\n') continue;
            int end = -1;
            if (b[i - 1] == '\n') end = i + 1;
            else if (i >= 3 && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') end = i + 1;
            if (end > start) {
                onEvent.accept(Arrays.copyOfRange(b, start, end));
                start = end;
                i = end; // the next event starts after the terminator
            }
        }
        return start;
    }

    /** Bytes of an event not yet ended by a blank line. */
    boolean hasPartial() {
        for (int i = 0; i < len; i++) if (!Character.isWhitespace(buf[i])) return true;
        return false;
    }

    /** The unterminated rest, with a terminator added, or null when there is none. */
    byte[] drainPartial() {
        if (!hasPartial()) return null;
        byte[] out = Arrays.copyOf(buf, len + 2);
        out[len] = '\n';
        out[len + 1] = '\n';
        len = 0;
        scanFrom = 0;
        return out;
    }

    /** The value of an event's {@code data:} lines (joined by newlines), or null when it has none. */
    static String data(String event) {
        StringBuilder data = null;
        int i = 0, n = event.length();
        while (i < n) {
            int nl = event.indexOf('\n', i);
            int end = nl < 0 ? n : nl;
            int lineEnd = end > i && event.charAt(end - 1) == '\r' ? end - 1 : end;
            if (event.startsWith("data:", i)) {
                int from = i + 5;
                if (from < lineEnd && event.charAt(from) == ' ') from++;
                if (data == null) data = new StringBuilder();
                else data.append('\n');
                data.append(event, from, lineEnd);
            }
            i = end + 1;
        }
        return data == null ? null : data.toString();
    }
}
