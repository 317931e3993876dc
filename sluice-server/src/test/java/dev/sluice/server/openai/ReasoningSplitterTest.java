package dev.sluice.server.openai;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class ReasoningSplitterTest {
    static String[] run(ReasoningSplitter s, String text, Random rnd) {
        StringBuilder r = new StringBuilder(), c = new StringBuilder();
        int i = 0;
        while (i < text.length()) {
            int j = Math.min(text.length(), i + 1 + (rnd == null ? text.length() : rnd.nextInt(4)));
            var d = s.push(text.substring(i, j));
            r.append(d.reasoning());
            c.append(d.content());
            i = j;
        }
        var d = s.flush();
        r.append(d.reasoning());
        c.append(d.content());
        return new String[] {r.toString(), c.toString()};
    }

    @RepeatedTest(50)
    void anyChunkingGivesTheSameSplit() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        String text = "<think>\nstep one\n\nstep </thin two\n</think>\n\nfinal <b>answer</b>";
        String[] whole = run(new ReasoningSplitter(false), text, null);
        assertThat(whole).containsExactly("step one\n\nstep </thin two", "final <b>answer</b>");
        assertThat(run(new ReasoningSplitter(false), text, rnd)).as("seed %d", seed).containsExactly(whole);
    }

    @Test
    void startsInReasoningWhenThePromptOpenedIt() {
        assertThat(run(new ReasoningSplitter(true), "a\n</think>\n\nb", null)).containsExactly("a", "b");
    }

    @Test
    void afterAClosedReasoningBlockLeadingNewlinesAreDropped() {
        assertThat(run(new ReasoningSplitter(ReasoningSplitter.Start.AFTER_REASONING), "\n\n12 + 30 = 42.", new Random(3))).containsExactly("", "12 + 30 = 42.");
    }

    @Test
    void plainOutputIsAllContent() {
        assertThat(run(new ReasoningSplitter(false), "  <thinking is fun", null)).containsExactly("", "  <thinking is fun");
        assertThat(run(new ReasoningSplitter(false), "hello", new Random(1))).containsExactly("", "hello");
    }

    @Test
    void unterminatedReasoningStaysReasoning() {
        assertThat(run(new ReasoningSplitter(true), "still thinking\n", new Random(2))).containsExactly("still thinking", "");
    }
}
