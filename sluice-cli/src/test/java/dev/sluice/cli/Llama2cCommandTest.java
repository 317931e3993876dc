package dev.sluice.cli;

import dev.sluice.engine.tokenizer.Llama2cTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code --model model.bin}: a llama2.c checkpoint with its {@code tokenizer.bin} beside it. */
class Llama2cCommandTest {
    static final int DIM = 16, HIDDEN = 32, LAYERS = 1, HEADS = 2, KV_HEADS = 2, SEQ = 64;

    @TempDir Path dir;

    static List<String> pieces() {
        List<String> p = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        for (int b = 0; b < 256; b++) p.add(String.format("<0x%02X>", b));
        p.addAll(List.of(" ", "a", "b", "c", "ab", "abc", " abc"));
        return p;
    }

    static void writeTokenizer(Path file, List<String> pieces) throws IOException {
        List<byte[]> raw = pieces.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
        int max = raw.stream().mapToInt(b -> b.length).max().orElse(1);
        ByteBuffer b = ByteBuffer.allocate(4 + raw.stream().mapToInt(r -> 8 + r.length).sum()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(max);
        for (int i = 0; i < raw.size(); i++) {
            b.putFloat(i < 259 ? 0f : i - 300f); // later (merged) pieces score higher
            b.putInt(raw.get(i).length).put(raw.get(i));
        }
        Files.write(file, b.array());
    }

    static void writeCheckpoint(Path file, int vocab) throws IOException {
        int head = DIM / HEADS, kvDim = KV_HEADS * head;
        long floats = (long) vocab * DIM + LAYERS * DIM + LAYERS * DIM * DIM + 2L * LAYERS * DIM * kvDim + LAYERS * DIM * DIM
                + LAYERS * DIM + 3L * LAYERS * DIM * HIDDEN + DIM + 2L * SEQ * (head / 2);
        ByteBuffer b = ByteBuffer.allocate(28 + (int) floats * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(DIM).putInt(HIDDEN).putInt(LAYERS).putInt(HEADS).putInt(KV_HEADS).putInt(vocab).putInt(SEQ);
        Random r = new Random(7);
        while (b.hasRemaining()) b.putFloat((float) (r.nextGaussian() * 0.5));
        Files.write(file, b.array());
    }

    @Test
    void tokenizeAndGenerateWithTokenizerBinBesideTheCheckpoint() throws Exception {
        List<String> pieces = pieces();
        Path model = dir.resolve("model.bin");
        Path tok = dir.resolve("tokenizer.bin");
        writeTokenizer(tok, pieces);
        writeCheckpoint(model, pieces.size());

        Cli.Result t = Cli.run("abc abc", Map.of(), "tokenize", "-m", model.toString(), "--add-special");
        assertThat(t.exit()).as(t.err()).isZero();
        int[] expected = Llama2cTokenizer.load(tok, pieces.size()).encode("abc abc", true, false);
        assertThat(t.out().strip()).isEqualTo(TokenizeCommandTest.line(expected)).startsWith("1 ");

        String[] args = {"generate", "-m", model.toString(), "-p", "abc", "--temperature", "0", "-n", "10"};
        Cli.Result g = Cli.run(args);
        assertThat(g.exit()).as(g.err()).isZero();
        assertThat(g.err()).matches(GenerateCommandTest.STATS);
        assertThat(Cli.run(args).out()).isEqualTo(g.out());
    }

    @Test
    void checkpointWithoutTokenizerIsAClearError() throws Exception {
        Path model = dir.resolve("model.bin");
        writeCheckpoint(model, pieces().size());
        Cli.Result g = Cli.run("generate", "-m", model.toString(), "-p", "abc");
        assertThat(g.exit()).isEqualTo(1);
        assertThat(g.err()).contains("tokenizer").contains(model.toString()).doesNotContain("\tat ");
    }
}
