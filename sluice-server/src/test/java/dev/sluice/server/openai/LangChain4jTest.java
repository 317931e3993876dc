package dev.sluice.server.openai;

import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.sluice.server.ServerConfig;
import dev.sluice.server.SluiceServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** LangChain4j's OpenAI module as a second real client of the routes, streaming and not. */
class LangChain4jTest {
    static final FakeModel ECHO = new FakeModel("fake", "Hello, world! ✓", "", 4096);
    static SluiceServer server;
    static String baseUrl;

    @BeforeAll
    static void start() {
        server = new SluiceServer(ServerConfig.defaults().withPort(0), List.of(ECHO), () -> true).start();
        baseUrl = "http://127.0.0.1:" + server.port() + "/v1";
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static OpenAiChatModel chat(String model) {
        return OpenAiChatModel.builder().baseUrl(baseUrl).apiKey("unused").modelName(model).temperature(0.0)
                .maxRetries(0).timeout(Duration.ofSeconds(10)).build();
    }

    @Test
    void nonStreamingChat() {
        ChatResponse r = chat("fake").chat(SystemMessage.from("Be brief."), UserMessage.from("hi"));
        assertThat(r.aiMessage().text()).isEqualTo("Hello, world! ✓");
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(15);
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo("system: Be brief.\nuser: hi\nassistant:".length());
        assertThat(r.metadata().modelName()).isEqualTo("fake");
        assertThat(chat("fake").chat("hi")).isEqualTo("Hello, world! ✓");
    }

    @Test
    void streamingChatConcatenatesToTheWholeReply() throws Exception {
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(baseUrl).apiKey("unused").modelName("fake")
                .temperature(0.0).timeout(Duration.ofSeconds(10)).build();
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat("hi", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String s) {
                partial.append(s);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        ChatResponse r = done.get(10, TimeUnit.SECONDS);
        assertThat(partial.toString()).isEqualTo("Hello, world! ✓");
        assertThat(r.aiMessage().text()).isEqualTo("Hello, world! ✓");
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
    }

    @Test
    void errorsMapToLangChain4jsTypedExceptions() {
        assertThatThrownBy(() -> chat("nope").chat("hi")).isInstanceOf(ModelNotFoundException.class).hasMessageContaining("model_not_found");
        OpenAiChatModel hot = OpenAiChatModel.builder().baseUrl(baseUrl).apiKey("unused").modelName("fake").temperature(7.0).maxRetries(0).build();
        assertThatThrownBy(() -> hot.chat("hi")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("temperature");
    }
}
