package dev.sluice.server.gateway.route;

import dev.sluice.server.gateway.Backend;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One public model of a {@link RouteTable}: its versions (each bound to a backend and an upstream model name),
 * their current weights, its fallbacks and degrade target, one {@link OutcomeWindow} per version and the
 * canary controller, if any.
 *
 * <p>Design note: the versions are fixed for the table's life; only the weights change at runtime (admin API,
 * canary controller), as an immutable {@code int[]} swapped atomically, so a pick reads one consistent
 * array without locks. A pick maps the caller to a point {@code u} in [0, 1): a hash of the sticky key (so a
 * user keeps a version while the weights stand still, and a canary that grows keeps the users it had, since
 * the canary sits last in the cumulative order), or a random draw for anonymous callers.
 */
final class ModelRoute {
    /** One version: its name, backend and the model name sent upstream. */
    record VersionRoute(String name, String backendName, Backend backend, String upstreamModel) {}

    final String alias;
    final RoutingConfig.ModelConfig config;
    final List<VersionRoute> versions;
    final Map<String, OutcomeWindow> windows = new LinkedHashMap<>();
    private final AtomicReference<int[]> weights;
    volatile CanaryController canary;

    ModelRoute(String alias, RoutingConfig.ModelConfig config, List<VersionRoute> versions) {
        this.alias = alias;
        this.config = config;
        this.versions = List.copyOf(versions);
        int[] w = new int[versions.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = config.versions().get(versions.get(i).name()).weight();
            windows.put(versions.get(i).name(), new OutcomeWindow());
        }
        this.weights = new AtomicReference<>(w);
    }

    VersionRoute version(String name) {
        for (VersionRoute v : versions) if (v.name().equals(name)) return v;
        return null;
    }

    List<String> versionNames() {
        return versions.stream().map(VersionRoute::name).toList();
    }

    /** Current weights by version name, in declaration order. */
    Map<String, Integer> weights() {
        int[] w = weights.get();
        Map<String, Integer> out = new LinkedHashMap<>();
        for (int i = 0; i < w.length; i++) out.put(versions.get(i).name(), w[i]);
        return out;
    }

    int weight(String version) {
        int[] w = weights.get();
        for (int i = 0; i < w.length; i++) if (versions.get(i).name().equals(version)) return w[i];
        return -1;
    }

    /** Replaces the weights of the named versions (the others keep theirs); returns the previous weights. */
    synchronized Map<String, Integer> setWeights(Map<String, Integer> changes) {
        Map<String, Integer> before = weights();
        int[] w = weights.get().clone();
        for (int i = 0; i < w.length; i++) {
            Integer c = changes.get(versions.get(i).name());
            if (c != null) w[i] = c;
        }
        weights.set(w);
        return before;
    }

    /** The version for a caller: sticky by {@code stickyKey}, or random when it is null. */
    VersionRoute pick(String stickyKey) {
        int[] w = weights.get();
        long total = 0;
        for (int x : w) total += x;
        if (total <= 0) return versions.getFirst(); // cannot happen: validated, and the admin API refuses all-zero weights
        double u = stickyKey == null ? ThreadLocalRandom.current().nextDouble() : unit(alias, stickyKey);
        double point = u * total, acc = 0;
        // cumulative order: heavier-first is not needed; declaration order, canary moved last, keeps a growing canary's users
        int canaryIndex = canaryIndex();
        for (int i = 0; i < w.length; i++) {
            if (i == canaryIndex) continue;
            acc += w[i];
            if (point < acc) return versions.get(i);
        }
        if (canaryIndex >= 0 && w[canaryIndex] > 0) return versions.get(canaryIndex);
        for (int i = w.length - 1; i >= 0; i--) if (w[i] > 0) return versions.get(i); // rounding at the top end
        return versions.getFirst();
    }

    private int canaryIndex() {
        if (config.canary() == null) return -1;
        for (int i = 0; i < versions.size(); i++) if (versions.get(i).name().equals(config.canary().version())) return i;
        return -1;
    }

    /** A well-mixed point in [0, 1) for (model, key): FNV-1a over the characters, then MurmurHash3's fmix64. */
    static double unit(String model, String key) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < model.length(); i++) h = (h ^ model.charAt(i)) * 0x100000001b3L;
        h = (h ^ 0) * 0x100000001b3L;
        for (int i = 0; i < key.length(); i++) h = (h ^ key.charAt(i)) * 0x100000001b3L;
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return (h >>> 11) * 0x1.0p-53;
    }
}
