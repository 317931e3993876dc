package dev.sluice.engine.tokenizer;

/**
 * Token types as GGUF's {@code tokenizer.ggml.token_type} stores them (llama.cpp's
 * {@code LLAMA_TOKEN_TYPE_*}, SentencePiece's piece types).
 */
public final class TokenType {
    private TokenType() {}

    public static final int UNDEFINED = 0;
    public static final int NORMAL = 1;
    public static final int UNKNOWN = 2;
    /** Special tokens such as BOS, EOS, {@code <|im_end|>}: matched in text only when parsing special tokens. */
    public static final int CONTROL = 3;
    /** Added tokens matched in text always, before pre-tokenization (as Hugging Face added tokens). */
    public static final int USER_DEFINED = 4;
    public static final int UNUSED = 5;
    /** Byte-fallback tokens {@code <0xXX>}. */
    public static final int BYTE = 6;
}
