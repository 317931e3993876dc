package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Word splits of the pre-tokenizer families (the regex semantics llama.cpp and HF share). */
class PreTokenizerTest {
    static java.util.List<String> split(String family, String text) {
        return PreTokenizer.forName(family).split(text);
    }

    @Test
    void gpt2() {
        assertThat(split("gpt-2", "Hello world, I'm 12345!")).containsExactly("Hello", " world", ",", " I", "'m", " 12345", "!");
        assertThat(split("gpt-2", "a   b\t\tc  ")).containsExactly("a", "  ", " b", "\t", "\t", "c", "  ");
        assertThat(split("gpt-2", "I'M")).containsExactly("I", "'", "M"); // contractions are lower-case only
    }

    @Test
    void llama3() {
        assertThat(split("llama-bpe", "Hello world 12345")).containsExactly("Hello", " world", " ", "123", "45");
        assertThat(split("llama-bpe", "I'M here\n\n  ok")).containsExactly("I", "'M", " here", "\n\n", " ", " ok");
        assertThat(split("llama-bpe", "x = (a+b);\r\n")).containsExactly("x", " =", " (", "a", "+b", ");\r\n"); // a non-letter may lead a word
    }

    @Test
    void qwen2SplitsEveryDigit() {
        assertThat(split("qwen2", "abc 12345")).containsExactly("abc", " ", "1", "2", "3", "4", "5");
        assertThat(split("deepseek-r1-qwen", "2024")).containsExactly("2", "0", "2", "4");
    }

    @Test
    void deepseekFamilies() {
        assertThat(split("deepseek-v3", "12345 中文abc, ok")).containsExactly("123", "45", " ", "中文", "abc", ",", " ok");
        assertThat(split("deepseek-llm", "Hello 世界\n12")).containsExactly("Hello", " ", "世界", "\n", "12");
        assertThat(split("deepseek-coder", "def f(x):\n  return 42")).containsExactly("def", " f", "(", "x", "):", "\n", " ", " return", " ", "4", "2");
    }

    @Test
    void starcoderAndFalcon() {
        assertThat(split("starcoder", "abc123 x")).containsExactly("abc", "1", "2", "3", " x");
        assertThat(split("falcon", "a+b=1234")).containsExactly("a", "+", "b", "=", "123", "4");
    }

    @Test
    void everyFamilyCompilesAndPartitionsItsInput() {
        SplittableRandom r = new SplittableRandom(7);
        for (String name : PreTokenizer.names()) {
            PreTokenizer p = PreTokenizer.forName(name);
            for (int i = 0; i < 50; i++) {
                String s = RoundTripPropertyTest.randomText(r);
                assertThat(String.join("", p.split(s))).as("%s %s", name, VocabFixturesTest.escape(s)).isEqualTo(s);
                assertThat(p.split(s)).as(name).noneMatch(String::isEmpty);
            }
        }
        assertThat(PreTokenizer.forName(null).name()).isEqualTo("default");
        assertThatThrownBy(() -> PreTokenizer.forName("kimi-k2")).isInstanceOf(ModelFormatException.class).hasMessageContaining("kimi-k2");
    }
}
