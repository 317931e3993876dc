package dev.sluice.engine.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StreamingDecoderTest {
    /** Feeds ids one at a time; returns the chunks emitted (flush last). */
    static List<String> stream(StreamingDecoder d, int[] ids) {
        List<String> chunks = new ArrayList<>();
        for (int id : ids) chunks.add(d.accept(id));
        chunks.add(d.flush());
        return chunks;
    }

    @Test
    void emojiAndCjkSplitAcrossByteTokensAreHeldUntilComplete() {
        Tokenizer tok = Vocabs.reference();
        String text = "héllo 世界 🙂!";
        int[] ids = tok.encode(text, false, false);
        // the reference vocab has no merges for these: each UTF-8 byte is its own token
        assertThat(ids.length).isGreaterThan(text.length());
        StreamingDecoder d = new StreamingDecoder(tok);
        StringBuilder all = new StringBuilder();
        for (int id : ids) {
            String chunk = d.accept(id);
            assertThat(chunk).doesNotContain("\uFFFD");
            if (!chunk.isEmpty()) assertThat(Character.isLowSurrogate(chunk.charAt(0))).isFalse();
            all.append(chunk);
        }
        assertThat(d.pendingBytes()).isZero();
        assertThat(d.flush()).isEmpty();
        assertThat(all.toString()).isEqualTo(text);
    }

    @Test
    void fourByteEmojiComesOutOnlyWithItsLastByte() {
        Tokenizer tok = Vocabs.reference();
        int[] ids = tok.encode("🙂", false, false);
        assertThat(ids).hasSize(4);
        StreamingDecoder d = new StreamingDecoder(tok);
        assertThat(d.accept(ids[0])).isEmpty();
        assertThat(d.pendingBytes()).isEqualTo(1);
        assertThat(d.accept(ids[1])).isEmpty();
        assertThat(d.accept(ids[2])).isEmpty();
        assertThat(d.pendingBytes()).isEqualTo(3);
        assertThat(d.accept(ids[3])).isEqualTo("🙂");
    }

    @Test
    void danglingBytesBecomeReplacementCharacterOnFlush() {
        Tokenizer tok = Vocabs.reference();
        int[] emoji = tok.encode("🙂", false, false);
        StreamingDecoder d = new StreamingDecoder(tok);
        assertThat(d.accept(tok.encode("a", false, false)[0])).isEqualTo("a");
        assertThat(d.accept(emoji[0])).isEmpty();
        assertThat(d.accept(emoji[1])).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.pendingBytes()).isZero();
    }

    @Test
    void strayContinuationByteIsReplacedAtOnceNotHeld() {
        Tokenizer tok = Vocabs.reference();
        int[] emoji = tok.encode("🙂", false, false);
        StreamingDecoder d = new StreamingDecoder(tok);
        assertThat(d.accept(emoji[3])).isEqualTo("\uFFFD"); // 0x82 alone can never complete
        assertThat(d.accept(tok.encode("b", false, false)[0])).isEqualTo("b");
    }

    @Test
    void specialTokensHiddenUnlessAskedFor() {
        Tokenizer tok = Vocabs.reference();
        int[] ids = tok.encode("Hi<|eos|>", false, true);
        assertThat(String.join("", stream(new StreamingDecoder(tok), ids))).isEqualTo("Hi");
        assertThat(String.join("", stream(new StreamingDecoder(tok, true, false), ids))).isEqualTo("Hi<|eos|>");
    }

    @Test
    void sentencePieceLeadingSpaceStrippedOnlyAtSequenceStart() {
        Tokenizer tok = Vocabs.gguf("llama-spm");
        int[] ids = tok.encode("Hello world", false, false); // "▁Hello", "▁world"
        assertThat(String.join("", stream(new StreamingDecoder(tok, false, true), ids))).isEqualTo("Hello world");
        assertThat(String.join("", stream(new StreamingDecoder(tok), ids))).isEqualTo(" Hello world");
        assertThat(tok.decode(ids)).isEqualTo("Hello world");
    }

    @Test
    void sentencePieceByteFallbackEmojiStreamsWhole() {
        Tokenizer tok = Vocabs.gguf("llama-spm");
        String text = "llama 🦙 says 你好";
        int[] ids = tok.encode(text, true, false);
        List<String> chunks = stream(new StreamingDecoder(tok, false, true), ids);
        assertThat(chunks).noneMatch(c -> c.contains("\uFFFD"));
        // as llama.cpp's detokenizer: only the very first token (here BOS) loses a leading space
        assertThat(String.join("", chunks)).isEqualTo(" " + text);
        assertThat(tok.decode(ids)).isEqualTo("<s> " + text);
        int[] noBos = java.util.Arrays.copyOfRange(ids, 1, ids.length);
        assertThat(String.join("", stream(new StreamingDecoder(tok, false, true), noBos))).isEqualTo(text);
    }
}
