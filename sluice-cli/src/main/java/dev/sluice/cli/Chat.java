package dev.sluice.cli;

import dev.sluice.engine.template.ChatTemplate;
import dev.sluice.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template bound to its tokenizer: messages to prompt text (with the generation
 * prompt) to token ids. As Hugging Face's {@code apply_chat_template(tokenize=True)} does, the
 * rendered text is tokenized with special-token text parsed (so {@code <|im_start|>} is one token)
 * and no BOS added: the template writes {@code bos_token} itself where the model wants it.
 */
final class Chat {
    static final String NAMED_PREFIX = TokenizerSource.CHAT_TEMPLATE_KEY + ".";

    private final ChatTemplate template;
    private final Tokenizer tokenizer;

    private Chat(ChatTemplate template, Tokenizer tokenizer) {
        this.template = template;
        this.tokenizer = tokenizer;
    }

    /** The chat of a loaded model; fails naming the model when it has no chat template. */
    static Chat of(LoadedModel m) {
        return of(m.tokenizerSource);
    }

    static Chat of(TokenizerSource ts) {
        Tokenizer tok = ts.tokenizer();
        String bos = tok.bosId() >= 0 ? tok.tokenText(tok.bosId()) : null;
        String eos = tok.eosId() >= 0 ? tok.tokenText(tok.eosId()) : null;
        Map<String, String> named = new HashMap<>();
        ts.metadata().forEach((k, v) -> {
            if (k.startsWith(NAMED_PREFIX) && v instanceof String s) named.put(k.substring(NAMED_PREFIX.length()), s);
        });
        String main = ts.chatTemplate();
        if (main == null && named.isEmpty()) {
            throw new CliException("the model " + ts.source() + " has no chat template (" + TokenizerSource.CHAT_TEMPLATE_KEY
                    + " / tokenizer_config.json chat_template); use generate without --chat");
        }
        ChatTemplate t;
        if (named.isEmpty()) {
            t = ChatTemplate.of(main, bos, eos);
        } else {
            if (main != null) named.putIfAbsent(ChatTemplate.DEFAULT_NAME, main);
            t = ChatTemplate.ofNamed(named, bos, eos);
        }
        return new Chat(t, tok);
    }

    /** An optional system message followed by {@code turns}. */
    List<Map<String, Object>> messages(String system, List<Map<String, Object>> turns) {
        List<Map<String, Object>> all = new ArrayList<>();
        if (system != null) all.add(Map.of("role", "system", "content", system));
        all.addAll(turns);
        return all;
    }

    /** The prompt text for {@code messages}, ending with the assistant turn's opening. */
    String render(List<Map<String, Object>> messages) {
        return template.render(messages, true, null, null);
    }

    /** {@link #render} tokenized: special-token text parsed, no BOS added. */
    int[] encode(List<Map<String, Object>> messages) {
        return tokenizer.encode(render(messages), false, true);
    }
}
