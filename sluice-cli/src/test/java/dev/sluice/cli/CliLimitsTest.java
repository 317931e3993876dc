package dev.sluice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Bounded options and bad input get clear messages and the right exit codes, before any model is loaded. */
class CliLimitsTest {
    @Test
    void threadsAndContextSizeAreBounded() {
        Cli.Result r = Cli.run("generate", "-p", "hi", "--threads", "100000");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--threads").contains("must be in [1, " + GenerateCommand.RuntimeOptions.MAX_THREADS + "]");
        assertThat(Cli.run("generate", "-p", "hi", "--threads", "0").exit()).isEqualTo(2);
        Cli.Result c = Cli.run("chat", "--ctx-size", "0");
        assertThat(c.exit()).isEqualTo(2);
        assertThat(c.err()).contains("--ctx-size");
    }

    @Test
    void schedulerOptionsAreValidatedBeforeTheModelLoads() {
        Cli.Result r = Cli.run("serve", "--max-running", "0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("maxRunning must be >= 1");
        assertThat(Cli.run("serve", "--kv-cache-mib", "0").err()).contains("--kv-cache-mib");
    }

    @Test
    void tokenizeRejectsInvalidUtf8NamingTheOffset(@TempDir Path cache) {
        Cli.Result r = Cli.run(new byte[] {'a', 'b', (byte) 0xff, (byte) 0xfe, 'c', 'd'}, Map.of("SLUICE_CACHE", cache.toString()), "tokenize");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("stdin is not valid UTF-8 at byte 2").doesNotContain("\tat ");
    }

    @Test
    void serveOnABusyPortFailsFastWithAClearMessage(@TempDir Path cache) throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Cli.Result r = Cli.run("", Map.of("SLUICE_CACHE", cache.toString()), "serve", "--port", Integer.toString(busy.getLocalPort()));
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("cannot listen on 127.0.0.1:" + busy.getLocalPort()).contains("--port");
        }
    }
}
