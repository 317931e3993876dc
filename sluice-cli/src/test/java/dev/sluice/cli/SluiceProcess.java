package dev.sluice.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A {@code sluice} process under test: its output (stdout and stderr) collected line by line; closing it stops the process. */
final class SluiceProcess implements AutoCloseable {
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private volatile boolean ended;

    private SluiceProcess(Process process) {
        this.process = process;
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) lines.add(line);
            } catch (Exception e) {
                // the process ended
            } finally {
                ended = true;
            }
        });
    }

    static SluiceProcess start(ProcessBuilder pb) throws java.io.IOException {
        return new SluiceProcess(pb.redirectErrorStream(true).start());
    }

    Process process() {
        return process;
    }

    List<String> lines() {
        return lines;
    }

    /** The first output line matching {@code pattern}, waiting up to {@code timeout}; fails with the whole output if the process ends first. */
    Matcher await(Pattern pattern, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean done = ended;
            for (String line : lines) {
                Matcher m = pattern.matcher(line);
                if (m.find()) return m;
            }
            if (done) throw new IllegalStateException("sluice exited before printing /" + pattern + "/:\n" + String.join("\n", lines));
            if (System.nanoTime() > end) throw new IllegalStateException("no /" + pattern + "/ within " + timeout + ":\n" + String.join("\n", lines));
            Thread.sleep(50);
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
    }
}
