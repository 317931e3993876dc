package dev.sluice.engine.tokenizer;

import java.util.Set;

/**
 * Text to token ids and back. Implementations are immutable and thread-safe.
 */
public interface Tokenizer {
    /**
     * @param addSpecial   add the model's BOS (and EOS where the model asks) around the text
     * @param parseSpecial recognise special-token text such as {@code <|im_end|>} in the input;
     *                     when false it is tokenized as plain text (llama.cpp's test default)
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /** Decodes ids to text; invalid UTF-8 becomes U+FFFD. Special tokens are rendered as their text. */
    String decode(int[] ids);

    /** Raw bytes a token stands for (after byte-level / byte-fallback decoding). */
    byte[] tokenBytes(int id);

    /** The token's vocabulary string as stored in the model. */
    String tokenText(int id);

    int vocabSize();

    /** BOS id, or -1 when the model has none. */
    int bosId();

    /** EOS id, or -1 when the model has none. */
    int eosId();

    /** Ids that end generation (EOS, EOT, im_end, ...). */
    Set<Integer> endOfGenerationIds();

    boolean isSpecial(int id);
}
