package dev.sluice.cli.hub;

import java.util.regex.Pattern;

/**
 * A model on the hub, written {@code hf:ORG/REPO} (a whole Hugging Face model folder) or
 * {@code hf:ORG/REPO:FILE} (one file of the repo, e.g. a {@code .gguf}).
 *
 * @param repo the repo id, {@code ORG/REPO} (or a bare {@code REPO} for legacy un-namespaced repos)
 * @param file a path inside the repo, or null for the whole model folder
 */
public record HubReference(String repo, String file) {
    public static final String PREFIX = "hf:";

    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    public HubReference {
        String[] parts = repo.split("/", -1);
        if (parts.length > 2) throw new IllegalArgumentException("hub repo '" + repo + "' must be ORG/REPO");
        for (String p : parts) {
            if (!SEGMENT.matcher(p).matches() || p.contains("..")) {
                throw new IllegalArgumentException("hub repo '" + repo + "' must be ORG/REPO (letters, digits, '.', '_', '-')");
            }
        }
        if (file != null) {
            if (file.isEmpty() || file.startsWith("/") || file.contains("\\")) {
                throw new IllegalArgumentException("hub file '" + file + "' must be a relative path inside the repo");
            }
            for (String seg : file.split("/", -1)) {
                if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
                    throw new IllegalArgumentException("hub file '" + file + "' must be a relative path inside the repo");
                }
            }
        }
    }

    public static boolean isHubReference(String spec) {
        return spec != null && spec.startsWith(PREFIX);
    }

    /** Parses {@code hf:ORG/REPO[:FILE]}; throws IllegalArgumentException naming the bad part. */
    public static HubReference parse(String spec) {
        if (!isHubReference(spec)) throw new IllegalArgumentException("'" + spec + "' does not start with " + PREFIX);
        String rest = spec.substring(PREFIX.length());
        int colon = rest.indexOf(':');
        String repo = colon < 0 ? rest : rest.substring(0, colon);
        String file = colon < 0 ? null : rest.substring(colon + 1);
        if (repo.isEmpty()) throw new IllegalArgumentException("'" + spec + "': expected hf:ORG/REPO[:FILE]");
        return new HubReference(repo, file);
    }

    @Override
    public String toString() {
        return PREFIX + repo + (file == null ? "" : ":" + file);
    }
}
