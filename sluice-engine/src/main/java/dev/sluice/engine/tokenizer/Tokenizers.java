package dev.sluice.engine.tokenizer;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFFile;

import java.nio.file.Path;
import java.util.Map;

/**
 * Builds tokenizers from model metadata: GGUF {@code tokenizer.*} keys, a Hugging Face
 * {@code tokenizer.json} directory (through {@link HfTokenizerConverter}), or a llama2.c
 * {@code tokenizer.bin} ({@link Llama2cTokenizer}).
 *
 * <p>{@code tokenizer.ggml.model} selects the algorithm: {@code gpt2} is byte-level BPE with the
 * pre-tokenizer named by {@code tokenizer.ggml.pre} ({@link PreTokenizer#names()}), {@code llama}
 * is SentencePiece BPE.
 */
public final class Tokenizers {
    private Tokenizers() {}

    /** A tokenizer from the {@code tokenizer.*} metadata of a GGUF file. */
    public static Tokenizer fromGGUF(Map<String, Object> metadata) {
        Object m = metadata.get("tokenizer.ggml.model");
        if (!(m instanceof String model)) throw new ModelFormatException("missing metadata 'tokenizer.ggml.model' (supported: gpt2, llama)");
        Object preObj = metadata.get("tokenizer.ggml.pre");
        String pre = preObj instanceof String s ? s : null;
        return switch (model) {
            case "gpt2" -> {
                PreTokenizer p = PreTokenizer.forName(pre);
                Vocab v = new Vocab(metadata, Vocab.Kind.BPE, p.name());
                Object merges = metadata.get("tokenizer.ggml.merges");
                if (!(merges instanceof String[] ms)) throw new ModelFormatException("missing or malformed metadata 'tokenizer.ggml.merges' (expected a string array)");
                yield new BpeTokenizer(v, ms, p);
            }
            case "llama" -> new SpmTokenizer(new Vocab(metadata, Vocab.Kind.SPM, null));
            default -> throw new ModelFormatException("unsupported tokenizer.ggml.model '" + model + "' (supported: gpt2, llama)");
        };
    }

    /** A tokenizer from an open GGUF file's metadata; names the file in errors. */
    public static Tokenizer fromGGUF(GGUFFile gguf) {
        try {
            return fromGGUF(gguf.metadata());
        } catch (ModelFormatException e) {
            throw ModelFormatException.of(gguf.path(), e.getMessage());
        }
    }

    /** A tokenizer from a Hugging Face model directory ({@code tokenizer.json}, {@code tokenizer_config.json}). */
    public static Tokenizer fromHuggingFace(Path dir) {
        return fromGGUF(HfTokenizerConverter.toGGUFMetadata(dir));
    }
}
