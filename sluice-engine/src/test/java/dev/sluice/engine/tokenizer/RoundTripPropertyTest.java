package dev.sluice.engine.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Property: any valid Unicode string survives encode then decode, for byte-level BPE vocabs
 * (every byte has a token) and SentencePiece vocabs with byte fallback (up to the dummy prefix).
 * Also checks streaming decoding gives the same text as decoding at once.
 */
class RoundTripPropertyTest {
    static final int CASES = 300;

    /** Random text drawing on ASCII, whitespace runs, Latin-1, Greek/Cyrillic, combining marks, CJK, emoji (with ZWJ and variation selectors), digits. */
    static String randomText(SplittableRandom r) {
        int len = r.nextInt(0, 40);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < len; i++) {
            int cp = switch (r.nextInt(12)) {
                case 0, 1, 2 -> r.nextInt(0x20, 0x7F);
                case 3 -> " \t\n\r\u000B\f\u00A0\u3000".charAt(r.nextInt(8));
                case 4 -> r.nextInt(0xA0, 0x180);
                case 5 -> r.nextInt(0x370, 0x530);
                case 6 -> r.nextInt(0x300, 0x370);
                case 7 -> r.nextInt(0x4E00, 0x9FA6);
                case 8 -> r.nextInt(0x1F300, 0x1FAFF);
                case 9 -> new int[] {0x200D, 0xFE0F, 0x2019, 0x2014, 0x2026}[r.nextInt(5)];
                case 10 -> r.nextInt('0', '9' + 1);
                default -> r.nextInt(0x1, 0x10FFFF);
            };
            if (Character.getType(cp) == Character.SURROGATE || cp == 0x2581) cp = 'x';
            b.appendCodePoint(cp);
        }
        return b.toString();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt-2", "deepseek-llm", "llama-spm", "phi-3", "reference"})
    void encodeThenDecodeIsIdentity(String vocab) {
        Tokenizer tok = vocab.equals("reference") ? Vocabs.reference() : Vocabs.gguf(vocab);
        SplittableRandom r = new SplittableRandom(vocab.hashCode());
        for (int i = 0; i < CASES; i++) {
            String s = randomText(r);
            int[] ids = tok.encode(s, false, false);
            String back = tok.decode(ids);
            assertThat(back).as("%s case %d %s ids %s", vocab, i, VocabFixturesTest.escape(s), java.util.Arrays.toString(ids)).isEqualTo(s);
            StreamingDecoder d = new StreamingDecoder(tok, true, true);
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) streamed.append(d.accept(id));
            streamed.append(d.flush());
            assertThat(streamed.toString()).as("%s streamed case %d", vocab, i).isEqualTo(s);
        }
    }
}
