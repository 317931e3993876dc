package dev.sluice.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Small file checks and reports shared by the commands that write files. */
final class Files2 {
    private Files2() {}

    /** Fails with a message naming the path when the output cannot be written: a folder, or a missing parent folder. */
    static void checkOutput(Path output) {
        if (Files.isDirectory(output)) throw new CliException("output is a folder, expected a file path: " + output.toAbsolutePath());
        Path parent = output.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new CliException("output folder does not exist: " + parent);
        }
    }

    /** Decodes strict UTF-8; invalid input fails with a message naming {@code what} and the byte offset. */
    static String utf8(byte[] bytes, String what) {
        var decoder = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
        java.nio.charset.CoderResult r = decoder.decode(in, out, true);
        if (r.isError()) throw new CliException(what + " is not valid UTF-8 at byte " + in.position());
        r = decoder.flush(out);
        if (r.isError()) throw new CliException(what + " is not valid UTF-8 at byte " + in.position());
        return out.flip().toString();
    }

    static void reportWritten(PrintWriter err, Path output, long startNanos) {
        long size;
        try {
            size = Files.size(output);
        } catch (IOException e) {
            size = -1;
        }
        err.printf(Locale.ROOT, "wrote %s (%.1f MiB) in %.1f s%n", output, size / (1024.0 * 1024), (System.nanoTime() - startNanos) / 1e9);
        err.flush();
    }
}
