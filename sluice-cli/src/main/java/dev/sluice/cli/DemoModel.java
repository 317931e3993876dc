package dev.sluice.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The built-in demo model ({@code models/demo.gguf} on the classpath), used when no
 * {@code --model} is given. Weights are memory-mapped, so the resource is copied once into the
 * cache folder under a name that carries its content hash; later runs reuse the copy.
 */
public final class DemoModel {
    /** Public model id of the built-in model. */
    public static final String ID = "demo";
    static final String RESOURCE = "/models/demo.gguf";

    private DemoModel() {}

    /** True when this build packages the demo model. */
    public static boolean available() {
        return DemoModel.class.getResource(RESOURCE) != null;
    }

    /** The demo model as a file, extracted into {@code <cache>/models/} on first use. */
    public static Path path(Map<String, String> env) {
        if (!available()) {
            throw new CliException("no --model given and this build has no built-in demo model; pass --model PATH or --model hf:ORG/REPO[:FILE]");
        }
        try {
            String hash;
            try (InputStream in = DemoModel.class.getResourceAsStream(RESOURCE)) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
                hash = HexFormat.of().formatHex(md.digest()).substring(0, 16);
            }
            Path dir = cacheRoot(env).resolve("models");
            Path file = dir.resolve("demo-" + hash + ".gguf");
            if (!Files.exists(file)) {
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "demo-", ".part");
                try (InputStream in = DemoModel.class.getResourceAsStream(RESOURCE)) {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                }
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the demo model: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path cacheRoot(Map<String, String> env) {
        String c = env.get("SLUICE_CACHE");
        if (c != null && !c.isBlank()) return Path.of(c);
        return Path.of(System.getProperty("user.home"), ".cache", "sluice");
    }
}
