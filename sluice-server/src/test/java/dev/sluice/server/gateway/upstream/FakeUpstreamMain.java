package dev.sluice.server.gateway.upstream;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@link FakeUpstream}s as a process of their own, for multi-process tests (the sluice-cli process
 * tests launch it with the test classpath): {@code java ... FakeUpstreamMain NAME[=BEHAVIOR] ...}
 * starts one fake per argument on a free loopback port and prints, for each,
 * {@code fake upstream NAME ready: http://127.0.0.1:PORT/v1}.
 *
 * <p>Control, one command a line on stdin, each answered by {@code ok SEQ ...} on stdout:
 * {@code SEQ behave NAME BEHAVIOR} sets a fake's behaviour ({@link FakeUpstream.Behavior}), and
 * {@code SEQ count NAME} answers {@code ok SEQ count NAME N} (inference requests received). The
 * process exits when stdin closes (its parent went away) or on {@code SEQ exit}.
 */
public final class FakeUpstreamMain {
    private FakeUpstreamMain() {}

    public static void main(String[] args) throws Exception {
        Map<String, FakeUpstream> fakes = new LinkedHashMap<>();
        for (String a : args) {
            String[] nb = a.split("=", 2);
            FakeUpstream f = FakeUpstream.start(nb[0]);
            if (nb.length == 2) f.behave(FakeUpstream.Behavior.valueOf(nb[1].toUpperCase(Locale.ROOT)));
            fakes.put(nb[0], f);
            System.out.println("fake upstream " + nb[0] + " ready: " + f.baseUrl());
        }
        System.out.flush();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] w = line.trim().split("\\s+");
                if (w.length < 2) continue;
                try {
                    switch (w[1]) {
                        case "behave" -> {
                            fakes.get(w[2]).behave(FakeUpstream.Behavior.valueOf(w[3].toUpperCase(Locale.ROOT)));
                            System.out.println("ok " + w[0] + " behave " + w[2] + " " + w[3]);
                        }
                        case "count" -> System.out.println("ok " + w[0] + " count " + w[2] + " " + fakes.get(w[2]).count());
                        case "exit" -> {
                            System.out.println("ok " + w[0] + " exit");
                            return;
                        }
                        default -> System.out.println("error " + w[0] + " unknown command " + w[1]);
                    }
                } catch (RuntimeException e) {
                    System.out.println("error " + w[0] + " " + e);
                }
                System.out.flush();
            }
        } finally {
            fakes.values().forEach(FakeUpstream::close);
            System.out.flush();
            System.exit(0); // Armeria's event loops are not daemons
        }
    }
}
