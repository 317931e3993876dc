package dev.sluice.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.TestFixtures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Renders every case of {@code chat-templates/expected.json} (made by Hugging Face transformers'
 * {@code apply_chat_template}, see tools/reference/make_chat_templates.py) and requires the output
 * to be byte-identical; cases where transformers raised must raise {@link ChatTemplateException}.
 * Template sources come from tools/reference/templates/ or the shared fixtures; the test is skipped
 * when neither is present.
 */
class ChatTemplateFidelityTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, ChatTemplate> COMPILED = new ConcurrentHashMap<>();

    @SuppressWarnings("unchecked")
    static Stream<Arguments> cases() throws IOException {
        try (InputStream in = ChatTemplateFidelityTest.class.getResourceAsStream("/chat-templates/expected.json")) {
            if (in == null) return Stream.of(Arguments.of("expected.json absent", null));
            List<Map<String, Object>> cases = JSON.readValue(in, List.class);
            return cases.stream().map(c -> Arguments.of(c.get("template") + " " + c.get("case"), c));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @SuppressWarnings("unchecked")
    void rendersLikeTransformers(String name, Map<String, Object> c) {
        assumeTrue(c != null, "chat-templates/expected.json is not on the test classpath");
        String file = (String) c.get("template");
        Optional<Path> source = templateSource(file);
        assumeTrue(source.isPresent(), "template source " + file + " not found");
        ChatTemplate template = COMPILED.computeIfAbsent(file + c.get("bos_token") + c.get("eos_token"), k -> {
            try {
                return ChatTemplate.of(Files.readString(source.get()), (String) c.get("bos_token"), (String) c.get("eos_token"));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
        List<Map<String, Object>> tools = (List<Map<String, Object>>) c.get("tools");
        boolean agp = (Boolean) c.get("add_generation_prompt");
        Map<String, Object> extra = (Map<String, Object>) c.get("extra");
        if (c.containsKey("error")) {
            assertThatThrownBy(() -> template.render(messages, agp, tools, extra))
                    .as("transformers raised: %s", c.get("error"))
                    .isInstanceOf(ChatTemplateException.class);
        } else {
            assertThat(template.render(messages, agp, tools, extra)).isEqualTo(c.get("expected"));
        }
    }

    /** tools/reference/templates/FILE (walking up from the working directory), else the shared fixtures. */
    static Optional<Path> templateSource(String file) {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("tools/reference/templates").resolve(file);
            if (Files.isRegularFile(candidate)) return Optional.of(candidate);
        }
        return TestFixtures.shared("chat-templates").map(d -> d.resolve(file)).filter(Files::isRegularFile);
    }
}
