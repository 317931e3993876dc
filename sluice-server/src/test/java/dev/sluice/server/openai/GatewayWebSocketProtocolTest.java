package dev.sluice.server.openai;

import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import org.junit.jupiter.api.BeforeAll;

import java.util.List;

/**
 * {@link WebSocketTest}'s protocol, unchanged, in the gateway role ({@code sluice serve}: every socket message goes
 * through the gateway to the in-process engine): multiplexing, cancel by id, disconnect, bad messages, the per-socket
 * limit and duplicate ids, and the deadline behave as they do on the worker.
 */
class GatewayWebSocketProtocolTest extends WebSocketTest {
    @BeforeAll
    static void start() {
        ServerConfig cfg = ServerConfig.defaults().withPort(0).withMaxWsRequests(3);
        ServerMetrics metrics = new ServerMetrics();
        server = new SluiceServer(cfg, List.of(ECHO, SLOW, SLOW2), () -> true, metrics,
                worker -> GatewayAssembly.build(SluiceConfig.defaults(), null, cfg, metrics, worker, true)).start();
    }
}
