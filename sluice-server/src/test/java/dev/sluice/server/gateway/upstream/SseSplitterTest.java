package dev.sluice.server.gateway.upstream;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class SseSplitterTest {
    @Test
    void anOrdinaryChunkIsOneWithDataAndNoMarker() {
        assertThat(ordinary("data: {\"choices\":[{\"delta\":{\"content\":\"wörld\"}}]}\n\n")).isTrue();
        assertThat(ordinary("event: delta\r\ndata:{\"a\":1}\r\n\r\n")).isTrue();
        assertThat(ordinary("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n")).isFalse();
        assertThat(ordinary("data: {\"choices\":[],\"usage\":null}\n\n")).isFalse();
        assertThat(ordinary("data: {\"error\":{\"message\":\"x\"}}\n\n")).isFalse();
        assertThat(ordinary("data: [DONE]\n\n")).isFalse();
        assertThat(ordinary(": keep-alive\n\n")).isFalse();
        assertThat(ordinary("event: ping\n\n")).isFalse();
        assertThat(ordinary("id: 7\nmetadata: x\n\n")).isFalse(); // "data" must start the line
    }

    private static boolean ordinary(String event) {
        return SseSplitter.ordinaryData(event.getBytes(StandardCharsets.UTF_8));
    }
}
