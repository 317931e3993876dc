package dev.sluice.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pre-tokenizer fidelity for families without a vocab fixture: word splits of 130 strings
 * (llama.cpp's vectors, code, scripts, random Unicode) by the pre-tokenizers of the real Hugging
 * Face tokenizer.json files of Llama 3, Qwen 3, DeepSeek V3 and GPT-4o, recorded with
 * transformers.js ({@code tokenizer/hf-pretokenizer-splits.json}). Ours must split identically.
 */
class HfPreTokenizerSplitsTest {
    @TestFactory
    Stream<DynamicTest> splitsMatchHuggingFace() throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("tokenizer/hf-pretokenizer-splits.json")) {
            root = new ObjectMapper().readTree(in);
        }
        JsonNode inputs = root.path("inputs");
        List<DynamicTest> tests = new ArrayList<>();
        for (var it = root.path("splits").fields(); it.hasNext(); ) {
            var fam = it.next();
            tests.add(DynamicTest.dynamicTest(fam.getKey(), () -> {
                PreTokenizer pre = PreTokenizer.forName(fam.getKey());
                for (int i = 0; i < inputs.size(); i++) {
                    String text = inputs.get(i).asText();
                    List<String> want = new ArrayList<>();
                    for (JsonNode piece : fam.getValue().get(i)) want.add(new String(ByteLevel.decode(piece.asText()), StandardCharsets.UTF_8));
                    assertThat(pre.split(pre.normalize(text))).as("%s #%d %s", fam.getKey(), i, VocabFixturesTest.escape(text)).isEqualTo(want);
                }
            }));
        }
        assertThat(tests).hasSizeGreaterThanOrEqualTo(4);
        return tests.stream();
    }
}
