package dev.sluice.engine.gguf;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.TestFixtures;
import dev.sluice.engine.model.ModelLoader;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Files written by llama.cpp itself: the vocabulary-only GGUFs of its test suite (shared fixtures). */
class GGUFRealFilesTest {
    static List<Path> vocabFiles() throws IOException {
        var dir = TestFixtures.shared("tokenizers");
        assumeTrue(dir.isPresent(), "shared fixtures tokenizers/ folder not present");
        // the folder is there: every vocabulary it is documented to hold must be too (no silent skips per file)
        for (String v : TestFixtures.VOCABS) {
            assertThat(dir.get().resolve("ggml-vocab-" + v + ".gguf")).as("shared vocab fixture").isRegularFile();
        }
        try (Stream<Path> s = Files.list(dir.get())) {
            return s.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
    }

    @Test
    void llamaCppVocabFilesParse() throws IOException {
        List<Path> files = vocabFiles();
        assertThat(files).hasSizeGreaterThanOrEqualTo(TestFixtures.VOCABS.size());
        for (Path p : files) {
            try (GGUFFile f = GGUFFile.open(p)) {
                assertThat(f.version()).as(p.toString()).isIn(2, 3);
                assertThat(f.getString("general.architecture", null)).as(p.toString()).isNotBlank();
                String[] tokens = f.getArray("tokenizer.ggml.tokens", String[].class);
                assertThat(tokens).as(p.toString()).hasSizeGreaterThan(1000);
                assertThat(f.arrayType("tokenizer.ggml.tokens")).isEqualTo(GGUFValueType.STRING);
                assertThat(f.tensors()).isEmpty();
                // re-writing the metadata keeps every value and type
                Path copy = Files.createTempFile("copy", ".gguf");
                try {
                    new GGUFWriter().copyMetadata(f).write(copy);
                    try (GGUFFile g = GGUFFile.open(copy)) {
                        assertThat(g.metadataTypes()).isEqualTo(f.metadataTypes());
                        assertThat(g.getArray("tokenizer.ggml.tokens", String[].class)).containsExactly(tokens);
                    }
                } finally {
                    Files.deleteIfExists(copy);
                }
            }
        }
    }

    @Test
    void vocabOnlyFileIsNotAModel() throws IOException {
        List<Path> files = vocabFiles();
        Path p = files.stream().filter(x -> x.getFileName().toString().contains("llama-spm")).findFirst().orElseThrow();
        assertThatThrownBy(() -> ModelLoader.load(p)).isInstanceOf(ModelFormatException.class).hasMessageContaining(p.toString());
    }
}
