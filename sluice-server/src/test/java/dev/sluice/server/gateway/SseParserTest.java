package dev.sluice.server.gateway;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class SseParserTest {
    static final String STREAM = "data: {\"a\":\"wörld 🙂\"}\n\n: comment\n\nevent: x\ndata: line1\ndata: line2\n\r\ndata:[DONE]\n\n";
    static final List<String> EVENTS = List.of("{\"a\":\"wörld 🙂\"}", "line1\nline2", "[DONE]");

    @Test
    void eventsCutAtEveryByteStillDecodeWhole() {
        byte[] b = STREAM.getBytes(StandardCharsets.UTF_8);
        for (int cut = 0; cut <= b.length; cut++) {
            SseParser p = new SseParser();
            List<String> out = new ArrayList<>(p.push(java.util.Arrays.copyOfRange(b, 0, cut)));
            out.addAll(p.push(java.util.Arrays.copyOfRange(b, cut, b.length)));
            out.addAll(p.finish());
            assertThat(out).as("cut at %d", cut).isEqualTo(EVENTS);
        }
    }

    @Test
    void randomPiecesAndAnUnterminatedLastEvent() {
        byte[] b = (STREAM + "data: tail").getBytes(StandardCharsets.UTF_8);
        Random r = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            SseParser p = new SseParser();
            List<String> out = new ArrayList<>();
            int i = 0;
            while (i < b.length) {
                int n = 1 + r.nextInt(7);
                out.addAll(p.push(java.util.Arrays.copyOfRange(b, i, Math.min(b.length, i + n))));
                i += n;
            }
            out.addAll(p.finish());
            assertThat(out).hasSize(4).endsWith("tail");
            assertThat(out.subList(0, 3)).isEqualTo(EVENTS);
        }
    }

    @Test
    void markedOnlyPassesOnUsageErrorAndDoneAndCountsTheOrdinaryChunks() {
        String stream = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                + ": keep-alive\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"wörld\"}}]}\r\n\r\n"
                + "event: x\ndata: line1\ndata: line2\n\n"
                + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n"
                + "data: {\"error\":{\"message\":\"x\"}}\n\n"
                + "data: [DONE]\n\n";
        byte[] b = stream.getBytes(StandardCharsets.UTF_8);
        List<String> all = new ArrayList<>(new SseParser().push(b));
        for (int cut = 0; cut <= b.length; cut++) {
            SseParser p = new SseParser(true);
            List<String> out = new ArrayList<>(p.push(java.util.Arrays.copyOfRange(b, 0, cut)));
            int ordinary = p.takeOrdinary();
            out.addAll(p.push(java.util.Arrays.copyOfRange(b, cut, b.length)));
            out.addAll(p.finish());
            ordinary += p.takeOrdinary();
            assertThat(out).as("cut at %d", cut).containsExactly(all.get(3), all.get(4), all.get(5));
            assertThat(ordinary).as("cut at %d: the 3 chunks with data and no marker, not the comment", cut).isEqualTo(3);
            assertThat(p.takeOrdinary()).isZero();
        }
        assertThat(all).hasSize(6);
        SseParser plain = new SseParser();
        plain.push(b);
        assertThat(plain.takeOrdinary()).isZero(); // a parser not made markedOnly returns every event
    }

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
        byte[] b = event.getBytes(StandardCharsets.UTF_8);
        return SseParser.ordinary(b, 0, b.length);
    }
}
