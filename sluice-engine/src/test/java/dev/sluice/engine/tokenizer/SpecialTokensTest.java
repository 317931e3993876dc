package dev.sluice.engine.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Special and added tokens, BOS/EOS and end-of-generation ids, as llama.cpp handles them. */
class SpecialTokensTest {
    static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void controlTokenTextIsParsedOnlyWhenAsked() {
        Tokenizer tok = Vocabs.gguf("gpt-2");
        assertThat(tok.encode("<|endoftext|>", false, true)).containsExactly(50256);
        int[] plain = tok.encode("<|endoftext|>", false, false);
        assertThat(plain).doesNotContain(50256).hasSizeGreaterThan(1);
        assertThat(tok.decode(plain)).isEqualTo("<|endoftext|>");
        assertThat(tok.encode("a<|endoftext|>b", false, true))
                .containsExactly(concat(tok.encode("a", false, false), new int[] {50256}, tok.encode("b", false, false)));
        assertThat(tok.isSpecial(50256)).isTrue();
        assertThat(tok.endOfGenerationIds()).contains(50256);
    }

    @Test
    void userDefinedTokensAreMatchedEvenWithoutParseSpecial() {
        Tokenizer tok = Vocabs.gguf("deepseek-llm");
        int o = ((VocabTokenizer) tok).tokenId("ø");
        assertThat(((VocabTokenizer) tok).tokenType(o)).isEqualTo(TokenType.USER_DEFINED);
        assertThat(tok.encode("ø", false, false)).containsExactly(o);
        assertThat(tok.encode("søn", false, false)).contains(o);
        assertThat(tok.isSpecial(o)).isFalse();
        assertThat(tok.decode(tok.encode("søn", false, false))).isEqualTo("søn");
    }

    @Test
    void addSpecialFollowsTheModelFlags() {
        Tokenizer ds = Vocabs.gguf("deepseek-llm"); // add_bos_token = true
        assertThat(ds.encode("Hi", true, false)).containsExactly(concat(new int[] {100000}, ds.encode("Hi", false, false)));
        assertThat(ds.bosId()).isEqualTo(100000);
        assertThat(ds.eosId()).isEqualTo(100001);
        assertThat(ds.endOfGenerationIds()).contains(100001);

        Tokenizer gpt2 = Vocabs.gguf("gpt-2"); // no add_bos_token: BPE default is false
        assertThat(gpt2.encode("Hi", true, false)).containsExactly(gpt2.encode("Hi", false, false));

        Tokenizer spm = Vocabs.gguf("llama-spm");
        assertThat(spm.encode("Hi", true, false)).containsExactly(concat(new int[] {1}, spm.encode("Hi", false, false)));
        assertThat(spm.encode("", true, false)).containsExactly(1);
        assertThat(spm.encode("", false, false)).isEmpty();
    }

    @Test
    void sentencePiecePrefixesASpaceAfterEachSpecialToken() {
        Tokenizer spm = Vocabs.gguf("llama-spm");
        int[] hello = spm.encode("Hello", false, false); // "▁Hello"
        assertThat(spm.tokenText(hello[0])).startsWith("\u2581");
        assertThat(spm.encode("<s>Hello</s>Hello", false, true)).containsExactly(concat(new int[] {1}, hello, new int[] {2}, hello));
        // without parsing, "<s>" is text and only the start gets the space
        assertThat(spm.encode("<s>Hello", false, false)).doesNotContain(1);
    }

    @Test
    void phi3SpecialTokensSwallowFollowingWhitespace() {
        Tokenizer phi = Vocabs.gguf("phi-3");
        // llama.cpp marks Phi-3 special tokens rstrip (except <s>, <unk>, <|endoftext|>)
        assertThat(phi.encode("<|user|>\n  Hi<|end|>", false, true))
                .containsExactly(concat(new int[] {32010}, phi.encode("Hi", false, false), new int[] {32007}));
        assertThat(phi.endOfGenerationIds()).contains(32000, 32007);
        assertThat(phi.eosId()).isEqualTo(32000);
    }

    @Test
    void longestSpecialTokenWins() {
        Tokenizer tok = Vocabs.reference();
        // "<|bos|>" must not be cut by a shorter special; adjacent specials split cleanly
        assertThat(tok.encode("<|bos|><|eos|>", false, true)).containsExactly(0, 1);
        assertThat(tok.encode("<|bos|><|eos|>", true, true)).containsExactly(0, 0, 1);
    }
}
