// The hash the ledger's first entry chains from. Here, not in the ledger or the store, because both
// need it (the store's migration seeds the ledger's head with it) and neither may depend on the other's insides.

/** Hash the first ledger entry chains from (64 zeros). */
export const LEDGER_GENESIS_HASH = '0'.repeat(64);
