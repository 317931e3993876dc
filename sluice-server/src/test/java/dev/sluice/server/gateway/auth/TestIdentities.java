package dev.sluice.server.gateway.auth;

import dev.sluice.server.store.Store;
import dev.sluice.server.store.StoreConfig;

/** Test fixture: a store at {@code url} with tenant "acme" and an app key, and an operator (admin) key in "default". */
public final class TestIdentities {
    /** The acme app key, its id (prefix), and the operator's admin key. */
    public record Keys(String acmeKey, String acmeKeyId, String operatorKey) {}

    private TestIdentities() {}

    public static Keys acmeAndOperator(String url) {
        try (Store s = Store.open(new StoreConfig(url, null, null, 2, null))) {
            IdentityStore ids = new IdentityStore(s);
            ids.createTenant("acme", "Acme");
            try {
                ids.createTenant("default", "operator");
            } catch (RuntimeException exists) {
                // the schema may create the operator's tenant itself
            }
            IdentityStore.Created acme = ids.createKey(new IdentityStore.KeySpec("acme", null, null, "app", null, null, false, null));
            String operator = ids.createKey(new IdentityStore.KeySpec("default", null, null, "ops", null, null, true, null)).key();
            return new Keys(acme.key(), acme.row().prefix(), operator);
        }
    }
}
