package dev.sluice.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * ChatTemplate's API and the models' real templates (from tools/reference/templates or the shared
 * fixtures; those tests skip when absent). Expected strings were checked against jinja2 3.1.6 in
 * transformers' environment.
 */
class ChatTemplateTest {
    static final String QWEN25 = "Qwen-Qwen2.5-7B-Instruct.jinja";
    static final String QWEN3 = "Qwen-Qwen3-0.6B.jinja";
    static final String R1_QWEN = "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja";
    static final String LLAMA32 = "meta-llama-Llama-3.2-3B-Instruct.jinja";
    static final String MISTRAL = "mistralai-Mistral-Nemo-Instruct-2407.jinja";
    static final String DS_BOS = "<｜begin▁of▁sentence｜>";
    static final String DS_EOS = "<｜end▁of▁sentence｜>";

    static Map<String, Object> msg(String role, Object content, Object... more) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        for (int i = 0; i < more.length; i += 2) m.put((String) more[i], more[i + 1]);
        return m;
    }

    static ChatTemplate real(String file, String bos, String eos) {
        Optional<Path> p = ChatTemplateFidelityTest.templateSource(file);
        assumeTrue(p.isPresent(), file + " not found");
        try {
            return ChatTemplate.of(Files.readString(p.get()), bos, eos);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static Clock clockAt(int y, int mo, int d) {
        return Clock.fixed(LocalDateTime.of(y, mo, d, 12, 0).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
    }

    // ---------------------------------------------------------------- raise_exception and errors

    @Test
    void raiseExceptionBecomesTypedExceptionWithTheTemplatesMessage() {
        ChatTemplate t = ChatTemplate.of("a{% if messages|length > 1 %}{{ raise_exception('Only ' ~ 'one message!') }}{% endif %}b", null, null);
        assertThat(t.render(List.of(msg("user", "x")), false, null, null)).isEqualTo("ab");
        assertThatThrownBy(() -> t.render(List.of(msg("user", "x"), msg("user", "y")), false, null, null))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("Only one message!");
                    assertThat(e.raisedByTemplate()).isTrue();
                });
    }

    @Test
    void mistralRejectsNonAlternatingRoles() {
        ChatTemplate t = real(MISTRAL, "<s>", "</s>");
        assertThat(t.render(List.of(msg("user", "a"), msg("assistant", "b"), msg("user", "c")), true, null, null))
                .isEqualTo("<s>[INST]a[/INST]b</s>[INST]c[/INST]");
        assertThatThrownBy(() -> t.render(List.of(msg("user", "a"), msg("user", "b")), true, null, null))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...");
    }

    @Test
    void llamaRejectsParallelToolCalls() {
        ChatTemplate t = real(LLAMA32, "<|begin_of_text|>", "<|eot_id|>");
        Map<String, Object> call = Map.of("type", "function", "function", Map.of("name", "f", "arguments", Map.of()));
        assertThatThrownBy(() -> t.render(List.of(msg("user", "a"), msg("assistant", "", "tool_calls", List.of(call, call))),
                true, null, Map.of("date_string", "26 Jul 2024")))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("This model only supports single tool-calls at once!");
    }

    @Test
    void badSyntaxFailsAtCompileTime() {
        for (String bad : List.of("{% if x %}never closed", "{{ unterminated", "{# comment", "{{ 'open string }}",
                "{% endfor %}", "{% nosuchtag %}")) {
            assertThatThrownBy(() -> ChatTemplate.of(bad, null, null)).as(bad).isInstanceOf(ChatTemplateException.class);
        }
    }

    @Test
    void unknownFiltersAndTestsFailAtCompileTimeAsInJinja2() {
        assertThatThrownBy(() -> ChatTemplate.of("{{ 'x' | no_such_filter }}", null, null))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("no filter named 'no_such_filter'");
        assertThatThrownBy(() -> ChatTemplate.of("{% if x is no_such_test %}{% endif %}", null, null))
                .isInstanceOf(ChatTemplateException.class).hasMessageContaining("no test named 'no_such_test'");
    }

    @Test
    void failingExpressionFailsTheRender() {
        ChatTemplate t = ChatTemplate.of("{% if messages %}{{ undefined_function(1) }}{% endif %}", null, null);
        assertThat(t.render(List.of(), false, null, null)).isEmpty();
        assertThatThrownBy(() -> t.render(List.of(msg("user", "x")), false, null, null)).isInstanceOf(ChatTemplateException.class);
    }

    @Test
    void outputPastTheLimitFailsTheRender() {
        ChatTemplate t = ChatTemplate.of("{{ messages[0].content * n }}", null, null);
        int n = (int) (ChatTemplate.MAX_OUTPUT_CHARS / 1000) + 1;
        assertThat(t.render(List.of(msg("user", "x".repeat(1000))), false, null, Map.of("n", 2))).hasSize(2000);
        assertThatThrownBy(() -> t.render(List.of(msg("user", "x".repeat(1000))), false, null, Map.of("n", n)))
                .isInstanceOf(ChatTemplateException.class);
    }

    @Test
    void reservedExtraVariablesAreRejected() {
        ChatTemplate t = ChatTemplate.of("x", null, null);
        assertThatThrownBy(() -> t.render(List.of(), false, null, Map.of("messages", List.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("messages");
    }

    // ---------------------------------------------------------------- strftime_now

    @Test
    void strftimeNowReadsTheClock() {
        ChatTemplate t = ChatTemplate.of("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B %y %H:%M %p %j %a %%') }}", null, null)
                .withClock(clockAt(2025, 1, 5));
        assertThat(t.render(List.of(), false, null, null)).isEqualTo("05 Jan 2025|5 January 25 12:00 PM 005 Sun %");
    }

    @Test
    void llama32UsesStrftimeNowWhenNoDateStringIsGiven() {
        ChatTemplate t = real(LLAMA32, "<|begin_of_text|>", "<|eot_id|>").withClock(clockAt(2024, 7, 26));
        assertThat(t.render(List.of(msg("user", "hi")), true, null, null)).isEqualTo(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                        + "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
        assertThat(t.withClock(clockAt(2030, 12, 31)).render(List.of(msg("user", "hi")), true, null, null))
                .contains("Today Date: 31 Dec 2030\n");
    }

    // ---------------------------------------------------------------- conversations

    @Test
    void multiTurnWithAndWithoutGenerationPrompt() {
        ChatTemplate t = real(QWEN25, null, "<|im_end|>");
        List<Map<String, Object>> conv = List.of(msg("user", "hi"), msg("assistant", "yo"), msg("user", "again"));
        String body = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n";
        assertThat(t.render(conv, false, null, null)).isEqualTo(body);
        assertThat(t.render(conv, true, null, null)).isEqualTo(body + "<|im_start|>assistant\n");
    }

    @Test
    void toolsAreRenderedAsPythonJson() {
        ChatTemplate t = real(QWEN25, null, "<|im_end|>");
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "f");
        fn.put("description", "d");
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("type", "object");
        params.put("properties", Map.of());
        fn.put("parameters", params);
        Map<String, Object> ordered = new LinkedHashMap<>();
        ordered.put("type", "function");
        ordered.put("function", fn);
        assertThat(t.render(List.of(msg("user", "hi")), true, List.of(ordered), null)).isEqualTo(
                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n"
                        + "You may call one or more functions to assist with the user query.\n\n"
                        + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                        + "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\", "
                        + "\"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n</tools>\n\n"
                        + "For each function call, return a json object with function name and arguments within "
                        + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
                        + "<args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void qwen3RendersReasoningContentOnlyAfterTheLastQuery() {
        ChatTemplate t = real(QWEN3, null, "<|im_end|>");
        List<Map<String, Object>> conv = List.of(
                msg("user", "Q1"),
                msg("assistant", "<think>\nold\n</think>\n\nA1"),
                msg("user", "Q2"),
                msg("assistant", "A2", "reasoning_content", "R2"));
        assertThat(t.render(conv, false, null, null)).isEqualTo(
                "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
                        + "<|im_start|>assistant\n<think>\nR2\n</think>\n\nA2<|im_end|>\n");
    }

    @Test
    void qwen3EnableThinkingFalseClosesTheThinkBlock() {
        ChatTemplate t = real(QWEN3, null, "<|im_end|>");
        assertThat(t.render(List.of(msg("user", "Q")), true, null, Map.of("enable_thinking", false)))
                .isEqualTo("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
        assertThat(t.render(List.of(msg("user", "Q")), true, null, Map.of("enable_thinking", true)))
                .isEqualTo("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void contentFalseIsATrueStringAsInPython() {
        // Jinjava alone takes the string "False" for false and would drop the newline before <tool_call>.
        ChatTemplate t = real(QWEN3, null, "<|im_end|>");
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "f");
        fn.put("arguments", Map.of("a", 1));
        List<Map<String, Object>> conv = List.of(msg("user", "Q"),
                msg("assistant", "False", "tool_calls", List.of(Map.of("type", "function", "function", fn))));
        assertThat(t.render(conv, false, null, null)).isEqualTo(
                "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nFalse\n<tool_call>\n"
                        + "{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call><|im_end|>\n");
    }

    @Test
    void r1DistillDropsPastReasoningAndOpensThinking() {
        ChatTemplate t = real(R1_QWEN, DS_BOS, DS_EOS);
        List<Map<String, Object>> conv = List.of(msg("user", "Q1"), msg("assistant", "<think>\nold\n</think>\n\nA1"), msg("user", "Q2"));
        assertThat(t.render(conv, true, null, null)).isEqualTo(
                DS_BOS + "<｜User｜>Q1<｜Assistant｜>\n\nA1" + DS_EOS + "<｜User｜>Q2<｜Assistant｜><think>\n</think>");
    }

    // ---------------------------------------------------------------- named templates, safety

    @Test
    void namedTemplatesPickToolUseWhenToolsAreGiven() {
        ChatTemplate t = ChatTemplate.ofNamed(Map.of("default", "D{{ messages|length }}", "tool_use", "T{{ tools|length }}"), null, null);
        assertThat(t.render(List.of(msg("user", "x")), false, null, null)).isEqualTo("D1");
        assertThat(t.render(List.of(msg("user", "x")), false, List.of(Map.of("type", "function")), null)).isEqualTo("T1");
        assertThatThrownBy(() -> ChatTemplate.ofNamed(Map.of("other", "x"), null, null)).isInstanceOf(ChatTemplateException.class);
    }

    @Test
    void messageTextIsNeverRenderedAsTemplate() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.content }}{% endfor %}", null, null);
        assertThat(t.render(List.of(msg("user", "{{ 7 * 7 }} {% if true %}x{% endif %}")), false, null, null))
                .isEqualTo("{{ 7 * 7 }} {% if true %}x{% endif %}");
    }

    @Test
    void theCallersMessagesAreNotModified() {
        List<Object> calls = new ArrayList<>();
        Map<String, Object> m = msg("user", "x", "tool_calls", calls);
        List<Map<String, Object>> conv = new ArrayList<>(List.of(m));
        ChatTemplate t = ChatTemplate.of("{% do messages[0].tool_calls.append(1) %}{% do messages.append(2) %}{{ messages|length }}", null, null);
        t.render(conv, false, null, null);
        assertThat(conv).hasSize(1);
        assertThat(calls).isEmpty();
    }

    @Test
    void rendersConcurrentlyFromOneInstance() throws Exception {
        ChatTemplate t = real(QWEN3, null, "<|im_end|>");
        List<List<Map<String, Object>>> convs = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            List<Map<String, Object>> conv = List.of(msg("user", "Q" + i), msg("assistant", "<think>r" + i + "</think>A" + i), msg("user", "again " + i));
            convs.add(conv);
            expected.add(t.render(conv, true, null, null));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int k = 0; k < 400; k++) {
                int i = k % convs.size();
                results.add(pool.submit(() -> t.render(convs.get(i), true, null, null).equals(expected.get(i))));
            }
            for (Future<Boolean> f : results) assertThat(f.get()).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }
}
