package dev.sluice.engine.runtime;

import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.TokenLogprob;
import dev.sluice.engine.tokenizer.StreamingDecoder;
import dev.sluice.engine.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.BooleanSupplier;

/**
 * Prompt tokens in, a stream of generated tokens and text out, for one sequence at a time.
 *
 * <p>Design note. The prompt runs as one batched {@link Transformer#forwardLast} (prefill), then
 * one token per step (decode). After each sampled token the generator checks, in order:
 * stop token ids (the request's and the tokenizer's end-of-generation ids; the stop token itself
 * is neither returned nor emitted), stop strings on the decoded text, {@code maxTokens}, the
 * context length, and cancellation (polled before every decode step and every prefill chunk of
 * {@link Transformer#PREFILL_CHUNK} tokens).
 *
 * <p>Text: tokens are decoded by a {@link StreamingDecoder} (UTF-8 incrementally, special tokens
 * hidden), so a character split over tokens is emitted once complete. Text that could still be the start of a stop string is held back until
 * it is known not to be; when a stop string matches, the text before it is emitted and the stop
 * string and everything after it are dropped. Without a tokenizer the generator works on ids
 * only: no text, no stop strings.
 *
 * <p>Thread-safe: a {@code Generator} holds no per-call state; each call has its own sampler,
 * text stream and KV cache (a cache passed in must not be used by two calls at once), and
 * concurrent calls share the immutable {@link Transformer}.
 */
public final class Generator {
    private final Transformer model;
    private final Tokenizer tokenizer;

    /** @param tokenizer for text and stop strings; null for token-level generation */
    public Generator(Transformer model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** Why generation ended, named as in the OpenAI API. */
    public enum FinishReason {
        /** a stop token or stop string */
        STOP,
        /** {@code maxTokens} or the context length */
        LENGTH,
        /** the caller cancelled */
        CANCELLED
    }

    /** Receives the stream as it is produced; both methods default to doing nothing. */
    public interface Listener {
        /** A generated token (never a stop token), with its log probability when requested. */
        default void onToken(int token, TokenLogprob logprob) {}

        /** Newly final text (may cover several tokens, or lag behind them while a stop string might match). */
        default void onText(String delta) {}
    }

    /**
     * @param tokens generated tokens, stop token excluded
     * @param text   the generated text without any stop string, or null without a tokenizer
     */
    public record Result(int[] tokens, String text, FinishReason finishReason, GenerationStats stats) {}

    /** Generates with a fresh KV cache. */
    public Result generate(int[] prompt, SamplingParams params, Listener listener, BooleanSupplier cancelled) {
        return generate(prompt, params, listener, cancelled, model.newCache());
    }

    /**
     * Generates continuing {@code prompt}, starting from an empty (or truncated) cache: positions
     * {@code cache.length() ..} of the prompt are run, earlier ones are taken as already cached.
     *
     * @throws ContextOverflowException when the prompt alone does not fit in the cache
     */
    public Result generate(int[] prompt, SamplingParams params, Listener listener, BooleanSupplier cancelled, KVCache cache) {
        if (prompt.length == 0) throw new IllegalArgumentException("empty prompt: at least one token (e.g. BOS) is needed");
        Listener out = listener != null ? listener : new Listener() {};
        BooleanSupplier cancel = cancelled != null ? cancelled : () -> false;
        int capacity = Math.min(cache.capacity(), model.maxContext());
        if (prompt.length >= capacity) throw new ContextOverflowException(prompt.length + 1, capacity);
        SequenceOutput seq = new SequenceOutput(tokenizer, params, model.config().vocabSize(), prompt, out);
        FinishReason reason;

        long t0 = System.nanoTime();
        int cached = Math.min(cache.length(), prompt.length - 1);
        cache.truncate(cached);
        // prefill in chunks, polling cancellation between them so a long prompt can be abandoned
        // one workspace and logits row per generation: the decode loop allocates nothing
        Transformer.Workspace ws = model.newWorkspace();
        float[] logits = new float[model.config().vocabSize()];
        int[] next = new int[1];
        for (int from = cached; from < prompt.length; from += Transformer.PREFILL_CHUNK) {
            if (cancel.getAsBoolean()) {
                return new Result(new int[0], tokenizer != null ? "" : null, FinishReason.CANCELLED,
                        new GenerationStats(from - cached, System.nanoTime() - t0, 0, 0));
            }
            int to = Math.min(prompt.length, from + Transformer.PREFILL_CHUNK);
            model.forwardLast(Arrays.copyOfRange(prompt, from, to), from, cache, ws, logits);
        }
        long t1 = System.nanoTime();
        int pos = prompt.length;
        while (true) {
            reason = seq.accept(logits);
            if (reason != null) break;
            if (pos >= capacity) {
                reason = FinishReason.LENGTH;
                break;
            }
            if (cancel.getAsBoolean()) {
                reason = FinishReason.CANCELLED;
                break;
            }
            next[0] = seq.lastToken();
            model.forwardLast(next, pos, cache, ws, logits);
            pos++;
        }
        long t2 = System.nanoTime();
        seq.finish(reason);
        int nGen = seq.count();
        GenerationStats stats = new GenerationStats(prompt.length - cached, t1 - t0, nGen, t2 - t1);
        return new Result(seq.tokens(), seq.text(), reason, stats);
    }

    /** Incremental UTF-8 decoding with stop-string matching and hold-back. */
    static final class TextStream {
        private final StreamingDecoder decoder;
        private final java.util.List<String> stops;
        private final StringBuilder text = new StringBuilder();
        private int emitted;
        private int end = -1;

        TextStream(Tokenizer tokenizer, SamplingParams params) {
            this.decoder = new StreamingDecoder(tokenizer);
            this.stops = params.stopStrings();
        }

        /** Adds a token's text; returns true when a stop string matched (the text is then final). */
        boolean append(int token, Listener out) {
            int searchFrom = Math.max(emitted, text.length() - maxStopLength() + 1);
            text.append(decoder.accept(token));
            int match = -1;
            for (String s : stops) {
                int i = text.indexOf(s, Math.max(0, searchFrom));
                if (i >= 0 && (match < 0 || i < match)) match = i;
            }
            if (match >= 0) {
                end = match;
                if (match > emitted) out.onText(text.substring(emitted, match));
                emitted = match;
                return true;
            }
            int safe = text.length() - heldBack();
            if (safe > emitted) {
                out.onText(text.substring(emitted, safe));
                emitted = safe;
            }
            return false;
        }

        boolean stopped() {
            return end >= 0;
        }

        /** Emits everything not yet emitted (including an incomplete UTF-8 tail as U+FFFD). */
        void flush(Listener out) {
            if (end >= 0) return;
            text.append(decoder.flush());
            if (text.length() > emitted) out.onText(text.substring(emitted));
            emitted = text.length();
        }

        String text() {
            return end >= 0 ? text.substring(0, end) : text.toString();
        }

        private int maxStopLength() {
            int m = 0;
            for (String s : stops) m = Math.max(m, s.length());
            return m;
        }

        /** Length of the longest suffix of the text that is a proper prefix of a stop string. */
        private int heldBack() {
            int best = 0;
            for (String s : stops) {
                for (int len = Math.min(s.length() - 1, text.length()); len > best; len--) {
                    if (endsWithPrefix(s, len)) {
                        best = len;
                        break;
                    }
                }
            }
            return best;
        }

        private boolean endsWithPrefix(String s, int len) {
            int base = text.length() - len;
            for (int i = 0; i < len; i++) if (text.charAt(base + i) != s.charAt(i)) return false;
            return true;
        }
    }
}
