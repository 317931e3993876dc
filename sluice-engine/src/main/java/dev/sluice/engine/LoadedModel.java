package dev.sluice.engine;

import dev.sluice.engine.kernels.Kernels;
import dev.sluice.engine.llama2c.Llama2cCheckpoint;
import dev.sluice.engine.model.ModelConfig;
import dev.sluice.engine.model.ModelLoader;
import dev.sluice.engine.model.ModelWeights;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.runtime.Transformer;
import dev.sluice.engine.template.ChatTemplate;
import dev.sluice.engine.tokenizer.HfTokenizerConverter;
import dev.sluice.engine.tokenizer.Llama2cTokenizer;
import dev.sluice.engine.tokenizer.Tokenizer;
import dev.sluice.engine.tokenizer.Tokenizers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model ready to run: its weights (memory-mapped), tokenizer, chat template and forward pass.
 * The one place that puts these together for the CLI and the server.
 *
 * <p>The tokenizer comes from the GGUF {@code tokenizer.*} metadata; for a Hugging Face directory
 * from its {@code tokenizer.json}/{@code tokenizer_config.json}; for a llama2.c checkpoint from
 * the {@code tokenizer.bin} beside it. The chat template is the model's own
 * ({@code tokenizer.chat_template}); a model without one can still complete plain text.
 */
public final class LoadedModel implements AutoCloseable {
    private final ModelWeights weights;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final Transformer transformer;
    private final String name;
    private final String chatTemplateSource;

    private LoadedModel(ModelWeights weights, Tokenizer tokenizer, ChatTemplate chatTemplate, String chatTemplateSource, Transformer transformer, String name) {
        this.chatTemplateSource = chatTemplateSource;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.transformer = transformer;
        this.name = name;
    }

    /**
     * Loads {@code path} (a GGUF file, a Hugging Face directory or a llama2.c checkpoint).
     *
     * @param maxContext KV cache capacity in tokens (capped at the model's context length)
     * @throws ModelFormatException when the files are malformed or unsupported
     */
    public static LoadedModel load(Path path, int maxContext) {
        ModelWeights w = ModelLoader.load(path);
        try {
            Map<String, Object> md = tokenizerMetadata(w);
            Tokenizer tok = Tokenizers.fromGGUF(md);
            ChatTemplate template = null;
            String templateSource = null;
            if (md.get("tokenizer.chat_template") instanceof String source) {
                templateSource = source;
                Map<String, String> named = new LinkedHashMap<>();
                named.put(ChatTemplate.DEFAULT_NAME, source);
                for (var e : md.entrySet()) {
                    if (e.getKey().startsWith("tokenizer.chat_template.") && e.getValue() instanceof String s) {
                        named.put(e.getKey().substring("tokenizer.chat_template.".length()), s);
                    }
                }
                String bos = tok.bosId() >= 0 ? tok.tokenText(tok.bosId()) : "";
                String eos = tok.eosId() >= 0 ? tok.tokenText(tok.eosId()) : "";
                template = named.size() == 1 ? ChatTemplate.of(source, bos, eos) : ChatTemplate.ofNamed(named, bos, eos);
            }
            Transformer t = new Transformer(w, Kernels.create(), maxContext);
            return new LoadedModel(w, tok, template, templateSource, t, nameOf(path, md));
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    private static Map<String, Object> tokenizerMetadata(ModelWeights w) {
        Map<String, Object> md = w.metadata();
        if (md.containsKey("tokenizer.ggml.model")) return md;
        Path src = w.source();
        if (Files.isDirectory(src)) return HfTokenizerConverter.toGGUFMetadata(src);
        if (md.get(Llama2cCheckpoint.TOKENIZER_PATH_KEY) instanceof String tp) {
            return Llama2cTokenizer.toGGUFMetadata(Path.of(tp), w.config().vocabSize());
        }
        throw new ModelFormatException(src + ": no tokenizer found (GGUF tokenizer.* metadata, tokenizer.json beside a safetensors model, or tokenizer.bin beside a llama2.c checkpoint)");
    }

    private static String nameOf(Path path, Map<String, Object> md) {
        String file = path.toAbsolutePath().normalize().getFileName() == null ? "model" : path.toAbsolutePath().normalize().getFileName().toString();
        return file.endsWith(".gguf") ? file.substring(0, file.length() - 5) : file;
    }

    public ModelWeights weights() { return weights; }
    public ModelConfig config() { return weights.config(); }
    public Tokenizer tokenizer() { return tokenizer; }
    public Transformer transformer() { return transformer; }

    /** File or directory name without {@code .gguf}: the default public model id. */
    public String name() { return name; }

    /** The model's chat template, or null when it has none. */
    public ChatTemplate chatTemplate() { return chatTemplate; }

    /** The chat template's Jinja source, or null. */
    public String chatTemplateSource() { return chatTemplateSource; }

    /** A generator over this model's forward pass and tokenizer. */
    public Generator generator() {
        return new Generator(transformer, tokenizer);
    }

    /**
     * Renders {@code messages} with the chat template, generation prompt added.
     *
     * @throws ModelFormatException when the model has no chat template
     */
    public String renderChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools) {
        return renderChat(messages, tools, null);
    }

    /**
     * As {@link #renderChat(List, List)}, with extra template variables (e.g. {@code enable_thinking}),
     * as transformers' {@code apply_chat_template(**kwargs)} and vLLM's {@code chat_template_kwargs}.
     */
    public String renderChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools, Map<String, Object> templateVars) {
        if (chatTemplate == null) throw new ModelFormatException(weights.source() + ": the model has no chat template (tokenizer.chat_template)");
        return chatTemplate.render(messages, true, tools, templateVars);
    }

    @Override
    public void close() {
        weights.close();
    }
}
