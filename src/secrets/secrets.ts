// Secrets of an environment ("Manual secrets"): names and encrypted values in the store.
//
// Staging semantics: every change (set or unset, by CLI or API) is staged at once — it bumps the
// environment's staged version and is recorded in the ledger — but machines see it only when a
// deploy carries it: each deploy records the staged version it starts with (deploy.secretsVersion),
// providers read the values with `secretsForEnvironment` when they create or update machines, and
// when the deploy succeeds having replaced every machine (updated or created it), that version
// becomes the environment's applied version. `secrets list` shows both, so "staged 4, applied 3"
// means a change is waiting for a deploy. A deploy of the release that already runs everywhere
// replaces no machine (plans are keyed by release), so it does not apply secrets.
//
// Values never leave this module except from `secretsForEnvironment` (for providers): lists show
// names, per-secret versions and keyed digests; errors and ledger entries name secrets, never values.

import type { Clock } from '../domain/clock.js';
import { StoreError, type Store } from '../store/contract.js';
import { appendLedger } from '../ledger/ledger.js';
import { decryptSecret, encryptSecret, keyFingerprint, secretDigest, secretPlace } from './crypto.js';
import { SecretKeyError } from './key.js';
import { controlCharacter } from '../domain/free-text.js';

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

export class SecretInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretInputError';
  }
}

export interface SecretsChangeRequest {
  app: string;
  env: string;
  set?: Record<string, string>;
  unset?: string[];
  /** Responsible party (the human who changes them). */
  by: string;
  initiator: string;
  trigger: string;
  reason?: string | null;
}

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new SecretInputError(
      `bad secret name ${JSON.stringify(name.slice(0, 130))}: use letters, digits and "_", not starting with a digit (at most 128)`,
    );
  }
}

export async function changeSecrets(
  store: Store,
  key: Buffer,
  clock: Clock,
  request: SecretsChangeRequest,
): Promise<{ version: number; changed: string[] }> {
  const set = Object.entries(request.set ?? {});
  const unset = request.unset ?? [];
  if (set.length === 0 && unset.length === 0)
    throw new SecretInputError('nothing to change: name at least one secret to set or unset');
  for (const [name, value] of set) {
    checkSecretName(name);
    if (typeof value !== 'string') throw new SecretInputError(`secret ${name}: the value must be a string`);
    if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES)
      throw new SecretInputError(`secret ${name}: the value is longer than ${MAX_SECRET_BYTES} bytes`);
  }
  for (const name of unset) checkSecretName(name);
  const control = request.reason ? controlCharacter(request.reason) : undefined;
  if (control)
    throw new SecretInputError(`reason contains a control character (${control}); use plain text on one line`);
  const both = set.map(([n]) => n).filter((n) => unset.includes(n));
  if (both.length) throw new SecretInputError(`secrets both set and unset: ${both.join(', ')}`);
  const change = {
    set: set.map(([name, value]) => {
      const place = secretPlace(request.app, request.env, name);
      return { name, ciphertext: encryptSecret(key, place, value), digest: secretDigest(key, place, value) };
    }),
    unset,
  };
  const atMs = clock.now();
  const fingerprint = keyFingerprint(key);
  // Secrets set before fingerprints were kept: the key must still open them.
  const state = await store.getSecretsState(request.app, request.env);
  if (state.keyFingerprint === null) {
    const [first] = await store.listSecrets(request.app, request.env);
    if (first) {
      try {
        decryptSecret(key, secretPlace(request.app, request.env, first.name), first.ciphertext);
      } catch {
        throw new SecretKeyError(
          `the secrets of ${request.app}/${request.env} are encrypted with another key than this one; use the key they were set with (nothing was changed)`,
        );
      }
    }
  }
  let result: { version: number; changed: string[] };
  try {
    result = await store.changeSecrets(request.app, request.env, change, request.by, atMs, fingerprint);
  } catch (err) {
    if (err instanceof StoreError && err.kind === 'conflict')
      throw new SecretKeyError(`${err.message} (nothing was changed)`);
    throw err;
  }
  if (result.changed.length > 0) {
    const changedSet = change.set.filter((s) => result.changed.includes(s.name));
    await appendLedger(store, clock, {
      kind: 'secrets.changed',
      app: request.app,
      env: request.env,
      responsible: request.by,
      initiator: request.initiator,
      trigger: request.trigger,
      reason: request.reason ?? null,
      atMs,
      data: {
        version: result.version,
        set: changedSet.map((s) => ({ name: s.name, digest: s.digest })),
        unset: unset.filter((n) => result.changed.includes(n)),
      },
    });
  }
  return result;
}

export interface SecretListing {
  app: string;
  env: string;
  stagedVersion: number;
  appliedVersion: number | null;
  appliedDeployId: string | null;
  /** True when a change is waiting for the next deploy. */
  pending: boolean;
  secrets: { name: string; version: number; digest: string; updatedAtMs: number; updatedBy: string }[];
}

/** Names, versions and digests; never values (no key needed). */
export async function listSecrets(store: Store, app: string, env: string): Promise<SecretListing> {
  const [rows, state] = await Promise.all([store.listSecrets(app, env), store.getSecretsState(app, env)]);
  return {
    app,
    env,
    stagedVersion: state.stagedVersion,
    appliedVersion: state.appliedVersion,
    appliedDeployId: state.appliedDeployId,
    pending: state.stagedVersion > 0 && state.stagedVersion !== (state.appliedVersion ?? 0),
    secrets: rows.map((r) => ({
      name: r.name,
      version: r.version,
      digest: r.digest,
      updatedAtMs: r.updatedAtMs,
      updatedBy: r.updatedBy,
    })),
  };
}

/** The decrypted values of an environment's staged secrets, by name: for providers to hand to machines. */
export async function secretsForEnvironment(
  store: Store,
  app: string,
  env: string,
  key: Buffer,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const row of await store.listSecrets(app, env)) {
    out[row.name] = decryptSecret(key, secretPlace(app, env, row.name), row.ciphertext, `${app}/${env}/${row.name}`);
  }
  return out;
}

export { deployReplacedFleet } from '../domain/fleet-replaced.js';
