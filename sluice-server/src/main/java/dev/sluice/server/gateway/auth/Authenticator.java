package dev.sluice.server.gateway.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.sluice.server.config.ConfigException;
import dev.sluice.server.gateway.Principal;
import dev.sluice.server.store.LazyStore;
import dev.sluice.server.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns a bearer credential into a {@link Principal}: an API key ({@code sk-sluice-...}), the
 * bootstrap admin token, or a JWT; and decides, once at start-up, whether authentication is
 * enforced at all.
 *
 * <p>Design note, the modes. {@code NO_AUTH} ({@code --no-auth}): everyone is
 * {@link Principal#anonymous()}. Otherwise authentication is enforced as soon as any credential
 * exists: JWT config, the bootstrap admin hash, or an active API key in the store. With none at
 * start-up the server may only bind to loopback, where it serves anonymously until the first key
 * appears (created through the admin API: at once; by the CLI or another replica: seen within
 * {@link AuthConfig#keyCacheTtl()}); from then on it enforces, and never goes back, so revoking every
 * key cannot open a server.
 *
 * <p>Design note, API keys. The public prefix selects the row (from a Caffeine cache of rows,
 * TTL {@code keyCacheTtl}); the secret's SHA-256 is compared with {@link MessageDigest#isEqual}
 * (constant time) on every request, and revocation and expiry are checked on every request
 * against the cached row. A revocation through this node drops the row from the cache at once;
 * one made elsewhere is seen when the cached row expires, so {@code keyCacheTtl} bounds it.
 * Unknown prefixes are not cached. Thread-safe; {@link #authenticate} may block (store, JWKS).
 */
public final class Authenticator {
    private static final Logger log = LoggerFactory.getLogger(Authenticator.class);
    /** The bootstrap admin token's principal: operator tenant, admin; its key id names it in logs. */
    public static final String BOOTSTRAP_KEY_ID = "bootstrap-admin";

    private final AuthConfig config;
    private final LazyStore store;
    private final JwtVerifier jwt;
    private final byte[] adminHash;
    private final boolean noAuth;
    private final Cache<String, IdentityStore.KeyRow> keys;
    private final AtomicLong nextCredentialCheck = new AtomicLong();
    private volatile boolean enforcing;

    private Authenticator(AuthConfig config, LazyStore store, boolean noAuth, boolean enforcing) {
        this.config = config;
        this.store = store;
        this.noAuth = noAuth;
        this.enforcing = enforcing;
        this.jwt = config.jwt() == null ? null : new JwtVerifier(config.jwt());
        this.adminHash = config.adminKeyHash();
        this.keys = Caffeine.newBuilder().expireAfterWrite(config.keyCacheTtl().toNanos(), TimeUnit.NANOSECONDS)
                .maximumSize(config.keyCacheTtl().isZero() ? 0 : config.keyCacheSize()).build();
    }

    /**
     * Decides the mode for a server binding {@code host}; throws {@link ConfigException} when the
     * server would be reachable beyond loopback with no credential configured and no {@code --no-auth}.
     * Opens the store only when it may hold keys.
     */
    public static Authenticator start(AuthConfig config, LazyStore store, String host, boolean noAuth) {
        if (noAuth) {
            log.warn("*** AUTHENTICATION IS OFF (--no-auth): anyone who can reach {} may use every model, the admin API and /metrics ***", host);
            if (config.configuredCredentials()) log.warn("auth: the configured credentials (auth.jwt / auth.adminKeySha256) are ignored under --no-auth");
            return new Authenticator(config, store, true, false);
        }
        long keys = 0;
        if (store.mayHoldData()) keys = new IdentityStore(store.get()).activeKeyCount();
        boolean credentials = config.configuredCredentials() || keys > 0;
        if (credentials) {
            log.info("auth: enforced on every route but /health/live ({} active API key(s){}{})", keys,
                    config.jwt() != null ? ", JWT from " + config.jwt().issuer() : "", config.adminKeySha256() != null ? ", bootstrap admin token" : "");
            return new Authenticator(config, store, false, true);
        }
        if (!isLoopback(host)) {
            throw new ConfigException("refusing to serve on " + host + " without authentication: there are no API keys in the store ("
                    + store.config().url().replaceAll("password=[^&;]*", "password=***") + ") and no auth.jwt or auth.adminKeySha256 in the config. "
                    + "Create a key first (sluice keys create --tenant default --admin), configure JWT, "
                    + "bind to loopback (--host 127.0.0.1), or pass --no-auth to serve without authentication");
        }
        log.info("auth: no credentials configured: serving without authentication on loopback only ({}); "
                + "it is enforced as soon as an API key exists (sluice keys create)", host);
        return new Authenticator(config, store, false, false);
    }

    /** True when {@code host} resolves to a loopback address. */
    public static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException | SecurityException e) {
            return false;
        }
    }

    public boolean enforcing() {
        return enforcing;
    }

    public boolean noAuth() {
        return noAuth;
    }

    public LazyStore store() {
        return store;
    }

    /**
     * In the loopback-anonymous mode, at most once per {@code keyCacheTtl}, looks on {@code executor}
     * for keys created by another process; enforcing starts when one is found. Never blocks.
     */
    public void recheckCredentials(Executor executor) {
        if (enforcing || noAuth) return;
        long now = System.nanoTime(), next = nextCredentialCheck.get();
        if (now - next < 0 || !nextCredentialCheck.compareAndSet(next, now + Math.max(config.keyCacheTtl().toNanos(), 1_000_000_000L))) return;
        executor.execute(() -> {
            try {
                if (store.mayHoldData() && new IdentityStore(store.get()).activeKeyCount() > 0) credentialCreated();
            } catch (RuntimeException e) {
                log.warn("auth: cannot look for API keys in the store: {}", e.getMessage());
            }
        });
    }

    /** A key was created: from now on authentication is enforced (unless --no-auth). */
    public void credentialCreated() {
        if (!noAuth && !enforcing) {
            enforcing = true;
            log.info("auth: an API key exists now: authentication is enforced from here on");
        }
    }

    /** A key changed (revoked): drop its cached row so the change applies to the next request. */
    public void invalidate(String prefix) {
        keys.invalidate(prefix);
    }

    /** Tenants or many keys changed. */
    public void invalidateAll() {
        keys.invalidateAll();
    }

    /**
     * The principal of {@code token} when it can be decided without blocking (the bootstrap admin
     * token, a cached API key), or null when {@link #authenticate} must be called off the event loop.
     * Throws {@link AuthException} for a credential refused outright.
     */
    public Principal fast(String token) {
        if (adminHash != null && MessageDigest.isEqual(ApiKeys.sha256(token), adminHash)) return bootstrapAdmin();
        if (ApiKeys.looksLikeKey(token)) {
            ApiKeys.Parsed k = ApiKeys.parse(token);
            if (k == null) throw AuthException.invalidKey("the key is malformed");
            IdentityStore.KeyRow row = keys.getIfPresent(k.prefix());
            return row == null ? null : check(row, k);
        }
        if (jwt == null) throw AuthException.invalidKey("not a Sluice API key (sk-sluice-...)");
        return null;
    }

    /** The principal of {@code token}; throws {@link AuthException}. May block on the store or a JWKS fetch. */
    public Principal authenticate(String token) {
        Principal p = fast(token);
        if (p != null) return p;
        if (ApiKeys.looksLikeKey(token)) {
            ApiKeys.Parsed k = ApiKeys.parse(token);
            IdentityStore.KeyRow row;
            try {
                var s = store.opened() != null || store.mayHoldData() ? store.get() : null;
                row = s == null ? null : new IdentityStore(s).key(k.prefix());
            } catch (StoreException e) {
                log.warn("auth: cannot look up API key {}: {}", k.prefix(), e.getMessage());
                throw new dev.sluice.server.openai.OpenAiException(com.linecorp.armeria.common.HttpStatus.SERVICE_UNAVAILABLE, "server_error", null,
                        "auth_unavailable", "The credential store is unavailable; retry later");
            }
            if (row == null) {
                log.debug("auth: unknown API key prefix {}", k.prefix());
                throw AuthException.invalidKey("no such key");
            }
            keys.put(row.prefix(), row);
            return check(row, k);
        }
        return jwt.verify(token);
    }

    private Principal check(IdentityStore.KeyRow row, ApiKeys.Parsed k) {
        if (!MessageDigest.isEqual(ApiKeys.sha256(k.secret()), row.secretSha256())) {
            log.debug("auth: wrong secret for API key {}", row.prefix());
            throw AuthException.invalidKey("no such key");
        }
        if (row.revoked()) {
            log.debug("auth: revoked API key {} presented", row.prefix());
            throw AuthException.invalidKey("the key has been revoked");
        }
        if (row.expired(Instant.now())) {
            log.debug("auth: expired API key {} presented", row.prefix());
            throw AuthException.invalidKey("the key has expired");
        }
        return new Principal(row.tenant(), row.project(), row.prefix(), row.user(), row.tier(), row.models(), row.admin());
    }

    private static Principal bootstrapAdmin() {
        return new Principal(Principal.DEFAULT_TENANT, null, BOOTSTRAP_KEY_ID, null, Principal.DEFAULT_TIER, java.util.Set.of(), true);
    }
}
