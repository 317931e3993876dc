package dev.sluice.server.gateway.upstream;

import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.gateway.Backend;
import dev.sluice.server.gateway.GatewayRequest;
import dev.sluice.server.gateway.PromptText;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Counts tokens for usage an upstream does not report: with the engine's tokenizer when the
 * backend names one ({@code tokenizer:} a GGUF file, or a {@code tokenizer.json} or its folder),
 * else by estimate ({@link PromptText#estimate}, 4 characters per token; prompts by
 * {@link Backend#estimatePromptTokens}). Without the model's chat template a chat prompt is counted
 * as its messages' text plus a fixed per-message overhead ({@link PromptText#count}), which is
 * close to, not exactly, what the upstream would report.
 * Thread-safe: the engine's tokenizers are immutable.
 */
final class UsageCounter {
    private final Tokenizer tokenizer;

    UsageCounter(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Loads the tokenizer at {@code path}, or the estimate when null; a bad path is a config error naming it. */
    static UsageCounter load(String backend, String path) {
        if (path == null) return new UsageCounter(null);
        Path p = Path.of(path);
        try {
            if (Files.isDirectory(p)) return new UsageCounter(Tokenizers.fromHuggingFace(p));
            if (p.getFileName().toString().equals("tokenizer.json")) return new UsageCounter(Tokenizers.fromHuggingFace(p.toAbsolutePath().getParent()));
            if (isGguf(p)) {
                try (GGUFFile f = GGUFFile.open(p)) {
                    return new UsageCounter(Tokenizers.fromGGUF(f));
                }
            }
            throw new ConfigException("routing.backends." + backend + ".tokenizer: " + path + " is neither a GGUF file nor a tokenizer.json (or its folder)");
        } catch (ConfigException e) {
            throw e;
        } catch (RuntimeException | IOException e) {
            throw new ConfigException("routing.backends." + backend + ".tokenizer: cannot load " + path + ": " + e.getMessage(), e);
        }
    }

    private static boolean isGguf(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'G' && b[1] == 'G' && b[2] == 'U' && b[3] == 'F';
        }
    }

    boolean exact() {
        return tokenizer != null;
    }

    int count(String text) {
        if (text.isEmpty()) return 0;
        return tokenizer != null ? tokenizer.encode(text, false, false).length : PromptText.estimate(text);
    }

    int prompt(GatewayRequest req) {
        return tokenizer != null ? PromptText.count(req, this::count) : Backend.estimatePromptTokens(req);
    }
}
