package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.ContextOverflowException;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.KVCache;
import dev.sluice.engine.sampling.SamplingParams;
import dev.sluice.engine.ModelFormatException;
import dev.sluice.engine.template.ChatTemplateException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sluice chat}: an interactive conversation on the model's chat template.
 *
 * <p>Design note. Each line read from stdin is a user message; the whole history is rendered
 * with the template (generation prompt added) and the reply is streamed to stdout. The KV cache
 * is kept between turns: only the tokens after the longest common prefix of the new prompt and
 * what the cache holds are run, so a turn costs its own tokens, not the history's. Lines starting
 * with {@code /} are commands ({@code /exit}, {@code /reset}, {@code /help}). It reads stdin line by
 * line, so it works with piped input (tests, scripts); the {@code > } prompt is shown only on a terminal.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Chat with a model on its chat template; one line of stdin is one user message.",
                "Commands: /exit (or end of input) quits, /reset clears the history, /help lists them."})
public final class ChatCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    Main main;

    @Mixin
    ModelOptions model;

    @Mixin
    GenerateCommand.RuntimeOptions runtime;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message that opens the conversation.")
    String system;

    @Option(names = "--stats", description = "Print the prefill/decode statistics line on stderr after each reply.")
    boolean stats;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        SamplingParams params = sampling.toParams(spec.commandLine());
        boolean terminal = System.console() != null && System.console().isTerminal() && main.stdin() == System.in;
        Path path = model.resolve(main.env(), err);
        try (LoadedModel m = Models.load(path, runtime.contextSize, runtime.threads)) {
            if (m.chatTemplate() == null) {
                throw new CliException("the model " + path + " has no chat template (tokenizer.chat_template); "
                        + "chat needs one, use generate for plain completion");
            }
            Session session = new Session(m, system);
            BufferedReader in = new BufferedReader(new InputStreamReader(main.stdin(), StandardCharsets.UTF_8));
            if (terminal) {
                err.println("Chatting with " + path.getFileName() + ". /exit to quit, /reset to start over, /help for commands.");
                err.flush();
            }
            while (true) {
                if (terminal) {
                    out.print("> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null) break;
                String trimmed = line.strip();
                if (trimmed.isEmpty()) continue;
                if (trimmed.startsWith("/")) {
                    switch (trimmed) {
                        case "/exit", "/quit", "/bye" -> { return 0; }
                        case "/reset", "/clear" -> {
                            session.reset();
                            err.println("(history cleared)");
                        }
                        case "/help" -> err.println("/exit quit; /reset clear the history; /help this list. Other lines are sent to the model.");
                        default -> err.println("unknown command " + trimmed + " (try /help)");
                    }
                    err.flush();
                    continue;
                }
                Generator.Result r;
                try {
                    r = session.reply(line, params, out);
                } catch (ContextOverflowException | ChatTemplateException | ModelFormatException e) {
                    err.println("sluice: " + e.getMessage() + (e instanceof ContextOverflowException ? "; /reset to start over" : ""));
                    err.flush();
                    continue;
                }
                out.println();
                out.flush();
                if (stats) {
                    err.println(r.stats().summary());
                    err.flush();
                }
            }
        }
        return 0;
    }

    /** The conversation and the KV cache that holds its prefix. Not thread-safe. */
    static final class Session {
        private final LoadedModel model;
        private final Generator generator;
        private final String system;
        private final List<Map<String, Object>> turns = new ArrayList<>();
        private final KVCache cache;
        /** The tokens whose keys and values the cache holds, position by position. */
        private int[] cached = new int[0];

        Session(LoadedModel model, String system) {
            this.model = model;
            this.generator = model.generator();
            this.system = system;
            this.cache = model.transformer().newCache();
        }

        void reset() {
            turns.clear();
            cache.truncate(0);
            cached = new int[0];
        }

        /**
         * Sends a user message and streams the reply to {@code out}. On failure (context full, a
         * template error) the history is left as it was before the call.
         */
        Generator.Result reply(String userText, SamplingParams params, PrintWriter out) {
            turns.add(Map.of("role", "user", "content", userText));
            try {
                int[] prompt = Chat.encode(model, Chat.messages(system, turns));
                int keep = commonPrefix(cached, prompt, cache.length());
                cache.truncate(keep);
                Generator.Result r = generator.generate(prompt, params, new Generator.Listener() {
                    @Override
                    public void onText(String delta) {
                        out.print(delta);
                        out.flush();
                    }
                }, out::checkError, cache);
                // the cache now holds the prompt and every generated token but the last (which was never fed back)
                int[] all = Arrays.copyOf(prompt, prompt.length + r.tokens().length);
                System.arraycopy(r.tokens(), 0, all, prompt.length, r.tokens().length);
                cached = Arrays.copyOf(all, Math.min(all.length, cache.length()));
                turns.add(Map.of("role", "assistant", "content", r.text()));
                return r;
            } catch (RuntimeException e) {
                turns.removeLast();
                throw e;
            }
        }

        List<Map<String, Object>> turns() {
            return List.copyOf(turns);
        }

        private static int commonPrefix(int[] a, int[] b, int limit) {
            int n = Math.min(Math.min(a.length, b.length), limit);
            int i = 0;
            while (i < n && a[i] == b[i]) i++;
            return i;
        }
    }
}
