package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.cli.hub.FakeHub;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class GenerateCommandTest {
    static final Pattern STATS = Pattern.compile("prefill: \\d+ tok, \\d+(\\.\\d+)? tok/s; decode: \\d+ tok, \\d+(\\.\\d+)? tok/s\\R?");

    @TempDir Path tmp;

    /**
     * A reference model's prompt ids (expected.json, as {@code --prompt-ids}), and the text of its
     * Hugging Face greedy continuation up to the first end-of-generation token, special tokens hidden.
     */
    record Reference(String promptIds, String greedyText, int greedyTokens) {}

    static Reference reference(Path dir) throws Exception {
        JsonNode exp = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        Tokenizer tok = Tokenizers.fromHuggingFace(dir);
        int[] input = ids(exp.get("input_ids"));
        int[] greedy = ids(exp.get("greedy_ids"));
        int end = 0;
        while (end < greedy.length && !tok.endOfGenerationIds().contains(greedy[end])) end++;
        // generated text hides special tokens, as transformers' decode(skip_special_tokens=True) does
        int[] shown = Arrays.stream(Arrays.copyOf(greedy, end)).filter(id -> !tok.isSpecial(id)).toArray();
        return new Reference(TokenizeCommandTest.line(input), tok.decode(shown), end);
    }

    static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    @Test
    void greedyGenerationPrintsTheHuggingFaceContinuationAndStats() throws Exception {
        Path dir = Fixtures.reference("qwen2");
        Reference ref = reference(dir);
        Cli.Result r = Cli.run("generate", "--model", dir.toString(), "--prompt-ids", ref.promptIds(), "--temperature", "0",
                "--max-tokens", Integer.toString(ref.greedyTokens()), "--threads", "2");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo(ref.greedyText() + "\n");
        assertThat(r.err()).matches(STATS);
        assertThat(r.err()).contains("decode: " + ref.greedyTokens() + " tok");
    }

    @Test
    void seedMakesSamplingReproducible() {
        Path dir = Fixtures.reference("llama");
        String[] args = {"generate", "-m", dir.toString(), "-p", "Hello", "--temperature", "1.0", "--top-k", "0",
                "--top-p", "1", "--min-p", "0", "--seed", "42", "-n", "24"};
        Cli.Result a = Cli.run(args);
        Cli.Result b = Cli.run(args);
        assertThat(a.exit()).as(a.err()).isZero();
        assertThat(a.out()).isEqualTo(b.out()).isNotBlank();
        args[args.length - 3] = "43";
        assertThat(Cli.run(args).out()).isNotEqualTo(a.out());
    }

    @Test
    void stopStringEndsTheOutputBeforeIt() throws Exception {
        Path dir = Fixtures.reference("qwen2");
        Reference ref = reference(dir);
        String text = ref.greedyText();
        assertThat(text).as("qwen2 greedy text long enough to hold a stop string").hasSizeGreaterThan(12);
        String stop = text.substring(8, 11);
        int cut = text.indexOf(stop);
        Cli.Result r = Cli.run("generate", "-m", dir.toString(), "--prompt-ids", ref.promptIds(), "--temperature", "0",
                "-n", Integer.toString(ref.greedyTokens()), "--stop", stop);
        assertThat(r.exit()).isZero();
        assertThat(r.out()).isEqualTo(text.substring(0, cut) + "\n");
    }

    @Test
    void convertThenQuantizeThenGenerate() throws Exception {
        Path dir = Fixtures.reference("llama");
        Path f16 = tmp.resolve("llama-f16.gguf");
        Path q8 = tmp.resolve("llama-q8_0.gguf");
        assertThat(Cli.run("convert", "--input", dir.toString(), "--output", f16.toString(), "--type", "f16").exit()).isZero();
        assertThat(Cli.run("quantize", "--input", f16.toString(), "--output", q8.toString(), "--type", "q8_0").exit()).isZero();
        Reference ref = reference(dir);
        Cli.Result hf = Cli.run("generate", "-m", dir.toString(), "--prompt-ids", ref.promptIds(), "--temperature", "0", "-n", "8");
        Cli.Result gguf = Cli.run("generate", "-m", f16.toString(), "--prompt-ids", ref.promptIds(), "--temperature", "0", "-n", "8");
        Cli.Result quant = Cli.run("generate", "-m", q8.toString(), "--prompt-ids", ref.promptIds(), "--temperature", "0", "-n", "8");
        for (Cli.Result r : new Cli.Result[] {hf, gguf, quant}) {
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out()).isNotBlank();
            assertThat(r.err()).matches(STATS);
        }
        assertThat(gguf.out()).isEqualTo(hf.out()); // f16 keeps these tiny weights' greedy path
    }

    @Test
    void badModelPathIsExitCode1NamingThePath() {
        Path missing = tmp.resolve("missing-model.gguf");
        Cli.Result r = Cli.run("generate", "--model", missing.toString(), "--prompt", "hi");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("sluice: error: ").contains(missing.toString()).doesNotContain("\tat ");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void malformedModelIsExitCode1WithoutStackTrace() throws Exception {
        Path bad = Files.write(tmp.resolve("bad.gguf"), "GGUF-not-really".getBytes());
        Cli.Result r = Cli.run("generate", "--model", bad.toString(), "--prompt", "hi");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("sluice: error: ").contains("bad.gguf").doesNotContain("\tat ");
    }

    @Test
    void outOfRangeSamplingOptionIsUsageErrorNamingTheOption() {
        Path dir = Fixtures.reference("qwen2");
        Cli.Result r = Cli.run("generate", "-m", dir.toString(), "-p", "hi", "--top-p", "2");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--top-p").contains("2.0");
        Cli.Result t = Cli.run("generate", "-m", dir.toString(), "-p", "hi", "--temperature", "abc");
        assertThat(t.exit()).isEqualTo(2);
        assertThat(t.err()).contains("--temperature").contains("abc");
    }

    @Test
    void hubModelIsDownloadedThenServedFromCache() throws Exception {
        Path dir = Fixtures.reference("qwen2");
        Path cache = tmp.resolve("cache");
        try (FakeHub hub = new FakeHub()) {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) hub.put("tiny/qwen2", f.getFileName().toString(), Files.readAllBytes(f));
            }
            Map<String, String> env = Map.of("SLUICE_HF_ENDPOINT", hub.endpoint().toString(), "SLUICE_CACHE", cache.toString());
            Cli.Result r = Cli.run("", env, "generate", "-m", "hf:tiny/qwen2", "-p", "Hello", "--temperature", "0", "-n", "5");
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.err()).contains("downloading model.safetensors").contains("downloaded config.json");
            assertThat(cache.resolve("tiny/qwen2/model.safetensors")).exists();
            assertThat(cache.resolve("tiny/qwen2/expected.json")).doesNotExist();
            Cli.Result local = Cli.run("generate", "-m", dir.toString(), "-p", "Hello", "--temperature", "0", "-n", "5");
            assertThat(r.out()).isEqualTo(local.out());
            long requests = hub.requests.size();
            Cli.Result again = Cli.run("Hello", env, "tokenize", "-m", "hf:tiny/qwen2");
            assertThat(again.exit()).isZero();
            assertThat(hub.requests).hasSize((int) requests); // served from the cache
        }
    }

    @Test
    void hubErrorsAreCleanMessages() throws Exception {
        try (FakeHub hub = new FakeHub()) {
            Map<String, String> env = Map.of("HF_ENDPOINT", hub.endpoint().toString(), "SLUICE_CACHE", tmp.toString());
            Cli.Result r = Cli.run("", env, "generate", "-m", "hf:nobody/nothing:model.gguf", "-p", "x");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).startsWith("sluice: error: hf:nobody/nothing:model.gguf not found").contains("HTTP 404")
                    .doesNotContain("\tat ");
            Cli.Result bad = Cli.run("", env, "generate", "-m", "hf:../x", "-p", "x");
            assertThat(bad.exit()).isEqualTo(1);
            assertThat(bad.err()).contains("hf:../x");
        }
    }
}
