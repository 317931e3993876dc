package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Factory selection and errors, on small in-memory vocabularies (no fixtures needed). */
class TokenizersTest {
    /** A tiny SentencePiece vocab: specials, 256 byte tokens, then scored pieces. */
    static Map<String, Object> tinySpm() {
        List<String> toks = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL));
        for (int b = 0; b < 256; b++) {
            toks.add(String.format("<0x%02X>", b));
            types.add(TokenType.BYTE);
        }
        String[] pieces = {"\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "\u2581b"};
        float[] pieceScores = {-1, -2, -3, -4, -5, -6, -7};
        for (String p : pieces) {
            toks.add(p);
            types.add(TokenType.NORMAL);
        }
        float[] scores = new float[toks.size()];
        for (int i = 0; i < pieces.length; i++) scores[259 + i] = pieceScores[i];
        Map<String, Object> md = new HashMap<>();
        md.put("tokenizer.ggml.model", "llama");
        md.put("tokenizer.ggml.tokens", toks.toArray(String[]::new));
        md.put("tokenizer.ggml.scores", scores);
        md.put("tokenizer.ggml.token_type", types.stream().mapToInt(Integer::intValue).toArray());
        return md;
    }

    @Test
    void sentencePieceMergesByScoreAndFallsBackToBytes() {
        Tokenizer t = Tokenizers.fromGGUF(tinySpm());
        int ab = 259 + 5, a = 259 + 3, b = 259 + 2;
        assertThat(t.encode("ab", false, false)).containsExactly(ab); // "▁a" (-4) merges before "ab" (-5), then "▁ab"
        assertThat(t.encode("ba", false, false)).containsExactly(259 + 6, 259 + 1); // "▁b", "a"
        assertThat(t.encode("ac", false, false)).containsExactly(a, 3 + 'c'); // c has no piece: byte fallback <0x63>
        assertThat(t.encode("ab", true, false)).containsExactly(1, ab); // SPM adds BOS by default
        assertThat(t.bosId()).isEqualTo(1);
        assertThat(t.eosId()).isEqualTo(2);
        assertThat(t.decode(new int[] {ab, 259, b})).isEqualTo("ab b");
        assertThat(t.tokenBytes(3 + 0xE4)).containsExactly((byte) 0xE4);
        assertThat(t.endOfGenerationIds()).containsExactly(2); // "</s>" is on llama.cpp's list and is EOS
    }

    @Test
    void unsupportedModelsAndPreTokenizersAreClearErrors() {
        Map<String, Object> md = tinySpm();
        md.put("tokenizer.ggml.model", "bert");
        assertThatThrownBy(() -> Tokenizers.fromGGUF(md)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("'bert'").hasMessageContaining("gpt2, llama");
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "no-such-family");
        assertThatThrownBy(() -> Tokenizers.fromGGUF(md)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("no-such-family").hasMessageContaining("deepseek-llm").hasMessageContaining("qwen2");
        md.put("tokenizer.ggml.pre", "gpt-2");
        assertThatThrownBy(() -> Tokenizers.fromGGUF(md)).isInstanceOf(ModelFormatException.class).hasMessageContaining("tokenizer.ggml.merges");
        md.remove("tokenizer.ggml.model");
        assertThatThrownBy(() -> Tokenizers.fromGGUF(md)).isInstanceOf(ModelFormatException.class).hasMessageContaining("tokenizer.ggml.model");
        Map<String, Object> bad = tinySpm();
        bad.put("tokenizer.ggml.token_type", new int[3]);
        assertThatThrownBy(() -> Tokenizers.fromGGUF(bad)).isInstanceOf(ModelFormatException.class).hasMessageContaining("token_type");
    }

    @Test
    void repeatedTokenTextKeepsTheFirstId() {
        Map<String, Object> md = tinySpm();
        String[] toks = (String[]) md.get("tokenizer.ggml.tokens");
        toks[toks.length - 1] = "\u2581a"; // same text as an earlier piece, as invalid UTF-8 read twice as U+FFFD would be
        Tokenizer t = Tokenizers.fromGGUF(md);
        assertThat(t.encode("a", false, false)).containsExactly(259 + 3);
        assertThat(t.tokenText(toks.length - 1)).isEqualTo("\u2581a");
    }

    @Test
    void byteLevelBpeMergesByRank() {
        // vocab: the 256 byte stand-ins, then merged tokens; merges in rank order
        List<String> toks = new ArrayList<>();
        for (int b = 0; b < 256; b++) toks.add(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
        toks.addAll(List.of("he", "ll", "llo", "hello", "Ġw", "<|end|>"));
        int[] types = new int[toks.size()];
        java.util.Arrays.fill(types, TokenType.NORMAL);
        types[types.length - 1] = TokenType.CONTROL;
        Map<String, Object> md = new HashMap<>();
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.pre", "qwen2");
        md.put("tokenizer.ggml.tokens", toks.toArray(String[]::new));
        md.put("tokenizer.ggml.token_type", types);
        md.put("tokenizer.ggml.merges", new String[] {"l l", "h e", "ll o", "he llo", "Ġ w"});
        md.put("tokenizer.ggml.eos_token_id", toks.size() - 1);
        Tokenizer t = Tokenizers.fromGGUF(md);
        assertThat(t.encode("hello", false, false)).containsExactly(259);
        assertThat(t.encode("hello w", false, false)).containsExactly(259, 260);
        assertThat(t.encode("hellohello<|end|>", true, true)).containsExactly(259, 259, 261); // BPE: no BOS by default
        assertThat(t.decode(new int[] {259, 260, 261})).isEqualTo("hello w<|end|>");
        assertThat(t.endOfGenerationIds()).contains(261);
        assertThat(t.isSpecial(261)).isTrue();
        assertThat(t.tokenBytes(260)).containsExactly(' ', 'w');
    }
}
