package dev.sluice.engine.tokenizer;

import dev.sluice.engine.TestFixtures;
import dev.sluice.engine.gguf.GGUFFile;
import org.junit.jupiter.api.Assumptions;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Test vocabularies: the shared llama.cpp GGUF fixtures (skipped when absent) and the HF reference tokenizer on the classpath. */
final class Vocabs {
    private Vocabs() {}

    private static final Map<String, Tokenizer> CACHE = new ConcurrentHashMap<>();

    /** A vocab from shared fixtures {@code tokenizers/ggml-vocab-NAME.gguf}; skips the test when absent. */
    static Tokenizer gguf(String name) {
        var dir = TestFixtures.shared("tokenizers");
        Assumptions.assumeTrue(dir.isPresent(), "shared fixtures tokenizers/ absent");
        return CACHE.computeIfAbsent(name, n -> {
            try (GGUFFile f = GGUFFile.open(dir.get().resolve("ggml-vocab-" + n + ".gguf"))) {
                return Tokenizers.fromGGUF(f);
            }
        });
    }

    static Map<String, Object> ggufMetadata(String name) {
        var dir = TestFixtures.shared("tokenizers");
        Assumptions.assumeTrue(dir.isPresent(), "shared fixtures tokenizers/ absent");
        try (GGUFFile f = GGUFFile.open(dir.get().resolve("ggml-vocab-" + name + ".gguf"))) {
            return Map.copyOf(f.metadata());
        }
    }

    /** The tiny byte-level BPE tokenizer.json of the HF reference fixtures (320 tokens, every byte a token). */
    static Tokenizer reference() {
        return CACHE.computeIfAbsent("reference", n -> {
            URL url = Vocabs.class.getClassLoader().getResource("reference/llama/tokenizer.json");
            Assumptions.assumeTrue(url != null, "reference tokenizer absent");
            try {
                return Tokenizers.fromHuggingFace(Path.of(url.toURI()).getParent());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        });
    }
}
