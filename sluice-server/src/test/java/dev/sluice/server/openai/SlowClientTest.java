package dev.sluice.server.openai;

import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The idle timeout also bounds a client that trickles its headers and never finishes them (slowloris). */
class SlowClientTest {
    @Test
    void unfinishedHeadersAreDroppedAfterTheIdleTimeout() throws Exception {
        FakeModel echo = new FakeModel("fake", "hi", "", 4096);
        try (SluiceServer server = new SluiceServer(ServerConfig.defaults().withPort(0).withIdleTimeout(Duration.ofMillis(500)), List.of(echo), () -> true).start();
             Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("GET /health/live HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            long t0 = System.nanoTime();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            while (in.read(buf) >= 0) { /* drain whatever the server answers until it closes */ }
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(seconds).isGreaterThan(0.3).isLessThan(5);
        }
    }
}
