package dev.sluice.cli;

import dev.sluice.cli.hub.DownloadProgress;
import dev.sluice.cli.hub.HubClient;
import dev.sluice.cli.hub.HubConfig;
import dev.sluice.cli.hub.HubReference;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Turns a {@code --model} value into a local path: a path is checked for existence and
 * returned; {@code hf:ORG/REPO[:FILE]} is downloaded into the cache (or found there) by
 * {@link HubClient}. Which format the path holds is {@code ModelLoader}'s business.
 */
public final class ModelResolver {
    private final HubConfig hub;
    private final PrintWriter progressOut;
    private final boolean terminal;

    public ModelResolver(HubConfig hub, PrintWriter progressOut, boolean terminal) {
        this.hub = hub;
        this.progressOut = progressOut;
        this.terminal = terminal;
    }

    /** A resolver for the options and environment of a command; progress goes to {@code err}. */
    public static ModelResolver of(ModelOptions opts, Map<String, String> env, PrintWriter err) {
        HubConfig cfg;
        try {
            cfg = HubConfig.fromEnvironment(env, opts.hfEndpoint, opts.cacheDir);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
        return new ModelResolver(cfg, err, DownloadProgress.isTerminal());
    }

    public Path resolve(String spec) {
        if (spec == null || spec.isBlank()) throw new CliException("--model is empty");
        if (HubReference.isHubReference(spec)) {
            HubReference ref;
            try {
                ref = HubReference.parse(spec);
            } catch (IllegalArgumentException e) {
                throw new CliException("bad --model " + spec + ": " + e.getMessage());
            }
            try (HubClient client = new HubClient(hub, DownloadProgress.console(progressOut, terminal))) {
                return client.fetch(ref);
            }
        }
        Path p = Path.of(spec);
        if (!Files.exists(p)) {
            throw new CliException("model not found: " + p.toAbsolutePath()
                    + " (expected a GGUF file, a Hugging Face model folder, a llama2.c .bin, or hf:ORG/REPO[:FILE])");
        }
        if (!Files.isReadable(p)) throw new CliException("model is not readable: " + p.toAbsolutePath());
        return p;
    }
}
