package dev.sluice.server.gateway.auth;

import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.RequestHeaders;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The key format and the bearer header parser, including random and mutated input (property style). */
class ApiKeysTest {
    @Test
    void generatedKeysHaveTheDocumentedShapeAndParseBack() {
        Set<String> prefixes = new HashSet<>();
        for (int i = 0; i < 2000; i++) {
            ApiKeys.NewKey k = ApiKeys.generate();
            String s = k.key();
            assertThat(s).hasSize(ApiKeys.KEY_CHARS).startsWith("sk-sluice-").matches("sk-sluice-[a-z2-7]{12}-[a-z2-7]{52}");
            ApiKeys.Parsed p = ApiKeys.parse(s);
            assertThat(p.prefix()).isEqualTo(k.prefix());
            assertThat(p.secret()).isEqualTo(k.secret());
            assertThat(k.toString()).doesNotContain(k.secret());
            assertThat(p.toString()).doesNotContain(k.secret());
            prefixes.add(k.prefix());
        }
        assertThat(prefixes).hasSize(2000);
    }

    @Test
    void mutatedAndRandomInputNeverParsesAsAnotherKeyAndNeverThrows() {
        Random rnd = new Random(42);
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=+/ \t\u00e9\u0000";
        for (int i = 0; i < 20_000; i++) {
            String key = ApiKeys.generate().key();
            StringBuilder b = new StringBuilder(key);
            int edits = 1 + rnd.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int pos = rnd.nextInt(b.length());
                switch (rnd.nextInt(3)) {
                    case 0 -> b.setCharAt(pos, alphabet.charAt(rnd.nextInt(alphabet.length())));
                    case 1 -> b.deleteCharAt(pos);
                    default -> b.insert(pos, alphabet.charAt(rnd.nextInt(alphabet.length())));
                }
            }
            String m = b.toString();
            ApiKeys.Parsed p = ApiKeys.parse(m);
            if (p != null) {
                // only a substitution inside the base32 parts can still parse, and then it is a different key
                assertThat(m).hasSize(ApiKeys.KEY_CHARS).matches("sk-sluice-[a-z2-7]{12}-[a-z2-7]{52}");
                if (!m.equals(key)) assertThat(ApiKeys.SCHEME + p.prefix() + "-" + p.secret()).isNotEqualTo(key);
            }
            StringBuilder junk = new StringBuilder();
            for (int j = rnd.nextInt(90); j > 0; j--) junk.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            assertThat(ApiKeys.parse(junk.toString())).isNull();
            assertThat(ApiKeys.parse(ApiKeys.SCHEME + junk)).satisfiesAnyOf(x -> assertThat(x).isNull(),
                    x -> assertThat(junk.toString()).matches("[a-z2-7]{12}-[a-z2-7]{52}"));
        }
        assertThat(ApiKeys.parse(null)).isNull();
        assertThat(ApiKeys.isPrefix("ABCDEFGHIJKL")).isFalse();
        assertThat(ApiKeys.isPrefix("abcdefghijkl")).isTrue();
    }

    @Test
    void theBearerHeaderParserAcceptsOnlyBearer() {
        assertThat(AuthDecorator.bearer(headers("Bearer abc"))).isEqualTo("abc");
        assertThat(AuthDecorator.bearer(headers("bearer   abc  "))).isEqualTo("abc");
        assertThatThrownBy(() -> AuthDecorator.bearer(headers(null))).isInstanceOf(AuthException.class).hasMessageContaining("didn't provide");
        assertThatThrownBy(() -> AuthDecorator.bearer(headers("Bearer"))).isInstanceOf(AuthException.class);
        assertThatThrownBy(() -> AuthDecorator.bearer(headers("Bearer    "))).isInstanceOf(AuthException.class);
        assertThatThrownBy(() -> AuthDecorator.bearer(headers("Basic YWxhZGRpbjpvcGVuc2VzYW1l"))).isInstanceOf(AuthException.class)
                .hasMessageNotContaining("YWxhZGRpbjpvcGVuc2VzYW1l");
        assertThatThrownBy(() -> AuthDecorator.bearer(headers("Bearerabc"))).isInstanceOf(AuthException.class);
    }

    static RequestHeaders headers(String authz) {
        RequestHeaders h = RequestHeaders.of(HttpMethod.GET, "/v1/models");
        return authz == null ? h : h.toBuilder().add("authorization", authz).build();
    }
}
