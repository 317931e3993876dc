package dev.sluice.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.runtime.ContextOverflowException;
import dev.sluice.engine.template.ChatTemplateException;
import dev.sluice.cli.hub.HubException;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

import java.io.FileDescriptor;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Map;

/**
 * The {@code sluice} command.
 *
 * <p>Design note. Subcommands are listed in {@link #SUBCOMMANDS}; a new one (e.g. {@code serve})
 * is a class with picocli annotations, added there. Commands write results to
 * {@code spec.commandLine().getOut()} and diagnostics to {@code getErr()}, and read input through
 * {@link #stdin()}, so tests drive them with {@link CommandLine#execute} and captured writers.
 *
 * <p>Exit codes: 0 success; 2 bad usage (picocli's parameter errors: the message names the
 * option); 1 a runtime failure (bad model file, download error, ...), reported as one line
 * {@code sluice: error: MESSAGE}, with the stack trace only under {@code -v/--verbose}.
 */
@Command(name = "sluice", mixinStandardHelpOptions = true, version = "sluice 0.1.0",
        description = "Sluice: an LLM serving stack in Java.",
        subcommands = CommandLine.HelpCommand.class)
public final class Main implements Runnable {
    /** The subcommands, in the order {@code sluice --help} lists them. */
    static final Class<?>[] SUBCOMMANDS = {
            ServeCommand.class, GenerateCommand.class, ChatCommand.class, TokenizeCommand.class, ConvertCommand.class, QuantizeCommand.class, BenchCommand.class, KeysCommand.class, CertsCommand.class,
    };

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Log at DEBUG and print stack traces of errors.")
    boolean verbose;

    private final InputStream stdin;
    private final Map<String, String> env;

    Main(InputStream stdin, Map<String, String> env) {
        this.stdin = stdin;
        this.env = env;
    }

    /** Standard input, as given to {@link #commandLine(InputStream, Map)}. */
    public InputStream stdin() {
        return stdin;
    }

    /** The environment (SLUICE_CACHE, HF_ENDPOINT, HF_TOKEN, ...), as given to {@link #commandLine(InputStream, Map)}. */
    public Map<String, String> env() {
        return env;
    }

    /** {@code sluice} alone: a usage error (exit code 2) that lists the commands. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing command");
    }

    /** The command line on the process's stdin, stdout, stderr and environment. */
    public static CommandLine commandLine() {
        CommandLine cl = commandLine(System.in, System.getenv());
        // straight to fd 1, not through System.out (a PrintStream that swallows errors), so a closed
        // pipe (`sluice generate ... | head`) shows in PrintWriter.checkError and stops generation
        cl.setOut(new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8), true));
        cl.setErr(new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true));
        return cl;
    }

    /** A command line reading {@code stdin} and seeing {@code env}; set its writers with setOut/setErr. */
    public static CommandLine commandLine(InputStream stdin, Map<String, String> env) {
        CommandLine cl = new CommandLine(new Main(stdin, env));
        for (Class<?> c : SUBCOMMANDS) cl.addSubcommand(c);
        cl.setExecutionStrategy(pr -> {
            applyLogLevel(isVerbose(pr));
            return new CommandLine.RunLast().execute(pr);
        });
        cl.setExecutionExceptionHandler(Main::handleError);
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    private static int handleError(Exception ex, CommandLine cmd, ParseResult pr) {
        PrintWriter err = cmd.getErr();
        err.println("sluice: error: " + describe(ex));
        if (isVerbose(pr)) {
            ex.printStackTrace(err);
        } else if (!isExpected(ex)) {
            err.println("(run with --verbose for the stack trace)");
        }
        err.flush();
        return 1;
    }

    /** Errors whose message says it all: typed exceptions of ours and of the engine, and file errors. */
    private static boolean isExpected(Throwable ex) {
        return ex instanceof CliException || ex instanceof ModelFormatException || ex instanceof HubException
                || ex instanceof ChatTemplateException || ex instanceof ContextOverflowException
                || ex instanceof IllegalArgumentException || ex instanceof NoSuchFileException
                || ex instanceof AccessDeniedException || ex instanceof FileNotFoundException
                || ex instanceof UncheckedIOException u && isExpected(u.getCause());
    }

    /** One line for the user: the message of a typed exception, or the type and message of another. */
    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException u && u.getCause() != null) ex = u.getCause();
        if (ex instanceof NoSuchFileException e) return "no such file: " + e.getFile();
        if (ex instanceof AccessDeniedException e) return "permission denied: " + e.getFile();
        String msg = ex.getMessage();
        if (isExpected(ex) && msg != null) return msg;
        return ex.getClass().getSimpleName() + (msg != null ? ": " + msg : "");
    }

    private static boolean isVerbose(ParseResult pr) {
        for (ParseResult p = pr; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) return true;
        }
        return false;
    }

    private static void applyLogLevel(boolean verbose) {
        if (!verbose) return;
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
            ctx.getLogger("dev.sluice").setLevel(Level.DEBUG);
        }
    }
}
