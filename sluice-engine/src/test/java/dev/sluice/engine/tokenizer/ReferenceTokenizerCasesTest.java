package dev.sluice.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hugging Face reference cases ({@code reference/<model>/tokenizer_cases.json}, made with the
 * {@code tokenizers} library): {@link Tokenizers#fromHuggingFace} must give the same ids with
 * and without special tokens, the same token strings, and the same decoded text.
 */
class ReferenceTokenizerCasesTest {
    @TestFactory
    Stream<DynamicTest> matchesHuggingFace() throws Exception {
        URL url = getClass().getClassLoader().getResource("reference");
        // committed under src/test/resources/reference: absence is a failure, not a skip
        assertThat(url).as("reference fixtures on the test classpath").isNotNull();
        Path root = Path.of(url.toURI());
        List<DynamicTest> tests = new ArrayList<>();
        try (var dirs = Files.list(root)) {
            for (Path dir : dirs.sorted().toList()) {
                if (Files.isRegularFile(dir.resolve("tokenizer.json")) && Files.isRegularFile(dir.resolve("tokenizer_cases.json"))) {
                    tests.add(DynamicTest.dynamicTest(dir.getFileName().toString(), () -> check(dir)));
                }
            }
        }
        assertThat(tests).as("reference models with tokenizer_cases.json").isNotEmpty();
        return tests.stream();
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    private static void check(Path dir) throws Exception {
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("tokenizer_cases.json").toFile());
        Tokenizer tok = Tokenizers.fromHuggingFace(dir);
        if (cases.has("vocab_size")) assertThat(tok.vocabSize()).isEqualTo(cases.get("vocab_size").asInt());
        if (cases.has("bos")) assertThat(tok.bosId()).isEqualTo(cases.path("bos").path("id").asInt());
        if (cases.has("eos")) {
            assertThat(tok.eosId()).isEqualTo(cases.path("eos").path("id").asInt());
            assertThat(tok.endOfGenerationIds()).contains(tok.eosId());
        }
        for (JsonNode c : cases.path("cases")) {
            String text = c.path("text").asText();
            String what = dir.getFileName() + " " + VocabFixturesTest.escape(text);
            int[] ids = ints(c.path("ids"));
            // Hugging Face always splits added tokens out of the text, special or not
            assertThat(tok.encode(text, false, true)).as(what).containsExactly(ids);
            if (c.has("ids_with_special")) assertThat(tok.encode(text, true, true)).as(what + " with special").containsExactly(ints(c.path("ids_with_special")));
            if (c.has("tokens")) {
                List<String> texts = Arrays.stream(ids).mapToObj(tok::tokenText).toList();
                List<String> want = new ArrayList<>();
                c.path("tokens").forEach(t -> want.add(t.asText()));
                assertThat(texts).as(what + " token strings").isEqualTo(want);
            }
            if (c.has("decoded")) assertThat(tok.decode(ids)).as(what + " decoded").isEqualTo(c.path("decoded").asText());
            if (c.has("decoded_skip_special")) {
                int[] plain = Arrays.stream(ids).filter(i -> !tok.isSpecial(i)).toArray();
                assertThat(tok.decode(plain)).as(what + " decoded, specials skipped").isEqualTo(c.path("decoded_skip_special").asText());
            }
        }
    }
}
