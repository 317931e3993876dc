package dev.sluice.cli;

import dev.sluice.server.config.ConfigException;
import dev.sluice.server.config.SluiceConfig;
import dev.sluice.server.gateway.auth.ApiKeys;
import dev.sluice.server.gateway.auth.IdentityStore;
import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code sluice keys create|list|revoke}: API keys, straight against the store of {@code --config}
 * (default: the embedded H2 file, {@code $SLUICE_DATA/sluice}). {@code create} prints the key once,
 * alone on stdout; nothing else ever prints a secret or a hash. With the embedded H2 store the file
 * is locked while {@code sluice serve} runs: stop it, or use the admin API ({@code docs/auth.md}).
 */
@Command(name = "keys", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys in the store.",
        subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class})
public final class KeysCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: create, list or revoke");
    }

    /** Options every keys subcommand takes. */
    static final class StoreOptions {
        @Option(names = "--config", paramLabel = "FILE", description = "YAML config whose store: section names the database (default: the embedded H2 file).")
        Path configFile;

        Store open() {
            SluiceConfig c;
            try {
                c = configFile == null ? SluiceConfig.defaults() : SluiceConfig.load(configFile);
            } catch (ConfigException e) {
                throw new CliException(e.getMessage());
            }
            try {
                return Store.open(c.store());
            } catch (StoreException e) {
                String hint = c.store().postgres() ? "" : " (the embedded H2 store is locked while sluice serve runs: stop it, or use the admin API)";
                throw new CliException(e.getMessage() + hint);
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {"Create an API key and print it, once, on stdout.",
            "Store it now: only its SHA-256 is kept."})
    static final class Create implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @CommandLine.Mixin
        StoreOptions store;

        @Option(names = "--tenant", paramLabel = "ID", defaultValue = "default", description = "Tenant of the key (default: ${DEFAULT-VALUE}, the operator's).")
        String tenant;
        @Option(names = "--create-tenant", description = "Create the tenant first when it does not exist.")
        boolean createTenant;
        @Option(names = "--project", paramLabel = "ID", description = "Project in the tenant (must exist).")
        String project;
        @Option(names = "--user", paramLabel = "ID", description = "User in the tenant (must exist).")
        String user;
        @Option(names = "--name", paramLabel = "NAME", description = "A label for the key.")
        String name;
        @Option(names = {"--model", "-m"}, paramLabel = "MODEL", description = "A model the key may use; repeat for more (default: every model).")
        List<String> models;
        @Option(names = "--tier", paramLabel = "TIER", description = "The key's tier (default: default).")
        String tier;
        @Option(names = "--admin", description = "An admin key: may use the admin API (of every tenant when its tenant is 'default') and /metrics.")
        boolean admin;
        @Option(names = "--expires", paramLabel = "WHEN", description = "Expiry: a duration (30d, 12h, 90m, PT1H) or an instant (2027-01-01T00:00:00Z); default: never.")
        String expires;

        @Override
        public Integer call() {
            if (!IdentityStore.ID.matcher(tenant).matches()) throw new CommandLine.ParameterException(spec.commandLine(), "--tenant: not a valid id: " + tenant);
            Instant exp = expires == null ? null : parseExpiry(spec, expires);
            try (Store s = store.open()) {
                IdentityStore ids = new IdentityStore(s);
                if (createTenant && ids.tenant(tenant) == null) ids.createTenant(tenant, tenant);
                IdentityStore.Created c;
                try {
                    c = ids.createKey(new IdentityStore.KeySpec(tenant, project, user, name, models == null ? null : new LinkedHashSet<>(models), tier, admin, exp));
                } catch (IdentityStore.IdentityException e) {
                    throw new CliException(e.getMessage() + (e.kind() == IdentityStore.IdentityException.Kind.NOT_FOUND && !createTenant ? " (--create-tenant creates the tenant)" : ""));
                }
                PrintWriter err = spec.commandLine().getErr();
                err.println("created key " + c.row().prefix() + " for tenant " + tenant + (admin ? " (admin)" : "")
                        + "; it is shown once, below: store it now (only its SHA-256 is kept)");
                err.flush();
                spec.commandLine().getOut().println(c.key());
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List keys: id (public prefix), tenant, name, models, tier, admin, state. Never secrets or hashes.")
    static final class ListKeys implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @CommandLine.Mixin
        StoreOptions store;
        @Option(names = "--tenant", paramLabel = "ID", description = "Only this tenant's keys.")
        String tenant;
        @Option(names = "--json", description = "One JSON object per line, as the admin API shows keys.")
        boolean json;

        @Override
        public Integer call() {
            try (Store s = store.open()) {
                PrintWriter out = spec.commandLine().getOut();
                List<IdentityStore.KeyRow> keys = new IdentityStore(s).keys(tenant);
                if (!json) out.printf("%-12s  %-16s  %-16s  %-8s  %-5s  %-8s  %s%n", "ID", "TENANT", "NAME", "TIER", "ADMIN", "STATE", "MODELS");
                Instant now = Instant.now();
                for (IdentityStore.KeyRow k : keys) {
                    if (json) {
                        out.println(dev.sluice.server.gateway.auth.IdentityAdmin.key(k, null));
                        continue;
                    }
                    String state = k.revoked() ? "revoked" : k.expired(now) ? "expired" : "active";
                    out.printf("%-12s  %-16s  %-16s  %-8s  %-5s  %-8s  %s%n", k.prefix(), k.tenant(), k.name() == null ? "-" : k.name(), k.tier(),
                            k.admin() ? "yes" : "no", state, k.models().isEmpty() ? "*" : String.join(",", new java.util.TreeSet<>(k.models())));
                }
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = {"Revoke a key by its id (the public prefix, or the whole key).",
            "A running gateway refuses it within auth.keyCacheTtl (default 30 s); the admin API revokes at once on its node."})
    static final class Revoke implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @CommandLine.Mixin
        StoreOptions store;
        @Parameters(paramLabel = "ID", description = "The key's id (its 12-character prefix).")
        String id;

        @Override
        public Integer call() {
            ApiKeys.Parsed whole = ApiKeys.parse(id);
            String prefix = whole != null ? whole.prefix() : id;
            if (!ApiKeys.isPrefix(prefix)) throw new CommandLine.ParameterException(spec.commandLine(), "not a key id: expected the key's 12-character prefix");
            try (Store s = store.open()) {
                if (!new IdentityStore(s).revokeKey(prefix)) throw new CliException("no key with id " + prefix);
            }
            spec.commandLine().getOut().println("revoked " + prefix);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    static Instant parseExpiry(CommandLine.Model.CommandSpec spec, String s) {
        try {
            if (s.matches("\\d+[smhd]")) {
                long n = Long.parseLong(s.substring(0, s.length() - 1));
                Duration d = switch (s.charAt(s.length() - 1)) {
                    case 's' -> Duration.ofSeconds(n);
                    case 'm' -> Duration.ofMinutes(n);
                    case 'h' -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
                return Instant.now().plus(d);
            }
            if (s.startsWith("P") || s.startsWith("p")) return Instant.now().plus(Duration.parse(s));
            return Instant.parse(s);
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--expires: expected a duration (30d, 12h, PT1H) or an instant (2027-01-01T00:00:00Z), got " + s);
        }
    }
}
