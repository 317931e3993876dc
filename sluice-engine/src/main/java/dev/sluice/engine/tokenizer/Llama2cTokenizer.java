package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a karpathy llama2.c {@code tokenizer.bin} as a SentencePiece tokenizer.
 *
 * <p>Format (little-endian): {@code int32 max_token_length}, then per token {@code float32 score,
 * int32 length, length bytes}. llama2.c's exporter writes the Llama 2 SentencePiece pieces with
 * {@code ▁} replaced by a space and BOS/EOS as {@code "\n<s>\n"} / {@code "\n</s>\n"}; this loader
 * undoes both, so the result is the same vocabulary as a GGUF {@code llama} tokenizer: id 0 is
 * {@code <unk>}, 1 BOS, 2 EOS, and {@code <0xXX>} pieces are byte-fallback tokens.
 */
public final class Llama2cTokenizer {
    private Llama2cTokenizer() {}

    /** Largest token a file may declare (bytes); larger means a corrupt header. */
    static final int MAX_TOKEN_BYTES = 1 << 16;

    /**
     * Reads {@code tokenizer.bin}. {@code vocabSize} is the model's vocabulary size (llama2.c keeps
     * it in the checkpoint header, not here); pass -1 to read tokens until the end of the file.
     */
    public static SpmTokenizer load(Path file, int vocabSize) {
        return new SpmTokenizer(new Vocab(toGGUFMetadata(file, vocabSize), Vocab.Kind.SPM, null));
    }

    /** The vocabulary as GGUF {@code tokenizer.*} metadata (model {@code llama}). */
    public static Map<String, Object> toGGUFMetadata(Path file, int vocabSize) {
        ByteBuffer b;
        try {
            b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw ModelFormatException.of(file, "cannot read llama2.c tokenizer: " + e.getMessage());
        }
        if (b.remaining() < 4) throw ModelFormatException.of(file, "truncated llama2.c tokenizer (no header)");
        int maxLen = b.getInt();
        if (maxLen <= 0 || maxLen > MAX_TOKEN_BYTES) throw ModelFormatException.of(file, "corrupt llama2.c tokenizer: max_token_length " + maxLen);
        List<String> tokens = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (vocabSize < 0 ? b.hasRemaining() : tokens.size() < vocabSize) {
            int i = tokens.size();
            if (b.remaining() < 8) throw ModelFormatException.of(file, "truncated llama2.c tokenizer at token " + i + (vocabSize >= 0 ? " of " + vocabSize : ""));
            float score = b.getFloat();
            int len = b.getInt();
            if (len < 0 || len > maxLen || len > b.remaining()) throw ModelFormatException.of(file, "corrupt llama2.c tokenizer: token " + i + " has length " + len);
            byte[] raw = new byte[len];
            b.get(raw);
            tokens.add(new String(raw, StandardCharsets.UTF_8));
            scores.add(score);
        }
        int n = tokens.size();
        String[] toks = new String[n];
        float[] sc = new float[n];
        int[] types = new int[n];
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < n; i++) {
            String t = tokens.get(i);
            if (t.equals("\n<s>\n")) t = "<s>";
            else if (t.equals("\n</s>\n")) t = "</s>";
            else t = t.replace(' ', '\u2581');
            if (seen.putIfAbsent(t, i) != null) t = "[DUP" + i + "]"; // keep ids stable; never matched
            toks[i] = t;
            sc[i] = scores.get(i);
            types[i] = i == 0 ? TokenType.UNKNOWN
                    : (i == 1 || i == 2) ? TokenType.CONTROL
                    : (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) ? TokenType.BYTE
                    : TokenType.NORMAL;
        }
        Map<String, Object> md = new HashMap<>();
        md.put("tokenizer.ggml.model", "llama");
        md.put("tokenizer.ggml.tokens", toks);
        md.put("tokenizer.ggml.scores", sc);
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.bos_token_id", 1);
        md.put("tokenizer.ggml.eos_token_id", 2);
        md.put("tokenizer.ggml.unknown_token_id", 0);
        md.put("tokenizer.ggml.add_bos_token", true);
        md.put("tokenizer.ggml.add_eos_token", false);
        return md;
    }
}
