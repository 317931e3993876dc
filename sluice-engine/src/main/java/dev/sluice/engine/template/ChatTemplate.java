package dev.sluice.engine.template;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.TypeConvertingMapELResolver;
import com.hubspot.jinjava.el.ext.JinjavaBeanELResolver;
import com.hubspot.jinjava.el.ext.JinjavaListELResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.tree.Node;
import dev.sluice.engine.template.internal.JinjaSourceRewriter;
import dev.sluice.engine.template.internal.PyInterpreter;
import dev.sluice.engine.template.internal.PyJinjava;
import dev.sluice.engine.template.internal.PyLibrary;
import dev.sluice.engine.template.internal.PyMethodResolver;
import dev.sluice.engine.template.internal.PyNone;
import dev.sluice.engine.template.internal.PySyntaxBuilder;
import dev.sluice.engine.template.internal.PyValues;
import java.time.Clock;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import jinjava.javax.el.ArrayELResolver;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ResourceBundleELResolver;

/**
 * A model's own Jinja chat template (GGUF {@code tokenizer.chat_template}, or {@code chat_template}
 * in {@code tokenizer_config.json}), rendered as Hugging Face transformers' {@code
 * apply_chat_template} renders it.
 *
 * <p>Design note. transformers renders with Python jinja2 ({@code trim_blocks}, {@code
 * lstrip_blocks}, the {@code loopcontrols} extension) and adds {@code raise_exception}, {@code
 * strftime_now} and a {@code tojson} filter that is {@code json.dumps(ensure_ascii=False)}. We render
 * with Jinjava and close the gaps in three places: a lexical pre-pass applies jinja2's whitespace
 * rules and rewrites the expression forms Jinjava cannot parse ({@link JinjaSourceRewriter}); an EL
 * resolver gives Python's {@code str}/{@code dict} methods ({@link PyMethodResolver}); and a library
 * of Python-semantics filters, tests and globals ({@link PyLibrary}). See docs/chat-templates.md for
 * what is and is not covered.
 *
 * <p>The template is rewritten and parsed once, in {@link #of}; a syntax error fails there. Instances
 * are immutable and thread-safe: each render runs in its own interpreter and context over the shared
 * parse tree and one shared, configured Jinjava.
 *
 * <p>Variables the template sees, as transformers passes them: {@code messages}, {@code tools}
 * (None when null), {@code documents} (None), {@code add_generation_prompt}, {@code bos_token} and
 * {@code eos_token} (undefined when null), plus the caller's extra variables (e.g. {@code
 * enable_thinking}, {@code date_string}). JSON nulls inside them are Python's None. Messages are
 * deep-copied, so a template can never change the caller's data.
 */
public final class ChatTemplate {
    /**
     * Largest rendered prompt, in chars: 16 Mi. A prompt this long is far past any context window;
     * the bound keeps a hostile template or input from exhausting memory. Past it, render throws
     * {@link ChatTemplateException}.
     */
    public static final long MAX_OUTPUT_CHARS = 16L << 20;

    /** Name of the template picked from a named set by default, as in transformers. */
    public static final String DEFAULT_NAME = "default";
    /** Name of the template picked from a named set when tools are given, if present. */
    public static final String TOOL_USE_NAME = "tool_use";

    private static final Set<String> RESERVED = Set.of("messages", "tools", "add_generation_prompt", "documents");

    private static final JinjavaConfig CONFIG = JinjavaConfig.newBuilder()
            .withTrimBlocks(false) // jinja2's trim/lstrip rules are applied by JinjaSourceRewriter
            .withLstripBlocks(false)
            .withNestedInterpretationEnabled(false) // message text is data, never re-rendered
            .withMaxOutputSize(MAX_OUTPUT_CHARS)
            .withInterperterFactory(PyInterpreter.FACTORY)
            .withElResolver(new CompositeELResolver() {
                {
                    add(new PyMethodResolver());
                    add(new ArrayELResolver(true));
                    add(new JinjavaListELResolver(true));
                    add(new TypeConvertingMapELResolver(true));
                    add(new ResourceBundleELResolver());
                    add(new JinjavaBeanELResolver(true));
                }
            })
            .withLegacyOverrides(LegacyOverrides.newBuilder()
                    .withEvaluateMapKeys(true)
                    .withIterateOverMapKeys(true)
                    .withUseNaturalOperatorPrecedence(true)
                    .withParseWhitespaceControlStrictly(true)
                    .withKeepNullableLoopValues(true)
                    .build())
            .build();

    private static final Jinjava JINJAVA = newJinjava();

    private static Jinjava newJinjava() {
        Jinjava j = new PyJinjava(CONFIG);
        PyLibrary.install(j);
        return j;
    }

    private final Map<String, Node> trees; // name -> parsed template; a single template is DEFAULT_NAME
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;

    private ChatTemplate(Map<String, Node> trees, String bosToken, String eosToken, Clock clock) {
        this.trees = trees;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.clock = clock;
    }

    /**
     * Compiles a chat template.
     *
     * @param source the Jinja source, as the model ships it
     * @param bosToken the {@code bos_token} text the template sees; null if the model has none (the
     *     variable is then undefined, as in transformers)
     * @param eosToken the {@code eos_token} text the template sees; null if the model has none
     * @throws ChatTemplateException if the template does not parse
     */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        Objects.requireNonNull(source, "source");
        return new ChatTemplate(Map.of(DEFAULT_NAME, compile(source, DEFAULT_NAME)), bosToken, eosToken,
                Clock.systemDefaultZone());
    }

    /**
     * Compiles a set of named templates ({@code tokenizer_config.json} may hold a list of
     * {@code {"name", "template"}}; GGUF holds {@code tokenizer.chat_template.<name>}). Rendering
     * picks {@value #TOOL_USE_NAME} when tools are given and it exists, else {@value #DEFAULT_NAME},
     * as transformers does.
     *
     * @throws ChatTemplateException if a template does not parse, or there is no {@value #DEFAULT_NAME}
     *     and no {@value #TOOL_USE_NAME} template
     */
    public static ChatTemplate ofNamed(Map<String, String> templatesByName, String bosToken, String eosToken) {
        Map<String, Node> trees = new HashMap<>();
        templatesByName.forEach((name, src) -> trees.put(name, compile(Objects.requireNonNull(src, name), name)));
        if (!trees.containsKey(DEFAULT_NAME) && !trees.containsKey(TOOL_USE_NAME)) {
            throw new ChatTemplateException("no '" + DEFAULT_NAME + "' chat template among " + trees.keySet());
        }
        return new ChatTemplate(Map.copyOf(trees), bosToken, eosToken, Clock.systemDefaultZone());
    }

    /** The same template, with {@code strftime_now} reading the given clock (for tests and replay). */
    ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(trees, bosToken, eosToken, Objects.requireNonNull(clock));
    }

    /**
     * Renders a conversation into the prompt text.
     *
     * @param messages the conversation: maps with {@code role}, {@code content} and, as the template
     *     expects, {@code tool_calls}, {@code tool_call_id}, {@code reasoning_content}, ...; values are
     *     plain JSON-shaped Java values (String, Number, Boolean, null, Map, List)
     * @param addGenerationPrompt whether to end with the assistant turn's opening
     * @param tools tool (function) schemas in OpenAI form, or null for none
     * @param extraVars further template variables, e.g. {@code enable_thinking}; may be null
     * @throws ChatTemplateException if the template rejects the conversation or fails
     */
    public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt,
                         List<Map<String, Object>> tools, Map<String, Object> extraVars) {
        Objects.requireNonNull(messages, "messages");
        Node tree = pick(tools != null);
        Map<String, Object> vars = new HashMap<>();
        if (bosToken != null) vars.put("bos_token", bosToken);
        if (eosToken != null) vars.put("eos_token", eosToken);
        if (extraVars != null) {
            extraVars.forEach((k, v) -> {
                if (RESERVED.contains(k)) throw new IllegalArgumentException("extra template variable '" + k + "' is reserved");
                vars.put(k, deepCopy(v));
            });
        }
        vars.put("messages", deepCopy(messages));
        vars.put("tools", tools == null ? PyNone.INSTANCE : deepCopy(tools)); // transformers passes tools=None
        vars.put("documents", PyNone.INSTANCE);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put(PyLibrary.NOW_VAR, LocalDateTime.now(clock));
        PyLibrary.GLOBAL_FUNCTIONS.forEach(vars::putIfAbsent); // so "strftime_now is defined" holds, as in jinja2

        Context context = new Context(JINJAVA.getGlobalContextCopy(), vars, CONFIG.getDisabled());
        JinjavaInterpreter interpreter = CONFIG.getInterpreterFactory().newInstance(JINJAVA, context, CONFIG);
        String out;
        try (var _ = JinjavaInterpreter.closeablePushCurrent(interpreter).get()) {
            out = interpreter.render(tree, false);
        } catch (RuntimeException e) {
            throw failure(interpreter.getErrorsCopy(), e);
        }
        ChatTemplateException failure = failure(interpreter.getErrorsCopy(), null);
        if (failure != null) throw failure;
        return out;
    }

    private Node pick(boolean hasTools) {
        if (hasTools && trees.containsKey(TOOL_USE_NAME)) return trees.get(TOOL_USE_NAME);
        Node t = trees.get(DEFAULT_NAME);
        if (t == null) {
            throw new ChatTemplateException("no '" + DEFAULT_NAME + "' chat template (only '" + TOOL_USE_NAME
                    + "', which needs tools)");
        }
        return t;
    }

    private static Node compile(String source, String name) {
        JinjaSourceRewriter.Result rewritten;
        try {
            rewritten = JinjaSourceRewriter.rewrite(source);
        } catch (IllegalArgumentException e) {
            throw new ChatTemplateException("chat template '" + name + "': syntax error: " + e.getMessage(), false, e);
        }
        Context context = new Context(JINJAVA.getGlobalContextCopy(), Map.of(), CONFIG.getDisabled());
        for (String f : rewritten.filters()) {
            if (context.getFilter(f) == null) throw new ChatTemplateException("chat template '" + name + "': no filter named '" + f + "'");
        }
        for (String t : rewritten.tests()) {
            if (context.getExpTest(t) == null) throw new ChatTemplateException("chat template '" + name + "': no test named '" + t + "'");
        }
        JinjavaInterpreter interpreter = CONFIG.getInterpreterFactory().newInstance(JINJAVA, context, CONFIG);
        Node tree = interpreter.parse(rewritten.source());
        List<TemplateError> errors = interpreter.getErrorsCopy();
        if (!errors.isEmpty()) { // at parse time every error, even Jinjava's "warnings", is a broken template
            TemplateError e = errors.getFirst();
            throw new ChatTemplateException("chat template '" + name + "': syntax error at line " + e.getLineno() + ": "
                    + e.getMessage(), false, e.getException());
        }
        return tree;
    }

    /** The exception for a render's errors, or null if none is fatal. raise_exception wins. */
    private static ChatTemplateException failure(List<TemplateError> errors, RuntimeException thrown) {
        List<Throwable> causes = new ArrayList<>();
        if (thrown != null) causes.add(thrown);
        for (TemplateError e : errors) if (e.getException() != null) causes.add(e.getException());
        for (Throwable c : causes) {
            for (Throwable t = c; t != null; t = t.getCause()) {
                if (t instanceof PyLibrary.RaisedException r) return new ChatTemplateException(r.getMessage(), true, r);
                if (t.getCause() == t) break;
            }
        }
        if (thrown != null) {
            return new ChatTemplateException("chat template failed: " + thrown.getMessage(), false, thrown);
        }
        for (TemplateError e : errors) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                return new ChatTemplateException("chat template error at line " + e.getLineno() + ": " + describe(e),
                        false, e.getException());
            }
        }
        return null;
    }

    /** The Python-style cause (TypeError, UndefinedError text) where we raised it, else Jinjava's message. */
    private static String describe(TemplateError e) {
        for (Throwable t = e.getException(); t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof PySyntaxBuilder.UndefinedException) return "UndefinedError: " + t.getMessage();
            if (t instanceof IllegalArgumentException && t.getStackTrace().length > 0
                    && t.getStackTrace()[0].getClassName().startsWith(PyValues.class.getPackageName())) {
                return "TypeError: " + t.getMessage();
            }
        }
        return e.getMessage();
    }

    /** Copies JSON-shaped values into fresh mutable maps and lists, keeping map order; null becomes None. */
    private static Object deepCopy(Object v) {
        v = PyValues.unwrap(v);
        if (v == null) return PyNone.INSTANCE;
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, x) -> copy.put(String.valueOf(k), deepCopy(x)));
            return copy;
        }
        if (v instanceof Collection<?> c) {
            List<Object> copy = new ArrayList<>(c.size());
            for (Object x : c) copy.add(deepCopy(x));
            return copy;
        }
        if (v instanceof Object[] arr) {
            List<Object> copy = new ArrayList<>(arr.length);
            for (Object x : arr) copy.add(deepCopy(x));
            return copy;
        }
        return v;
    }
}
