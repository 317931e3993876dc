package dev.sluice.cli;

import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Runs the {@code sluice} command in-process with picocli's {@link CommandLine#execute}, capturing its output. */
final class Cli {
    record Result(int exit, String out, String err) {}

    private Cli() {}

    static Result run(String... args) {
        return run("", Map.of(), args);
    }

    static Result run(String stdin, Map<String, String> env, String... args) {
        return run(stdin.getBytes(StandardCharsets.UTF_8), env, args);
    }

    static Result run(byte[] stdin, Map<String, String> env, String... args) {
        CommandLine cl = Main.commandLine(new ByteArrayInputStream(stdin), env);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Result(exit, out.toString(), err.toString());
    }
}
