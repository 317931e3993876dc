package dev.sluice.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import com.linecorp.armeria.common.SplitHttpResponse;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A load generator for OpenAI-compatible servers, in the manner of vLLM's benchmark_serving:
 * at each concurrency level it keeps that many streamed requests in flight, each with a synthetic
 * prompt of about {@link ServeBenchConfig#promptTokens()} tokens, and measures per request the
 * time to first token (TTFT), time per output token after the first (TPOT), the gaps between
 * streamed chunks (inter-token latency, ITL) and the end-to-end latency, and per level the
 * request and token throughput.
 *
 * <p>Design note: one virtual thread per concurrent slot sends requests back to back through
 * one Armeria {@link WebClient} and reads each SSE stream line by line as it arrives; the time
 * of every content-bearing chunk is taken on arrival. Token counts come from the stream's usage
 * chunk ({@code stream_options.include_usage}); a server that sends none is credited one token
 * per content chunk. A request fails on a non-200 status, an error event, a stream without
 * {@code [DONE]}, or the timeout; failures are counted and their first messages kept.
 */
public final class ServeBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Words of the synthetic prompts: common, short, mostly one token each in BPE vocabularies. */
    private static final String[] WORDS = ("the of and to in is was for on that with as by at from it his an are were which be this has "
            + "had not but or also its one first new after two have their who more other been time into year all some can city "
            + "most only over used where when than may such made part three these many world later while during well before "
            + "between state under since would known both river through area people water school family work music game house").split(" ");

    private final ServeBenchConfig config;
    private final WebClient client;

    public ServeBenchmark(ServeBenchConfig config) {
        this.config = config;
        this.client = WebClient.builder(config.baseUrl()).responseTimeout(config.timeout()).maxResponseLength(0).build();
    }

    /**
     * Runs every level in order; {@code onLevel} sees each result as it is done. First one
     * unmeasured request warms up the server (JIT, caches) and checks that it answers at all.
     *
     * @throws IllegalStateException when the server cannot be reached or the warm-up request fails
     */
    public List<ServeBenchResult> run(Consumer<ServeBenchResult> onLevel) {
        String model = config.model() != null ? config.model() : firstModel();
        Function<Integer, String> prompts = calibratedPrompts(model);
        Sample warm = one(model, prompts.apply(-3));
        if (warm.error != null) throw new IllegalStateException("the warm-up request to " + config.baseUrl() + " failed: " + warm.error);
        List<ServeBenchResult> out = new ArrayList<>();
        int offset = 0;
        for (int c : config.concurrency()) {
            ServeBenchResult r = runLevel(model, c, prompts, offset);
            offset += r.requests();
            out.add(r);
            if (onLevel != null) onLevel.accept(r);
        }
        return out;
    }

    private String firstModel() {
        AggregatedHttpResponse r;
        try {
            r = client.get("/v1/models").aggregate().join();
        } catch (RuntimeException e) {
            Throwable t = e;
            while (t.getCause() != null) t = t.getCause();
            throw new IllegalStateException("cannot reach " + config.baseUrl() + ": " + t, e);
        }
        if (r.status().code() != 200) throw new IllegalStateException("GET /v1/models answered " + r.status() + "; pass --model");
        try {
            JsonNode data = JSON.readTree(r.contentUtf8()).path("data");
            if (data.isEmpty()) throw new IllegalStateException("GET /v1/models lists no model; pass --model");
            return data.get(0).get("id").asText();
        } catch (IOException e) {
            throw new IllegalStateException("GET /v1/models did not answer JSON: " + e.getMessage(), e);
        }
    }

    /** A synthetic prompt of {@code words} words; request {@code i} gets its own (so no prefix is shared by accident). */
    String prompt(int i, int words) {
        SplittableRandom rnd = new SplittableRandom(config.seed() * 1_000_003L + i);
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < words; w++) sb.append(w == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
        return sb.toString();
    }

    /**
     * Fits tokens = a + b * words with the server's {@code /tokenize} (the chat template's own
     * tokens included), and picks the word count that hits the target; without {@code /tokenize},
     * one word per token.
     */
    private Function<Integer, String> calibratedPrompts(String model) {
        int words = config.promptTokens();
        int n1 = 32, n2 = 256;
        int t1 = countTokens(model, prompt(-1, n1)), t2 = countTokens(model, prompt(-2, n2));
        if (t1 > 0 && t2 > t1) {
            double b = (double) (t2 - t1) / (n2 - n1), a = t1 - b * n1;
            words = (int) Math.max(1, Math.round((config.promptTokens() - a) / b));
        }
        int w = words;
        return i -> prompt(i, w);
    }

    private int countTokens(String model, String prompt) {
        ObjectNode body = JSON.createObjectNode().put("model", model);
        if (config.chat()) body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        else body.put("prompt", prompt);
        try {
            AggregatedHttpResponse r = client.execute(HttpRequest.of(HttpMethod.POST, "/tokenize", MediaType.JSON_UTF_8, body.toString())).aggregate().join();
            if (r.status().code() != 200) return -1;
            JsonNode j = JSON.readTree(r.contentUtf8());
            return j.has("count") ? j.get("count").asInt() : j.path("tokens").size();
        } catch (RuntimeException | IOException e) {
            return -1;
        }
    }

    private ServeBenchResult runLevel(String model, int concurrency, Function<Integer, String> prompts, int offset) {
        int n = config.requestsAt(concurrency);
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        long t0 = System.nanoTime();
        List<Thread> slots = new ArrayList<>();
        for (int s = 0; s < Math.min(concurrency, n); s++) {
            slots.add(Thread.ofVirtual().name("bench-slot-" + s).start(() -> {
                for (int i; (i = next.getAndIncrement()) < n; ) samples.add(one(model, prompts.apply(offset + i)));
            }));
        }
        for (Thread t : slots) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<Sample> ok = samples.stream().filter(x -> x.error == null).toList();
        List<String> errors = samples.stream().filter(x -> x.error != null).map(x -> x.error).toList();
        long[] ttft = ok.stream().mapToLong(x -> x.ttft).toArray();
        long[] e2e = ok.stream().mapToLong(x -> x.e2e).toArray();
        long[] tpot = ok.stream().filter(x -> x.outputTokens > 1).mapToLong(x -> (x.e2e - x.ttft) / (x.outputTokens - 1)).toArray();
        long[] itl = ok.stream().flatMapToLong(x -> java.util.Arrays.stream(x.itl)).toArray();
        return new ServeBenchResult(model, concurrency, n, ok.size(), samples.size() - ok.size(), seconds,
                ok.stream().mapToLong(x -> x.promptTokens).sum(), ok.stream().mapToLong(x -> x.outputTokens).sum(),
                ServeBenchResult.Stats.ofNanos(ttft), ServeBenchResult.Stats.ofNanos(tpot), ServeBenchResult.Stats.ofNanos(itl),
                ServeBenchResult.Stats.ofNanos(e2e), errors);
    }

    /** One request's measurements; {@code error} is null when it completed. */
    private record Sample(String error, long ttft, long e2e, long[] itl, int promptTokens, int outputTokens) {
        static Sample failed(String error) {
            return new Sample(error, 0, 0, new long[0], 0, 0);
        }
    }

    private Sample one(String model, String prompt) {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("stream", true).put("max_tokens", config.maxTokens())
                .put("temperature", 0.0);
        if (config.ignoreEos()) body.put("ignore_eos", true);
        body.putObject("stream_options").put("include_usage", true);
        if (config.chat()) body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        else body.put("prompt", prompt);
        String path = config.chat() ? "/v1/chat/completions" : "/v1/completions";
        long start = System.nanoTime();
        try {
            SplitHttpResponse res = client.execute(HttpRequest.of(HttpMethod.POST, path, MediaType.JSON_UTF_8, body.toString())).split();
            ResponseHeaders h = res.headers().join();
            BufferedReader in = new BufferedReader(new InputStreamReader(res.body().toInputStream(Function.identity()), StandardCharsets.UTF_8));
            if (h.status().code() != 200) {
                StringBuilder sb = new StringBuilder();
                for (String l; (l = in.readLine()) != null && sb.length() < 500; ) sb.append(l);
                return Sample.failed("HTTP " + h.status().code() + ": " + sb);
            }
            long first = 0, last = 0;
            List<Long> gaps = new ArrayList<>();
            int chunks = 0, promptTokens = -1, outputTokens = -1;
            boolean done = false;
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data:")) continue;
                String data = line.substring(5).trim();
                if (data.equals("[DONE]")) {
                    done = true;
                    break;
                }
                long now = System.nanoTime();
                JsonNode j = JSON.readTree(data);
                if (j.has("error")) return Sample.failed("error event: " + j.get("error"));
                JsonNode usage = j.get("usage");
                if (usage != null && usage.isObject()) {
                    promptTokens = usage.path("prompt_tokens").asInt(-1);
                    outputTokens = usage.path("completion_tokens").asInt(-1);
                }
                boolean content = false;
                for (JsonNode c : j.path("choices")) {
                    JsonNode d = c.path("delta");
                    if (!c.path("text").asText("").isEmpty() || !d.path("content").asText("").isEmpty()
                            || !d.path("reasoning_content").asText("").isEmpty()) content = true;
                }
                if (!content) continue;
                chunks++;
                if (first == 0) first = now;
                else gaps.add(now - last);
                last = now;
            }
            long end = System.nanoTime();
            if (!done) return Sample.failed("stream ended without [DONE]");
            if (first == 0) return Sample.failed("no content was streamed");
            return new Sample(null, first - start, end - start, gaps.stream().mapToLong(Long::longValue).toArray(),
                    Math.max(0, promptTokens), outputTokens >= 0 ? outputTokens : chunks);
        } catch (IOException | RuntimeException e) {
            Throwable t = e;
            while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException || t instanceof java.io.UncheckedIOException)) t = t.getCause();
            return Sample.failed(t.getClass().getSimpleName() + ": " + t.getMessage());
        }
    }
}
