package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

class TokenizeCommandTest {
    static String line(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    static String line(JsonNode ids) {
        return StreamSupport.stream(ids.spliterator(), false).map(JsonNode::asText).collect(Collectors.joining(" "));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "llama"})
    void matchesTokenizersAndHuggingFaceOnReferenceCases(String name) throws Exception {
        Path dir = Fixtures.reference(name);
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("tokenizer_cases.json").toFile()).get("cases");
        Tokenizer tok = Tokenizers.fromHuggingFace(dir);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            Cli.Result plain = Cli.run(text, Map.of(), "tokenize", "--model", dir.toString());
            assertThat(plain.exit()).as(plain.err()).isZero();
            assertThat(plain.out()).as("tokenize %s", text).isEqualTo(line(tok.encode(text, false, false)) + "\n");
            Cli.Result special = Cli.run(text, Map.of(), "tokenize", "--model", dir.toString(), "--add-special");
            assertThat(special.out()).as("tokenize --add-special %s", text).isEqualTo(line(tok.encode(text, true, false)) + "\n");
        }
        JsonNode hello = cases.get(0);
        assertThat(Cli.run(hello.get("text").asText(), Map.of(), "tokenize", "-m", dir.toString()).out().strip())
                .isEqualTo(line(hello.get("ids")));
        assertThat(Cli.run(hello.get("text").asText(), Map.of(), "tokenize", "-m", dir.toString(), "--add-special").out().strip())
                .isEqualTo(line(hello.get("ids_with_special")));
    }

    @Test
    void specialTokenTextIsPlainTextUnlessParseSpecial() {
        Path dir = Fixtures.reference("qwen2");
        String out = Cli.run("<|bos|>Hello", Map.of(), "tokenize", "-m", dir.toString()).out().strip();
        assertThat(out.split(" ")).hasSizeGreaterThan(2).doesNotContain("0");
        String parsed = Cli.run("<|bos|>Hello", Map.of(), "tokenize", "-m", dir.toString(), "--parse-special").out().strip();
        assertThat(parsed).startsWith("0 ");
    }

    /** llama.cpp's test-tokenizer-0 cases on a vocabulary-only GGUF: the command needs no weights. */
    @Test
    void vocabOnlyGgufMatchesLlamaCppTestVectors() throws Exception {
        Path vocab = Fixtures.sharedTokenizer("ggml-vocab-gpt-2.gguf");
        String inp = Files.readString(Path.of(vocab + ".inp"));
        List<String> expected = Files.readAllLines(Path.of(vocab + ".out"));
        String[] texts = inp.split("\n__ggml_vocab_test__\n", -1);
        int n = Math.min(texts.length, expected.size());
        assertThat(n).isGreaterThan(10);
        for (int i = 0; i < n; i += 9) { // a sample: each run loads the 50k-token vocabulary (~0.15 s)
            Cli.Result r = Cli.run(texts[i], Map.of(), "tokenize", "-m", vocab.toString());
            assertThat(r.exit()).isZero();
            assertThat(r.out().strip()).as("case %d: %s", i, texts[i]).isEqualTo(expected.get(i).strip());
        }
    }

    @Test
    void missingModelIsExitCode1NamingThePath() {
        Cli.Result r = Cli.run("hi", Map.of(), "tokenize", "-m", "no/such/model.gguf");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("model not found").contains(Path.of("no/such/model.gguf").toAbsolutePath().toString());
    }
}
