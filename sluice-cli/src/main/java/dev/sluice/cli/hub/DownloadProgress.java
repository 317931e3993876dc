package dev.sluice.cli.hub;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Reports download progress. {@link #console} draws a bar (redrawn in place) when stderr is a
 * terminal, and otherwise prints a plain line every few seconds, so logs stay readable.
 * Calls come from the one downloading thread.
 */
public interface DownloadProgress {
    /** A file's transfer starts; {@code total} is -1 when unknown, {@code resumedFrom} bytes are already on disk. */
    void start(String file, long total, long resumedFrom);

    /** {@code done} bytes of the file are now on disk (including resumed ones). */
    void update(long done);

    /** The file is complete. */
    void finish(long bytes);

    /** A message such as "retrying". */
    void note(String message);

    DownloadProgress NONE = new DownloadProgress() {
        public void start(String file, long total, long resumedFrom) {}
        public void update(long done) {}
        public void finish(long bytes) {}
        public void note(String message) {}
    };

    /** Progress on {@code out}: a bar when {@code terminal}, else a line every {@link HubDefaults#PROGRESS_LINE_INTERVAL}. */
    static DownloadProgress console(PrintWriter out, boolean terminal) {
        return new Console(out, terminal);
    }

    /** True when this process's stderr/stdin is an interactive terminal. */
    static boolean isTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    final class Console implements DownloadProgress {
        private static final int BAR_WIDTH = 30;
        private final PrintWriter out;
        private final boolean terminal;
        private String file;
        private long total;
        private long resumedFrom;
        private long startNanos;
        private long lastPrintNanos;

        Console(PrintWriter out, boolean terminal) {
            this.out = out;
            this.terminal = terminal;
        }

        @Override
        public void start(String file, long total, long resumedFrom) {
            this.file = file;
            this.total = total;
            this.resumedFrom = resumedFrom;
            this.startNanos = System.nanoTime();
            this.lastPrintNanos = startNanos;
            if (!terminal) {
                out.println("downloading " + file + (total >= 0 ? " (" + size(total) + ")" : "")
                        + (resumedFrom > 0 ? ", resuming at " + size(resumedFrom) : ""));
                out.flush();
            } else {
                draw(resumedFrom);
            }
        }

        @Override
        public void update(long done) {
            long now = System.nanoTime();
            long interval = (terminal ? HubDefaults.PROGRESS_REDRAW : HubDefaults.PROGRESS_LINE_INTERVAL).toNanos();
            if (now - lastPrintNanos < interval) return;
            lastPrintNanos = now;
            if (terminal) {
                draw(done);
            } else {
                out.println("  " + file + ": " + percent(done) + size(done) + (total >= 0 ? " of " + size(total) : "") + ", " + rate(done));
                out.flush();
            }
        }

        @Override
        public void finish(long bytes) {
            double secs = (System.nanoTime() - startNanos) / 1e9;
            String msg = "downloaded " + file + " (" + size(bytes) + ") in " + String.format(Locale.ROOT, "%.1f s", secs);
            if (terminal) {
                out.print("\r\033[K" + msg + "\n");
            } else {
                out.println(msg);
            }
            out.flush();
        }

        @Override
        public void note(String message) {
            if (terminal) out.print("\r\033[K");
            out.println(message);
            out.flush();
        }

        private void draw(long done) {
            StringBuilder sb = new StringBuilder("\r\033[K").append(file).append(' ');
            if (total > 0) {
                int filled = (int) Math.min(BAR_WIDTH, done * BAR_WIDTH / total);
                sb.append('[').append("=".repeat(filled)).append(filled < BAR_WIDTH ? ">" : "")
                        .append(" ".repeat(Math.max(0, BAR_WIDTH - filled - 1))).append("] ");
                sb.append(percent(done)).append(size(done)).append('/').append(size(total));
            } else {
                sb.append(size(done));
            }
            sb.append(' ').append(rate(done));
            out.print(sb);
            out.flush();
        }

        private String percent(long done) {
            return total > 0 ? String.format(Locale.ROOT, "%3d%% ", done * 100 / total) : "";
        }

        private String rate(long done) {
            double secs = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
            return size((long) ((done - resumedFrom) / secs)) + "/s";
        }

        static String size(long bytes) {
            if (bytes < 1024) return bytes + " B";
            if (bytes < 1024 * 1024) return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
            if (bytes < 1024L * 1024 * 1024) return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
            return String.format(Locale.ROOT, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
        }
    }
}
