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
            // committed in src/test/resources: absence is a failure, not a skip
            assertThat(in).as("chat-templates/expected.json on the test classpath").isNotNull();
            List<Map<String, Object>> cases = JSON.readValue(in, List.class);
            return cases.stream().map(c -> Arguments.of(c.get("template") + " " + c.get("case"), c));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    @SuppressWarnings("unchecked")
    void rendersLikeTransformers(String name, Map<String, Object> c) {
        String file = (String) c.get("template");
        assumeTrue(!templateDirs().isEmpty(), "neither tools/reference/templates nor the shared chat-templates folder is present");
        Optional<Path> source = templateSource(file);
        assertThat(source).as("template source %s in %s", file, templateDirs()).isPresent();
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

    /** The 8 templates expected.json covers: when a template folder is present, each must be found (no per-file skips). */
    static final List<String> TEMPLATES = List.of(
            "Qwen-Qwen2.5-7B-Instruct.jinja", "Qwen-Qwen3-0.6B.jinja",
            "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
            "deepseek-ai-DeepSeek-V3.1.jinja", "meta-llama-Llama-3.1-8B-Instruct.jinja",
            "meta-llama-Llama-3.2-3B-Instruct.jinja", "mistralai-Mistral-Nemo-Instruct-2407.jinja");

    @org.junit.jupiter.api.Test
    void everyTemplateIsPresentWhenATemplateFolderIs() throws IOException {
        assumeTrue(!templateDirs().isEmpty(), "neither tools/reference/templates nor the shared chat-templates folder is present");
        for (String t : TEMPLATES) assertThat(templateSource(t)).as("template %s in %s", t, templateDirs()).isPresent();
        try (InputStream in = ChatTemplateFidelityTest.class.getResourceAsStream("/chat-templates/expected.json")) {
            List<Map<String, Object>> cases = JSON.readValue(in, List.class);
            assertThat(cases.stream().map(c -> (String) c.get("template")).distinct()).containsExactlyInAnyOrderElementsOf(TEMPLATES);
        }
    }

    /** Folders that hold template sources: tools/reference/templates (walking up from the working directory), the shared fixtures. */
    static List<Path> templateDirs() {
        List<Path> dirs = new java.util.ArrayList<>();
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("tools/reference/templates");
            if (Files.isDirectory(candidate)) {
                dirs.add(candidate);
                break;
            }
        }
        TestFixtures.shared("chat-templates").ifPresent(dirs::add);
        return dirs;
    }

    /** FILE in the first template folder that has it. */
    static Optional<Path> templateSource(String file) {
        return templateDirs().stream().map(d -> d.resolve(file)).filter(Files::isRegularFile).findFirst();
    }
}
