package dev.sluice.server.gateway;

import com.linecorp.armeria.common.HttpData;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The forced usage chunk is cut out of the frames of a client that did not ask for usage; everything else passes byte for byte. */
class StreamUsageTest {
    static final String CHUNK = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"wörld 🙂\"}}]}\n\n";
    static final String USAGE_ONLY = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n";
    static final String DONE = "data: [DONE]\n\n";

    @Test
    void aFrameWithoutUsageIsTheSameObject() {
        HttpData d = HttpData.ofUtf8(CHUNK + CHUNK + DONE);
        assertThat(StreamUsage.withoutUsageChunks(d)).isSameAs(d);
    }

    @Test
    void theUsageOnlyChunkIsDroppedWhereverItIsInTheFrame() {
        assertThat(strip(CHUNK + USAGE_ONLY + DONE)).isEqualTo(CHUNK + DONE);
        assertThat(strip(USAGE_ONLY + DONE)).isEqualTo(DONE);
        assertThat(strip(CHUNK + CHUNK + USAGE_ONLY)).isEqualTo(CHUNK + CHUNK);
        assertThat(strip(USAGE_ONLY)).isEmpty();
    }

    @Test
    void chunksThatOnlyMentionUsageStay() {
        String withChoices = "data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"prompt_tokens\":3}}\n\n";
        String nullUsage = "data: {\"choices\":[],\"usage\":null}\n\n";
        String inText = "data: {\"choices\":[{\"delta\":{\"content\":\"the \\\"usage\\\" word\"}}]}\n\n";
        String notJson = "data: \"usage\" {\n\n";
        String comment = ": \"usage\"\n\n";
        for (String keep : new String[] {withChoices, nullUsage, inText, notJson, comment}) {
            HttpData d = HttpData.ofUtf8(keep + DONE);
            assertThat(StreamUsage.withoutUsageChunks(d)).as(keep).isSameAs(d);
        }
        assertThat(strip(withChoices + USAGE_ONLY + DONE)).isEqualTo(withChoices + DONE);
    }

    private static String strip(String frame) {
        return StreamUsage.withoutUsageChunks(HttpData.ofUtf8(frame)).toStringUtf8();
    }
}
