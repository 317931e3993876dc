package dev.sluice.server.gateway.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * The API key format: {@code sk-sluice-<prefix>-<secret>}, e.g.
 * {@code sk-sluice-k3j5x2m7qa4d-<52 characters>}.
 *
 * <p>Design note: both parts are lower-case RFC 4648 base32 ({@code a-z2-7}, no padding), drawn from
 * {@link SecureRandom}. The prefix ({@value #PREFIX_CHARS} characters, 60 bits) is public: it is the
 * key's id in the store, in the admin API and in logs. The secret ({@value #SECRET_CHARS} characters,
 * 260 bits) is shown once, at creation; the store keeps only its SHA-256. With that much entropy an
 * unsalted fast hash is safe (no dictionary or brute force reaches it), and verification is one
 * hash and a constant-time comparison ({@link MessageDigest#isEqual}).
 */
public final class ApiKeys {
    public static final String SCHEME = "sk-sluice-";
    /** 12 base32 characters: 60 bits, ids that do not collide in practice (a collision is retried). */
    public static final int PREFIX_CHARS = 12;
    /** 52 base32 characters: 260 bits of secret. */
    public static final int SECRET_CHARS = 52;
    /** Length of a whole key. */
    public static final int KEY_CHARS = SCHEME.length() + PREFIX_CHARS + 1 + SECRET_CHARS;
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A key split into its parts. */
    public record Parsed(String prefix, String secret) {
        @Override
        public String toString() {
            return "ApiKey[" + prefix + "]";
        }
    }

    private ApiKeys() {}

    /** A fresh key: its prefix, its secret, and the whole key string to show once. */
    public record NewKey(String prefix, String secret) {
        public String key() {
            return SCHEME + prefix + "-" + secret;
        }

        public byte[] secretSha256() {
            return sha256(secret);
        }

        @Override
        public String toString() {
            return "NewKey[" + prefix + "]";
        }
    }

    public static NewKey generate() {
        return new NewKey(random(PREFIX_CHARS), random(SECRET_CHARS));
    }

    /** Splits {@code key}, or returns null when it is not of this format. */
    public static Parsed parse(String key) {
        if (key == null || key.length() != KEY_CHARS || !key.startsWith(SCHEME)) return null;
        int dash = SCHEME.length() + PREFIX_CHARS;
        if (key.charAt(dash) != '-') return null;
        String prefix = key.substring(SCHEME.length(), dash), secret = key.substring(dash + 1);
        if (!base32(prefix) || !base32(secret)) return null;
        return new Parsed(prefix, secret);
    }

    /** True when {@code s} looks like one of our keys (so it is never mistaken for a JWT). */
    public static boolean looksLikeKey(String s) {
        return s != null && s.startsWith(SCHEME);
    }

    /** True when {@code id} is a well-formed public prefix. */
    public static boolean isPrefix(String id) {
        return id != null && id.length() == PREFIX_CHARS && base32(id);
    }

    public static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static boolean base32(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z') && !(c >= '2' && c <= '7')) return false;
        }
        return true;
    }

    private static String random(int n) {
        char[] out = new char[n];
        for (int i = 0; i < n; i++) out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        return new String(out);
    }
}
