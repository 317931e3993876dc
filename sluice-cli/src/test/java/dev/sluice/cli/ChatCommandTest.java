package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.engine.LoadedModel;
import dev.sluice.engine.runtime.Generator;
import dev.sluice.engine.sampling.SamplingParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ChatCommandTest {
    static JsonNode referenceChat(Path dir) throws Exception {
        return new ObjectMapper().readTree(dir.resolve("tokenizer_cases.json").toFile()).get("chat");
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> messages(JsonNode chat) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (JsonNode m : chat.get("messages")) out.add(new ObjectMapper().convertValue(m, Map.class));
        return out;
    }

    @Test
    void chatPromptMatchesHuggingFaceApplyChatTemplate() throws Exception {
        Path dir = Fixtures.reference("qwen2");
        JsonNode ref = referenceChat(dir);
        try (LoadedModel m = Models.load(dir, 64, null)) {
            assertThat(m.renderChat(messages(ref), null)).isEqualTo(ref.get("rendered").asText());
            assertThat(TokenizeCommandTest.line(Chat.encode(m, messages(ref)))).isEqualTo(TokenizeCommandTest.line(ref.get("ids")));
        }
    }

    @Test
    void generateChatUsesTheTemplatedPrompt() throws Exception {
        Path dir = Fixtures.reference("qwen2");
        JsonNode ref = referenceChat(dir);
        Cli.Result chat = Cli.run("generate", "-m", dir.toString(), "--chat", "--system", "Be brief.", "-p", "Hi there!",
                "--temperature", "0", "-n", "12");
        Cli.Result ids = Cli.run("generate", "-m", dir.toString(), "--prompt-ids", TokenizeCommandTest.line(ref.get("ids")),
                "--temperature", "0", "-n", "12");
        assertThat(chat.exit()).as(chat.err()).isZero();
        assertThat(chat.out()).isEqualTo(ids.out());
        assertThat(chat.err()).matches(GenerateCommandTest.STATS);
    }

    @Test
    void pipedConversationWithResetAndExit() {
        Path dir = Fixtures.reference("qwen2");
        String[] args = {"chat", "-m", dir.toString(), "--temperature", "0", "-n", "6", "--system", "Be brief."};
        Cli.Result once = Cli.run("Hi there!\n", Map.of(), args);
        assertThat(once.exit()).as(once.err()).isZero();
        String reply = once.out();
        assertThat(reply).endsWith("\n").hasSizeGreaterThan(1);
        Cli.Result r = Cli.run("Hi there!\n\n/reset\nHi there!\n/exit\nnever read\n", Map.of(), args);
        assertThat(r.exit()).isZero();
        assertThat(r.out()).isEqualTo(reply + reply); // after /reset the same prompt gives the same greedy reply
        assertThat(r.err()).contains("history cleared");
        assertThat(Cli.run("/bogus\n", Map.of(), args).err()).contains("unknown command /bogus");
    }

    /** Reusing the KV cache across turns must give exactly what a fresh run over the whole history gives. */
    @Test
    void secondTurnWithCachedPrefixEqualsFreshRun() {
        Path dir = Fixtures.reference("llama");
        SamplingParams greedy = SamplingParams.greedy(10);
        PrintWriter sink = new PrintWriter(new StringWriter());
        try (LoadedModel m = Models.load(dir, 256, null)) {
            ChatCommand.Session s = new ChatCommand.Session(m, "Be brief.");
            Generator.Result first = s.reply("Hi there!", greedy, sink);
            Generator.Result second = s.reply("Tell me more.", greedy, sink);
            assertThat(s.turns()).hasSize(4);

            List<Map<String, Object>> history = Chat.messages("Be brief.", List.of(
                    Map.of("role", "user", "content", "Hi there!"),
                    Map.of("role", "assistant", "content", first.text()),
                    Map.of("role", "user", "content", "Tell me more.")));
            Generator.Result fresh = m.generator().generate(Chat.encode(m, history), greedy, null, null);
            assertThat(second.tokens()).containsExactly(fresh.tokens());
            assertThat(second.stats().prefillTokens()).isLessThan(fresh.stats().prefillTokens());
        }
    }

    @Test
    void modelWithoutChatTemplateIsAClearError(@TempDir Path copy) throws Exception {
        Path dir = Fixtures.reference("qwen2");
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"}) {
            java.nio.file.Files.copy(dir.resolve(f), copy.resolve(f));
        }
        java.nio.file.Files.writeString(copy.resolve("tokenizer_config.json"), "{}");
        Cli.Result r = Cli.run("hi\n", Map.of(), "chat", "-m", copy.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("no chat template").contains(copy.toString());
        Cli.Result g = Cli.run("generate", "-m", copy.toString(), "--chat", "-p", "hi");
        assertThat(g.exit()).isEqualTo(1);
        assertThat(g.err()).contains("no chat template").contains(copy.getFileName().toString()).doesNotContain("\tat ");
    }
}
