package dev.sluice.cli;

import dev.sluice.engine.LoadedModel;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Messages to prompt token ids with a model's chat template. As Hugging Face's
 * {@code apply_chat_template(tokenize=True)} does, the rendered text (generation prompt added) is
 * tokenized with special-token text parsed (so {@code <|im_start|>} is one token) and no BOS
 * added: the template writes {@code bos_token} itself where the model wants it.
 */
final class Chat {
    private Chat() {}

    /** An optional system message followed by {@code turns}. */
    static List<Map<String, Object>> messages(String system, List<Map<String, Object>> turns) {
        List<Map<String, Object>> all = new ArrayList<>();
        if (system != null) all.add(Map.of("role", "system", "content", system));
        all.addAll(turns);
        return all;
    }

    /**
     * The prompt ids for {@code messages}.
     *
     * @throws dev.sluice.engine.ModelFormatException naming the model when it has no chat template
     */
    static int[] encode(LoadedModel model, List<Map<String, Object>> messages) {
        return model.tokenizer().encode(model.renderChat(messages, null), false, true);
    }
}
