package dev.sluice.engine.tokenizer;

import dev.sluice.engine.TestFixtures;
import dev.sluice.engine.gguf.GGUFFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama.cpp's test-tokenizer-0 vectors (made with Hugging Face tokenizers): for each vocab in the
 * shared fixtures, every test string encodes (no BOS, special text not parsed) to exactly the
 * expected ids, and decodes back to the string.
 */
class VocabFixturesTest {
    static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    /** The .inp format: each string is followed by a newline and a line of exactly {@code __ggml_vocab_test__}. */
    static List<String> readInputs(Path inp) throws IOException {
        String all = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>();
        int from = 0;
        while (true) {
            int i = all.indexOf(SEPARATOR, from);
            if (i < 0) break;
            out.add(all.substring(from, i));
            from = i + SEPARATOR.length();
        }
        return out;
    }

    static List<int[]> readOutputs(Path out) throws IOException {
        List<int[]> res = new ArrayList<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            String t = line.strip();
            res.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split(" +")).mapToInt(Integer::parseInt).toArray());
        }
        return res;
    }

    @TestFactory
    Stream<DynamicTest> vocabsMatchReference() throws IOException {
        var dir = TestFixtures.shared("tokenizers");
        Assumptions.assumeTrue(dir.isPresent(), "shared fixtures tokenizers/ absent");
        // the folder is there: each documented vocabulary and its .inp/.out must be too (no silent per-file skips)
        for (String v : TestFixtures.VOCABS) {
            for (String ext : List.of("", ".inp", ".out")) {
                assertThat(dir.get().resolve("ggml-vocab-" + v + ".gguf" + ext)).as("shared vocab fixture").isRegularFile();
            }
        }
        List<DynamicTest> tests = new ArrayList<>();
        try (var files = Files.list(dir.get())) {
            for (Path gguf : files.filter(p -> p.toString().endsWith(".gguf")).sorted().toList()) {
                Path inp = Path.of(gguf + ".inp"), out = Path.of(gguf + ".out");
                assertThat(inp).as("reference inputs for %s", gguf).isRegularFile();
                assertThat(out).as("reference outputs for %s", gguf).isRegularFile();
                tests.add(DynamicTest.dynamicTest(gguf.getFileName().toString(), () -> check(gguf, inp, out)));
            }
        }
        return tests.stream();
    }

    private static void check(Path gguf, Path inp, Path outp) throws IOException {
        Tokenizer tok;
        try (GGUFFile f = GGUFFile.open(gguf)) {
            tok = Tokenizers.fromGGUF(f);
        }
        List<String> inputs = readInputs(inp);
        List<int[]> expected = readOutputs(outp);
        assertThat(inputs).hasSameSizeAs(expected);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            String text = inputs.get(i);
            int[] got = tok.encode(text, false, false);
            if (!Arrays.equals(got, expected.get(i))) {
                failures.add("#" + i + " " + escape(text) + "\n   expected " + Arrays.toString(expected.get(i)) + "\n   got      " + Arrays.toString(got));
                continue;
            }
            String back = tok.decode(got);
            boolean spm = tok instanceof SpmTokenizer s && s.addsSpacePrefix();
            String want = text;
            if (!back.equals(want) && !(spm && (" " + back).equals(text))) {
                failures.add("#" + i + " decode " + escape(text) + " gave " + escape(back));
            }
        }
        assertThat(failures).as(gguf.getFileName() + " mismatches").isEmpty();
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(c -> {
            if (c == '\n') b.append("\\n");
            else if (c == '\t') b.append("\\t");
            else if (c == '\r') b.append("\\r");
            else if (c < 0x20) b.append(String.format("\\x%02x", c));
            else b.appendCodePoint(c);
        });
        return b.append('"').toString();
    }
}
