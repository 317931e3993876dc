package dev.sluice.cli;

import dev.sluice.engine.tokenizer.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code sluice tokenize}: stdin (UTF-8) to token ids on one line. Like llama.cpp's tokenizer
 * tests, it adds no special tokens and treats special-token text as plain text unless asked.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Read UTF-8 text from stdin and print its token ids, space-separated, on one line.",
                "Adds no BOS/EOS and does not parse special-token text unless asked."})
public final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    Main main;

    @Mixin
    ModelOptions model;

    @Option(names = "--add-special", description = "Add the model's special tokens (BOS, and EOS where the model asks).")
    boolean addSpecial;

    @Option(names = "--parse-special", description = "Recognise special-token text such as <|im_end|> in the input.")
    boolean parseSpecial;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Path path = model.resolve(main.env(), err);
        Tokenizer tok = TokenizerSource.load(path, -1).tokenizer();
        String text = Files2.utf8(main.stdin().readAllBytes(), "stdin");
        int[] ids = tok.encode(text, addSpecial, parseSpecial);
        StringJoiner line = new StringJoiner(" ");
        for (int id : ids) line.add(Integer.toString(id));
        PrintWriter out = spec.commandLine().getOut();
        out.println(line);
        out.flush();
        return 0;
    }
}
