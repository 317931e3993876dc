package dev.sluice.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property: for any template text, compiling either succeeds or throws {@link ChatTemplateException},
 * and so does rendering; nothing else escapes (no IndexOutOfBounds from the lexical pass, no raw
 * Jinjava or EL exception). Templates are random sequences of Jinja fragments, from a fixed seed.
 */
class ChatTemplateFuzzTest {
    private static final String[] FRAGMENTS = {
        "{%", "%}", "{{", "}}", "{#", "#}", "-", "+", " ", "\n", "  ", "'", "\"", "\\", "[", "]", ":", "::",
        "(", ")", "{", "}", ",", ".", "|", "=", "==", "~", "*", "%", "if ", "else", "elif ", "endif", "for ",
        " in ", "endfor", "set ", "endset", "macro ", "endmacro", "raw", "endraw", "filter ", "endfilter",
        "not ", " is ", " and ", " or ", "none", "None", "true", "x", "messages", "m", "m.content", "loop.index0",
        "loop.previtem", "-1", "0", "1", "'a'", "\"b\"", "tojson", "trim", "upper", "length", "defined",
        "raise_exception('boom')", "strftime_now('%Y')", "namespace(n=1)", "break", "continue", "{% endif %}",
        "{% endfor %}", "{{ x }}", "{% if x %}", "{% for m in messages %}", "é", "🙂",
    };

    @Test
    void compileAndRenderFailOnlyWithChatTemplateException() {
        Random random = new Random(20240726);
        List<Map<String, Object>> messages = List.of(Map.of("role", "user", "content", "hi"));
        int compiled = 0;
        for (int i = 0; i < 3000; i++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + random.nextInt(24);
            for (int k = 0; k < n; k++) sb.append(FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
            String source = sb.toString();
            ChatTemplate t;
            try {
                t = ChatTemplate.of(source, "<s>", "</s>");
            } catch (ChatTemplateException expected) {
                continue;
            } catch (RuntimeException e) {
                fail("compiling " + quoted(source) + " threw " + e, e);
                return;
            }
            compiled++;
            try {
                t.render(messages, true, null, Map.of("x", "v"));
            } catch (ChatTemplateException expected) {
                // fine
            } catch (RuntimeException e) {
                fail("rendering " + quoted(source) + " threw " + e, e);
            }
        }
        assertThat(compiled).as("some random templates compile").isGreaterThan(100);
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\n", "\\n").replace("\"", "\\\"") + "\"";
    }
}
