package dev.sluice.server.gateway.cache;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionDeleted;
import com.openai.models.chat.completions.ChatCompletionListPage;
import com.openai.models.chat.completions.ChatCompletionListParams;
import com.openai.models.chat.completions.ChatCompletionStoreMessage;
import com.openai.models.chat.completions.ChatCompletionUpdateParams;
import com.openai.models.chat.completions.messages.MessageListPage;
import com.openai.models.chat.completions.messages.MessageListParams;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.store.PgTestSchema;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * OpenAI's stored completions through the official SDK, on the embedded H2 file and on this
 * machine's real PostgreSQL (a schema of its own per run, dropped at the end), with real API keys
 * of two tenants (the auth concern's store and decorator), so tenant scoping is the real one.
 */
class StoredCompletionsTest {
    static final String REPLY = "Stored answer.";
    final CountingModel model = new CountingModel("fake", REPLY);
    Harness h;
    PgTestSchema pg;

    @AfterEach
    void stop() throws Exception {
        if (h != null) h.close();
        if (pg != null) pg.close();
    }

    /** A store URL for {@code db}: an H2 file under {@code dir}, or a fresh PostgreSQL schema. */
    String storeUrl(String db, Path dir) throws Exception {
        if (db.equals("h2")) return StoreConfig.defaultUrl(dir);
        pg = new PgTestSchema("cache_test");
        return pg.url();
    }

    static OpenAIClient sdk(Harness h, String key) {
        return OpenAIOkHttpClient.builder().baseUrl(h.base() + "/v1").apiKey(key).maxRetries(0).build();
    }

    static ChatCompletionCreateParams.Metadata meta(String k, String v) {
        return ChatCompletionCreateParams.Metadata.builder().putAdditionalProperty(k, JsonValue.from(v)).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgres"})
    void listGetMessagesUpdateDeleteWithPaginationFiltersAndTenantScoping(String db, @TempDir Path dir) throws Exception {
        String url = storeUrl(db, dir);
        StoreConfig sc = new StoreConfig(url, db.equals("h2") ? null : "postgres", null, 2, null);
        String keyA, keyB;
        try (Store s = Store.open(sc)) {
            IdentityStore ids = new IdentityStore(s);
            ids.createTenant("acme", "Acme");
            ids.createTenant("beta", "Beta");
            keyA = ids.createKey(new IdentityStore.KeySpec("acme", null, null, "a", null, null, false, null)).key();
            keyB = ids.createKey(new IdentityStore.KeySpec("beta", null, null, "b", null, null, false, null)).key();
        }
        SluiceConfig cfg = new SluiceConfig(sc, null, null, null, null, null, null);
        h = Harness.assembled(List.of(model), cfg);
        OpenAIClient a = sdk(h, keyA), b = sdk(h, keyB);

        List<String> created = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ChatCompletion c = a.chat().completions().create(ChatCompletionCreateParams.builder().model("fake")
                    .addSystemMessage("be brief").addUserMessage("question " + i).store(true)
                    .metadata(meta("topic", i % 2 == 0 ? "math" : "art")).build());
            created.add(c.id());
        }
        // a streamed one: stored as the chat.completion it adds up to
        String streamedId;
        try (StreamResponse<ChatCompletionChunk> s = a.chat().completions().createStreaming(ChatCompletionCreateParams.builder().model("fake")
                .addUserMessage("streamed").store(true).metadata(meta("topic", "stream")).build())) {
            streamedId = s.stream().map(ChatCompletionChunk::id).reduce((x, y) -> y).orElseThrow();
        }
        created.add(streamedId);
        a.chat().completions().create(ChatCompletionCreateParams.builder().model("fake").addUserMessage("not stored").build());
        String bId = b.chat().completions().create(ChatCompletionCreateParams.builder().model("fake").addUserMessage("b's").store(true).build()).id();

        await().atMost(10, TimeUnit.SECONDS).until(() -> a.chat().completions().list().data().size() == 5);

        // pagination: pages of 2, oldest first (OpenAI's default order), the SDK's auto-pager follows 'after'
        ChatCompletionListPage page = a.chat().completions().list(ChatCompletionListParams.builder().limit(2).build());
        assertThat(page.data()).hasSize(2);
        assertThat(page.hasNextPage()).isTrue();
        List<String> all = new ArrayList<>();
        page.autoPager().forEach(c -> all.add(c.id()));
        assertThat(all).containsExactlyElementsOf(created);
        List<String> desc = new ArrayList<>();
        a.chat().completions().list(ChatCompletionListParams.builder().limit(3).order(ChatCompletionListParams.Order.DESC).build())
                .autoPager().forEach(c -> desc.add(c.id()));
        assertThat(desc).containsExactlyElementsOf(created.reversed());
        // filters
        List<String> math = a.chat().completions().list(ChatCompletionListParams.builder()
                        .metadata(ChatCompletionListParams.Metadata.builder().putAdditionalProperty("topic", "math").build()).build())
                .data().stream().map(ChatCompletion::id).toList();
        assertThat(math).containsExactly(created.get(0), created.get(2));
        assertThat(a.chat().completions().list(ChatCompletionListParams.builder().model("other").build()).data()).isEmpty();
        assertThat(a.chat().completions().list(ChatCompletionListParams.builder().model("fake").build()).data()).hasSize(5);

        // get, with the answer and its metadata
        ChatCompletion got = a.chat().completions().retrieve(created.get(1));
        assertThat(got.choices().get(0).message().content()).contains(REPLY);
        assertThat(got._additionalProperties().get("metadata").toString()).contains("art");
        ChatCompletion streamed = a.chat().completions().retrieve(streamedId);
        assertThat(streamed.choices().get(0).message().content()).contains(REPLY);
        assertThat(streamed._object_().toString()).contains("chat.completion");

        // messages of the request, with ids and pagination
        MessageListPage msgs = a.chat().completions().messages().list(created.get(3));
        assertThat(msgs.data()).extracting(ChatCompletionStoreMessage::id).containsExactly(created.get(3) + "-0", created.get(3) + "-1");
        assertThat(msgs.data().get(1).content()).contains("question 3");
        MessageListPage one = a.chat().completions().messages().list(created.get(3), MessageListParams.builder().limit(1).build());
        assertThat(one.data()).hasSize(1);
        assertThat(one.hasNextPage()).isTrue();
        assertThat(one.nextPage().data().getFirst().id()).isEqualTo(created.get(3) + "-1");

        // tenant scoping: b sees only its own, cannot read, update or delete a's
        assertThat(b.chat().completions().list().data()).extracting(ChatCompletion::id).containsExactly(bId);
        assertThatThrownBy(() -> b.chat().completions().retrieve(created.get(0))).isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> b.chat().completions().messages().list(created.get(0))).isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> b.chat().completions().delete(created.get(0))).isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> a.chat().completions().retrieve(bId)).isInstanceOf(NotFoundException.class);

        // update metadata
        ChatCompletion updated = a.chat().completions().update(created.get(0), ChatCompletionUpdateParams.builder()
                .metadata(ChatCompletionUpdateParams.Metadata.builder().putAdditionalProperty("topic", JsonValue.from("physics")).build()).build());
        assertThat(updated._additionalProperties().get("metadata").toString()).contains("physics");
        assertThat(a.chat().completions().list(ChatCompletionListParams.builder()
                        .metadata(ChatCompletionListParams.Metadata.builder().putAdditionalProperty("topic", "math").build()).build())
                .data()).extracting(ChatCompletion::id).containsExactly(created.get(2));

        // delete
        ChatCompletionDeleted d = a.chat().completions().delete(created.get(1));
        assertThat(d.deleted()).isTrue();
        assertThat(d.id()).isEqualTo(created.get(1));
        assertThatThrownBy(() -> a.chat().completions().retrieve(created.get(1))).isInstanceOf(NotFoundException.class);
        assertThat(a.chat().completions().list().data()).hasSize(4);

        // bad parameters are OpenAI errors naming the parameter
        HttpResponse<String> bad = Harness.HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions?limit=500"))
                .header("authorization", "Bearer " + keyA).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(Harness.json(bad.body()).path("error").path("param").asText()).isEqualTo("limit");
        HttpResponse<String> badMeta = h.chat("{\"model\":\"fake\",\"store\":true,\"metadata\":{\"k\":5},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                "authorization", "Bearer " + keyA);
        assertThat(badMeta.statusCode()).isEqualTo(400);
        assertThat(Harness.json(badMeta.body()).path("error").path("param").asText()).isEqualTo("metadata");
    }

    /**
     * Nothing is lost on shutdown: records still queued (here, held back by a lock on the table)
     * are written by the server's graceful close.
     */
    @org.junit.jupiter.api.Test
    void recordsQueuedAtShutdownAreWrittenBeforeTheServerStops(@TempDir Path dir) throws Exception {
        String url = storeUrl("postgres", dir);
        StoreConfig sc = new StoreConfig(url, "postgres", null, 2, null);
        SluiceConfig cfg = new SluiceConfig(sc, null, null, null, null, null, null);
        h = Harness.assembled(List.of(model), cfg);
        OpenAIClient sdk = sdk(h, "unused"); // no keys: loopback, anonymous (tenant 'default')
        sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("fake").addUserMessage("first").store(true).build());
        await().atMost(10, TimeUnit.SECONDS).until(() -> sdk.chat().completions().list().data().size() == 1);
        int n = 20;
        try (Connection lock = DriverManager.getConnection(url, "postgres", null)) {
            lock.setAutoCommit(false);
            try (Statement s = lock.createStatement()) {
                s.execute("LOCK TABLE stored_completions IN EXCLUSIVE MODE"); // the writer's inserts wait
            }
            for (int i = 0; i < n; i++) {
                sdk.chat().completions().create(ChatCompletionCreateParams.builder().model("fake").addUserMessage("q" + i).store(true).build());
            }
            assertThat(count(url)).as("held back by the lock").isEqualTo(1);
            CompletableFuture<Void> closing = CompletableFuture.runAsync(h::close);
            Thread.sleep(500);
            assertThat(closing).as("close waits for the queued records").isNotDone();
            lock.commit(); // release
            closing.get(30, TimeUnit.SECONDS);
        }
        assertThat(count(url)).isEqualTo(n + 1);
    }

    private static long count(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url, "postgres", null); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM stored_completions")) {
            r.next();
            return r.getLong(1);
        }
    }
}
