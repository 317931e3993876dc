package dev.sluice.server.gateway.upstream;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class SseSplitterTest {
    @Test
    void eventsCutAtEveryByteComeOutWholeAndExact() {
        String stream = "data: {\"a\":\"wörld 🙂\"}\n\n: keep-alive\n\nevent: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
        byte[] b = stream.getBytes(StandardCharsets.UTF_8);
        java.util.List<String> whole = events(b, b.length);
        assertThat(whole).containsExactly("data: {\"a\":\"wörld 🙂\"}\n\n", ": keep-alive\n\n", "event: x\r\ndata: y\r\n\r\n", "data: [DONE]\n\n");
        for (int cut = 0; cut <= b.length; cut++) assertThat(events(b, cut)).as("cut at %d", cut).isEqualTo(whole);
        for (int piece = 1; piece <= 7; piece++) {
            SseSplitter s = new SseSplitter();
            java.util.List<String> out = new java.util.ArrayList<>();
            for (int i = 0; i < b.length; i += piece) {
                s.feed(java.util.Arrays.copyOfRange(b, i, Math.min(b.length, i + piece)), e -> out.add(new String(e, StandardCharsets.UTF_8)));
            }
            assertThat(out).as("pieces of %d", piece).isEqualTo(whole);
        }
    }

    @Test
    void anUnterminatedRestIsKeptAndDrained() {
        SseSplitter s = new SseSplitter();
        java.util.List<String> out = new java.util.ArrayList<>();
        s.feed("data: a\n\ndata: b".getBytes(StandardCharsets.UTF_8), e -> out.add(new String(e, StandardCharsets.UTF_8)));
        assertThat(out).containsExactly("data: a\n\n");
        assertThat(s.hasPartial()).isTrue();
        assertThat(new String(s.drainPartial(), StandardCharsets.UTF_8)).isEqualTo("data: b\n\n");
        assertThat(s.drainPartial()).isNull();
    }

    private static java.util.List<String> events(byte[] b, int cut) {
        SseSplitter s = new SseSplitter();
        java.util.List<String> out = new java.util.ArrayList<>();
        s.feed(java.util.Arrays.copyOfRange(b, 0, cut), e -> out.add(new String(e, StandardCharsets.UTF_8)));
        s.feed(java.util.Arrays.copyOfRange(b, cut, b.length), e -> out.add(new String(e, StandardCharsets.UTF_8)));
        return out;
    }
}
