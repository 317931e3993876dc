package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Llama2cTokenizerTest {
    /** Writes a tokenizer.bin the way llama2.c's tokenizer.py exports the Llama 2 vocabulary. */
    static byte[] exportLikeLlama2c(Map<String, Object> md) throws IOException {
        String[] tokens = (String[]) md.get("tokenizer.ggml.tokens");
        float[] scores = (float[]) md.get("tokenizer.ggml.scores");
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int max = 0;
        for (int i = 0; i < tokens.length; i++) {
            String t = i == 1 ? "\n<s>\n" : i == 2 ? "\n</s>\n" : tokens[i].replace('\u2581', ' ');
            byte[] b = t.getBytes(StandardCharsets.UTF_8);
            max = Math.max(max, b.length);
            ByteBuffer h = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(scores[i]).putInt(b.length);
            body.write(h.array());
            body.write(b);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(max).array());
        body.writeTo(out);
        return out.toByteArray();
    }

    @Test
    void llama2VocabularyFromTokenizerBinTokenizesLikeTheGGUF(@TempDir Path tmp) throws IOException {
        Map<String, Object> md = Vocabs.ggufMetadata("llama-spm");
        Path bin = tmp.resolve("tokenizer.bin");
        Files.write(bin, exportLikeLlama2c(md));
        SpmTokenizer tok = Llama2cTokenizer.load(bin, 32000);
        Tokenizer ref = Vocabs.gguf("llama-spm");
        assertThat(tok.vocabSize()).isEqualTo(32000);
        assertThat(tok.bosId()).isEqualTo(1);
        assertThat(tok.eosId()).isEqualTo(2);
        assertThat(tok.tokenText(1)).isEqualTo("<s>");
        var dir = dev.sluice.engine.TestFixtures.shared("tokenizers").orElseThrow();
        List<String> inputs = VocabFixturesTest.readInputs(dir.resolve("ggml-vocab-llama-spm.gguf.inp"));
        List<int[]> expected = VocabFixturesTest.readOutputs(dir.resolve("ggml-vocab-llama-spm.gguf.out"));
        for (int i = 0; i < inputs.size(); i++) {
            assertThat(tok.encode(inputs.get(i), false, false)).as("case %d", i).containsExactly(expected.get(i));
        }
        assertThat(tok.encode("Once upon a time", true, false)).containsExactly(ref.encode("Once upon a time", true, false));
        assertThat(tok.decode(tok.encode("Once upon a time 🦙", false, false))).isEqualTo("Once upon a time 🦙");
        // read to end of file when the vocabulary size is not known
        assertThat(Llama2cTokenizer.load(bin, -1).vocabSize()).isEqualTo(32000);
    }

    @Test
    void truncatedOrCorruptFilesAreModelFormatErrors(@TempDir Path tmp) throws IOException {
        Path bin = tmp.resolve("tokenizer.bin");
        ByteBuffer b = ByteBuffer.allocate(4 + 8 + 3).order(ByteOrder.LITTLE_ENDIAN).putInt(8).putFloat(0f).putInt(3);
        b.put("abc".getBytes(StandardCharsets.US_ASCII));
        Files.write(bin, b.array());
        assertThatThrownBy(() -> Llama2cTokenizer.load(bin, 5)).isInstanceOf(ModelFormatException.class).hasMessageContaining("truncated").hasMessageContaining(bin.toString());
        Files.write(bin, Arrays.copyOf(b.array(), 4 + 8 + 1));
        assertThatThrownBy(() -> Llama2cTokenizer.load(bin, 1)).isInstanceOf(ModelFormatException.class).hasMessageContaining("length 3");
        Files.write(bin, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(-5).array());
        assertThatThrownBy(() -> Llama2cTokenizer.load(bin, 1)).isInstanceOf(ModelFormatException.class).hasMessageContaining("max_token_length");
    }
}
