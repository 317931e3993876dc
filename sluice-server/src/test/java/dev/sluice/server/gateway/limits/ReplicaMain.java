package dev.sluice.server.gateway.limits;

import dev.sluice.server.ServerConfig;
import dev.sluice.server.ServerMetrics;
import dev.sluice.server.SluiceServer;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.GatewayAssembly;
import dev.sluice.server.openai.FakeModel;

import java.nio.file.Path;
import java.util.List;

/**
 * One gateway replica in its own JVM, for {@link DistributedLimitsTest}: {@code sluice serve}'s
 * wiring ({@link GatewayAssembly#build}) from the YAML config file named by {@code args[0]}, in
 * front of a {@link FakeModel}. Prints {@code PORT n} once it listens; stops gracefully when its
 * standard input closes (the test ending, or dying).
 */
public final class ReplicaMain {
    private ReplicaMain() {}

    public static void main(String[] args) throws Exception {
        SluiceConfig config = SluiceConfig.load(Path.of(args[0]));
        ServerConfig server = ServerConfig.defaults().withPort(0);
        ServerMetrics metrics = new ServerMetrics();
        SluiceServer s = new SluiceServer(server, List.of(new FakeModel("fake", "ok", "", 4096)), () -> true, metrics,
                worker -> GatewayAssembly.build(config, server, metrics, worker)).start();
        System.out.println("PORT " + s.port());
        System.out.flush();
        while (System.in.read() >= 0) {
            // wait for EOF
        }
        s.close();
    }
}
