package dev.sluice.server.inference;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.sampling.TokenLogprob;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.server.openai.OpenAiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The in-process engine behind the OpenAI routes.
 *
 * <p>Design note: this class adapts the HTTP layer's {@link InferenceModel} to an
 * {@link EngineLane}, which decides how sequences share the engine. By default that is a
 * {@link SchedulerLane} (the engine's continuous-batching scheduler: concurrent requests share
 * each forward step); {@link SingleSequenceLane} (one sequence at a time) or any other lane
 * plugs in through the {@link #EngineInferenceModel(String, LoadedModel, EngineLane)} constructor. A full
 * waiting queue is refused with 503 and Retry-After, never queued without bound. Cancellation
 * (client gone, deadline, shutdown) reaches the lane through the job's cancelled flag.
 */
public final class EngineInferenceModel implements InferenceModel, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EngineInferenceModel.class);
    /** Default bound of the waiting queue (requests); beyond it requests get 503. */
    public static final int DEFAULT_MAX_WAITING = 64;

    private final String id;
    private final LoadedModel model;
    private final long created = System.currentTimeMillis() / 1000;
    private final EngineLane lane;
    private final boolean reasoning;

    /** The continuous-batching lane ({@link SchedulerLane}, scheduler defaults) with a waiting queue of {@code maxWaiting}. */
    public EngineInferenceModel(String id, LoadedModel model, int maxWaiting) {
        this(id, model, new SchedulerLane(model, maxWaiting));
    }

    /** Any lane, e.g. a continuous-batching scheduler over {@code model}. */
    public EngineInferenceModel(String id, LoadedModel model, EngineLane lane) {
        this.id = id;
        this.model = model;
        this.lane = lane;
        this.reasoning = model.chatTemplateSource() != null && model.chatTemplateSource().contains("</think>");
    }

    @Override public String id() { return id; }
    @Override public long created() { return created; }
    @Override public int contextLength() { return model.transformer().maxContext(); }
    @Override public boolean reasoning() { return reasoning; }
    @Override public EngineStats stats() { return lane.stats(); }

    /** Requests waiting for the engine. */
    public int queueDepth() { return lane.stats().waiting(); }

    /** Sequences being generated now. */
    public int runningSequences() { return lane.stats().running(); }

    @Override
    public void admit() {
        if (!lane.hasRoom()) {
            throw OpenAiException.overloaded("The engine's waiting queue is full (" + lane.stats().waiting() + " requests); retry later");
        }
    }

    @Override
    public ChatPrompt encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
        String text = model.renderChat(messages, tools, templateVars);
        return new ChatPrompt(text, model.tokenizer().encode(text, false, true));
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return model.tokenizer().encode(text, addSpecial, parseSpecial);
    }

    @Override
    public String detokenize(int[] ids) {
        Tokenizer t = model.tokenizer();
        for (int id : ids) {
            if (id < 0 || id >= t.vocabSize()) throw OpenAiException.invalid("tokens", "token id " + id + " is outside the vocabulary [0, " + t.vocabSize() + ")");
        }
        return t.decode(ids);
    }

    /** Runs the forward pass briefly (prefill and decode) so the first request does not pay for JIT and page faults. */
    public void warmUp() {
        model.transformer().warmUp();
    }

    @Override
    public Generation generate(int[] prompt, GenerationOptions o, GenerationListener listener) {
        SamplingParams params;
        try {
            params = SamplingParams.builder().temperature(o.temperature()).topK(Math.max(0, o.topK())).topP(o.topP()).minP(o.minP())
                    .repetitionPenalty(o.repetitionPenalty()).presencePenalty(o.presencePenalty()).frequencyPenalty(o.frequencyPenalty())
                    .logitBias(o.logitBias()).seed(o.seed()).maxTokens(o.maxTokens()).stopTokenIds(Set.of()).stopStrings(o.stop())
                    .logprobs(o.logprobs()).topLogprobs(o.topLogprobs()).ignoreEos(o.ignoreEos()).build();
        } catch (RuntimeException e) {
            throw OpenAiException.invalid(null, e.getMessage());
        }
        for (int id : o.logitBias().keySet()) {
            if (id >= model.tokenizer().vocabSize()) throw OpenAiException.invalid("logit_bias", "token id " + id + " is outside the vocabulary");
        }
        AtomicBoolean cancelled = new AtomicBoolean();
        Tokenizer tok = model.tokenizer();
        Generator.Listener tokens = new Generator.Listener() {
            @Override
            public void onToken(int token, TokenLogprob lp) {
                List<GenerationListener.TopLogprob> top = new ArrayList<>();
                if (lp != null) for (TokenLogprob.Alternative a : lp.top()) top.add(new GenerationListener.TopLogprob(tok.decode(new int[] {a.token()}), a.logprob()));
                listener.onToken(token, tok.decode(new int[] {token}), lp == null ? Float.NaN : lp.logprob(), top);
            }

            @Override
            public void onText(String delta) {
                listener.onText(delta);
            }
        };
        EngineLane.Job job = new EngineLane.Job(prompt, params, tokens, cancelled::get, r -> {
            String finish = switch (r.finishReason()) {
                case STOP -> "stop";
                case LENGTH -> "length";
                case CANCELLED -> "cancelled";
            };
            listener.onComplete(finish, prompt.length, r.tokens().length);
        }, e -> {
            log.warn("generation failed: {}", e.toString());
            listener.onError(e);
        });
        try {
            lane.submit(job);
        } catch (RejectedExecutionException e) {
            throw OpenAiException.overloaded("The engine's waiting queue is full (" + lane.stats().waiting() + " requests); retry later");
        }
        return () -> cancelled.set(true);
    }

    @Override
    public void close() {
        lane.close();
        model.close();
    }
}
