package dev.sluice.cli;

import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.gguf.GGUFFile;
import dev.sluice.engine.tokenizer.HfTokenizerConverter;
import dev.sluice.engine.tokenizer.Llama2cTokenizer;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Finds a model's tokenizer and its GGUF-style {@code tokenizer.*} metadata without loading the
 * weights, so that {@code sluice tokenize} works on vocabulary-only GGUF files too. (Commands that
 * run the model get the tokenizer from {@link dev.sluice.engine.LoadedModel}, which looks in the
 * same places.)
 *
 * <p>Where it looks, for a model path: a GGUF file's own metadata; a Hugging Face folder's
 * {@code tokenizer.json}/{@code tokenizer_config.json}; a llama2.c checkpoint's
 * {@code tokenizer.bin} beside it.
 *
 * @param tokenizer the tokenizer
 * @param metadata  GGUF-style {@code tokenizer.*} metadata
 * @param source    the file or folder it came from
 */
public record TokenizerSource(Tokenizer tokenizer, Map<String, Object> metadata, Path source) {
    static final String MODEL_KEY = "tokenizer.ggml.model";

    /**
     * The tokenizer at {@code path}: a GGUF file, a Hugging Face folder, a llama2.c checkpoint or
     * {@code tokenizer.bin}. {@code vocabSize} bounds a llama2.c vocabulary (-1: read to the end).
     */
    public static TokenizerSource load(Path path, int vocabSize) {
        if (!Files.exists(path)) throw new CliException("tokenizer not found: " + path.toAbsolutePath());
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve("tokenizer.json"))) {
                return of(HfTokenizerConverter.toGGUFMetadata(path), path);
            }
            List<Path> ggufs = list(path, ".gguf");
            if (ggufs.size() == 1) return load(ggufs.getFirst(), vocabSize);
            if (Files.isRegularFile(path.resolve("tokenizer.bin"))) return load(path.resolve("tokenizer.bin"), vocabSize);
            throw new CliException("no tokenizer in folder " + path.toAbsolutePath()
                    + " (expected tokenizer.json, one .gguf file, or a llama2.c tokenizer.bin)");
        }
        if (isGguf(path)) {
            Map<String, Object> md;
            try (GGUFFile gguf = GGUFFile.open(path)) {
                md = gguf.metadata();
                if (md.containsKey(MODEL_KEY)) return of(md, path);
            }
            throw new CliException(path.toAbsolutePath() + " has no tokenizer vocabulary (no '" + MODEL_KEY + "' metadata)");
        }
        Path tokBin = path.getFileName().toString().equals("tokenizer.bin") ? path : path.toAbsolutePath().resolveSibling("tokenizer.bin");
        if (Files.isRegularFile(tokBin)) {
            return of(Llama2cTokenizer.toGGUFMetadata(tokBin, tokBin.equals(path) ? -1 : vocabSize), tokBin);
        }
        throw new CliException("no tokenizer for " + path.toAbsolutePath()
                + " (a llama2.c checkpoint needs tokenizer.bin beside it)");
    }

    private static TokenizerSource of(Map<String, Object> md, Path source) {
        Tokenizer t;
        try {
            t = Tokenizers.fromGGUF(md);
        } catch (ModelFormatException e) {
            throw ModelFormatException.of(source, e.getMessage());
        }
        return new TokenizerSource(t, md, source);
    }

    private static boolean isGguf(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && b[0] == 'G' && b[1] == 'G' && b[2] == 'U' && b[3] == 'F';
        } catch (IOException e) {
            throw new CliException("cannot read " + path.toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }

    private static List<Path> list(Path dir, String suffix) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(suffix)).toList();
        } catch (IOException e) {
            throw new CliException("cannot list " + dir.toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }
}
