package dev.sluice.cli;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.kernels.Parallel;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Locale;

/**
 * A model ready to generate: weights (memory-mapped), tokenizer and its metadata (chat
 * template), the forward pass on the chosen CPU backend, and a {@link Generator}. Closing it
 * unmaps the weights.
 */
final class LoadedModel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LoadedModel.class);

    final ModelWeights weights;
    final TokenizerSource tokenizerSource;
    final Transformer transformer;
    final Generator generator;

    private LoadedModel(ModelWeights weights, TokenizerSource tokenizerSource, Transformer transformer) {
        this.weights = weights;
        this.tokenizerSource = tokenizerSource;
        this.transformer = transformer;
        this.generator = new Generator(transformer, tokenizerSource.tokenizer());
    }

    Tokenizer tokenizer() {
        return tokenizerSource.tokenizer();
    }

    /**
     * Loads the model at {@code path}.
     *
     * @param tokenizerOverride where to take the tokenizer from instead, or null
     * @param contextCap        KV cache positions at most (the model's context length binds when smaller)
     * @param threads           worker threads, or null for the default ({@code sluice.threads} / all cores)
     */
    static LoadedModel load(Path path, Path tokenizerOverride, int contextCap, Integer threads) {
        applyThreads(threads);
        long t0 = System.nanoTime();
        ModelWeights w = ModelLoader.load(path);
        try {
            TokenizerSource tok = TokenizerSource.forWeights(w, tokenizerOverride);
            int tv = tok.tokenizer().vocabSize();
            if (tv > w.config().vocabSize()) {
                throw new CliException("tokenizer from " + tok.source() + " has " + tv + " tokens but the model's vocabulary has "
                        + w.config().vocabSize() + "; they do not belong together");
            }
            Transformer tf = new Transformer(w, Kernels.create(), contextCap);
            var c = w.config();
            log.info(String.format(Locale.ROOT, "loaded %s: %s, %d layers, n_embd %d, vocab %d, context %d, in %.2f s",
                    path, c.architecture(), c.nLayers(), c.nEmbd(), c.vocabSize(), tf.maxContext(), (System.nanoTime() - t0) / 1e9));
            return new LoadedModel(w, tok, tf);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /**
     * Sets {@code sluice.threads} before the engine's worker pool starts. The pool is created once per
     * JVM, so a second, different value in the same process (tests) is reported and ignored.
     */
    static void applyThreads(Integer threads) {
        if (threads == null) return;
        if (threads < 1) throw new CliException("--threads must be >= 1, got " + threads);
        System.setProperty("sluice.threads", Integer.toString(threads));
        if (Parallel.THREADS != threads) {
            log.warn("--threads {} ignored: the worker pool already runs {} threads in this process", threads, Parallel.THREADS);
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
