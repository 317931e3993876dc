package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.kernels.Parallel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Locale;

/** Loads models for the commands that run them: thread count first, then the engine's {@link LoadedModel}, logged. */
final class Models {
    private static final Logger log = LoggerFactory.getLogger(Models.class);

    private Models() {}

    /**
     * @param contextCap KV cache positions at most (the model's context length binds when smaller)
     * @param threads    worker threads, or null for the default ({@code sluice.threads} / all cores)
     */
    static LoadedModel load(Path path, int contextCap, Integer threads) {
        applyThreads(threads);
        long t0 = System.nanoTime();
        LoadedModel m = LoadedModel.load(path, contextCap);
        var c = m.config();
        log.info(String.format(Locale.ROOT, "loaded %s: %s, %d layers, n_embd %d, vocab %d, context %d, in %.2f s",
                path, c.architecture(), c.nLayers(), c.nEmbd(), c.vocabSize(), m.transformer().maxContext(),
                (System.nanoTime() - t0) / 1e9));
        return m;
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
}
