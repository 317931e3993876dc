package dev.sluice.server.openai;

import dev.sluice.server.inference.EngineStats;
import dev.sluice.server.inference.GenerationListener;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.inference.InferenceModel;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** A model whose tokens are characters and whose reply is scripted; it streams on its own thread. */
public final class FakeModel implements InferenceModel {
    final String id;
    final String reply;
    final String promptSuffix;
    final int context;
    final AtomicInteger generations = new AtomicInteger();
    volatile GenerationOptions lastOptions;
    volatile boolean lastCancelled;
    volatile EngineStats stats = EngineStats.UNKNOWN;
    volatile boolean full;

    public FakeModel(String id, String reply, String promptSuffix, int context) {
        this.id = id;
        this.reply = reply;
        this.promptSuffix = promptSuffix;
        this.context = context;
    }

    /** Generations started so far. */
    public int generations() { return generations.get(); }

    /** While true, admission fails as an engine with a full queue does (503). */
    public void full(boolean f) { full = f; }

    @Override public String id() { return id; }
    @Override public long created() { return 1_700_000_000L; }
    @Override public int contextLength() { return context; }
    @Override public EngineStats stats() { return stats; }

    @Override
    public void admit() {
        if (full) throw OpenAiException.overloaded("The fake engine's queue is full");
    }

    @Override
    public ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
        StringBuilder sb = new StringBuilder();
        for (Map<String, Object> m : messages) sb.append(m.get("role")).append(": ").append(m.get("content")).append('\n');
        sb.append("assistant:").append(promptSuffix);
        String text = sb.toString();
        return new ChatPrompt(text, tokenize(text, false, true));
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return text.codePoints().toArray();
    }

    @Override
    public String detokenize(int[] ids) {
        return new String(ids, 0, ids.length);
    }

    @Override
    public Generation generate(int[] prompt, GenerationOptions options, GenerationListener listener) {
        generations.incrementAndGet();
        lastOptions = options;
        AtomicBoolean cancelled = new AtomicBoolean();
        Thread.ofVirtual().start(() -> {
            int[] cps = reply.codePoints().toArray();
            int n = 0;
            for (int cp : cps) {
                if (cancelled.get()) {
                    lastCancelled = true;
                    listener.onComplete("cancelled", prompt.length, n);
                    return;
                }
                if (n == options.maxTokens()) {
                    listener.onComplete("length", prompt.length, n);
                    return;
                }
                n++;
                List<GenerationListener.TopLogprob> top = options.logprobs()
                        ? List.of(new GenerationListener.TopLogprob(Character.toString(cp), -0.1f), new GenerationListener.TopLogprob("?", -2.5f)).subList(0, Math.min(2, options.topLogprobs()))
                        : List.of();
                listener.onToken(cp, Character.toString(cp), options.logprobs() ? -0.1f : Float.NaN, top);
                listener.onText(Character.toString(cp));
                try {
                    Thread.sleep(reply.length() > 100 ? 20 : 1);
                } catch (InterruptedException e) {
                    return;
                }
            }
            listener.onComplete("stop", prompt.length, n);
        });
        return () -> cancelled.set(true);
    }
}
