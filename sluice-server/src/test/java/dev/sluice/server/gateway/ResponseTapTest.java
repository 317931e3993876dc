package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpData;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.ResponseHeaders;
import dev.sluice.server.gateway.limits.AdmissionStageAccess;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ResponseTap}: both modes see the same status, usage, [DONE] and event count of a stream split at odd places. */
class ResponseTapTest {
    static final String CHUNK = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}";

    static HttpResponse stream(boolean usage) {
        StringBuilder sb = new StringBuilder();
        for (String t : new String[] {"Hel", "lo", " \\\"usage\\\"", "!"}) sb.append("data: ").append(CHUNK.formatted(t)).append("\n\n");
        if (usage) sb.append("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":4,\"total_tokens\":11}}\n\n");
        sb.append("data: [DONE]\n\n");
        byte[] all = sb.toString().getBytes(StandardCharsets.UTF_8);
        // split into pieces of 13 bytes: events and even UTF-8 runs cross data frames
        // written as a live stream, as a backend does
        com.linecorp.armeria.common.HttpResponseWriter w = HttpResponse.streaming();
        w.write(ResponseHeaders.of(HttpStatus.OK, "content-type", MediaType.EVENT_STREAM.toString()));
        for (int from = 0; from < all.length; from += 13) {
            w.write(HttpData.wrap(java.util.Arrays.copyOfRange(all, from, Math.min(all.length, from + 13))));
        }
        w.close();
        return w;
    }

    static ResponseTap.Outcome outcome(HttpResponse res, boolean full) throws Exception {
        CompletableFuture<ResponseTap.Outcome> f = new CompletableFuture<>();
        HttpResponse tapped = full ? ResponseTap.tap(res, f::complete) : ResponseTap.status(res, f::complete);
        tapped.aggregate().join();
        return f.get(5, TimeUnit.SECONDS);
    }

    @Test
    void statusModeCountsEventsWithoutKeepingChunks() throws Exception {
        ResponseTap.Outcome full = outcome(stream(true), true), status = outcome(stream(true), false);
        assertThat(full.chunks()).hasSize(5); // 4 content chunks + the usage chunk
        assertThat(status.chunks()).isEmpty();
        for (ResponseTap.Outcome o : new ResponseTap.Outcome[] {full, status}) {
            assertThat(o.ok()).isTrue();
            assertThat(o.done()).isTrue();
            assertThat(o.events()).isEqualTo(4);
            assertThat(o.usage().promptTokens()).isEqualTo(7);
            assertThat(o.usage().completionTokens()).isEqualTo(4);
        }
    }

    @Test
    void completionEstimateWithoutUsageIsTheSameInBothModes() throws Exception {
        ResponseTap.Outcome full = outcome(stream(false), true), status = outcome(stream(false), false);
        assertThat(full.usage()).isNull();
        assertThat(status.usage()).isNull();
        assertThat(AdmissionStageAccess.estimateCompletion(full)).isEqualTo(4);
        assertThat(AdmissionStageAccess.estimateCompletion(status)).isEqualTo(4);
    }

    @Test
    void fixedResponsesAreSeenWholeEveryTime() throws Exception {
        // HttpResponse.of(...) / ofJson(...) are fixed streams (cache replays, errors, aggregated upstream answers)
        for (int i = 0; i < 300; i++) {
            HttpResponse res = HttpResponse.of(HttpStatus.OK, MediaType.JSON_UTF_8,
                    "{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":%d}}".formatted(i));
            boolean full = i % 2 == 0;
            ResponseTap.Outcome o = outcome(res, full);
            if (full) assertThat(o.body().path("id").asText()).as("try %d", i).isEqualTo("x");
            else assertThat(o.body()).isNull(); // status mode reads only usage and error
            assertThat(o.usage().completionTokens()).isEqualTo(i);
        }
    }
}
