// Secret values at rest: AES-256-GCM (random IV per value, bound to its app/env/name), keyed
// digests, the key from RUNWAY_SECRET_KEY or a file, staged changes recorded in the ledger by name.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RealClock } from '../../src/domain/clock.js';
import { verifyLedger } from '../../src/ledger/ledger.js';
import {
  decryptSecret,
  encryptSecret,
  keyFingerprint,
  SecretDecryptError,
  secretDigest,
  secretPlace,
} from '../../src/secrets/crypto.js';
import { loadSecretKey, SecretKeyError } from '../../src/secrets/key.js';
import { changeSecrets, listSecrets, SecretInputError, secretsForEnvironment } from '../../src/secrets/secrets.js';
import { openStore } from '../../src/store/open-store.js';

const KEY = Buffer.alloc(32, 1);
const OTHER = Buffer.alloc(32, 2);
const VALUE = 'postgres://app:hunter2-7f3a@db.internal/shop';
const place = secretPlace('shop', 'production', 'DATABASE_URL');

describe('secret encryption', () => {
  it('round-trips; a fresh IV each time, so equal values never share a ciphertext', () => {
    const a = encryptSecret(KEY, place, VALUE);
    const b = encryptSecret(KEY, place, VALUE);
    assert.notEqual(a, b);
    assert.match(a, /^v1:[A-Za-z0-9+/]+=*$/);
    assert.equal(a.includes(VALUE), false);
    assert.equal(Buffer.from(a.slice(3), 'base64').includes(Buffer.from('hunter2')), false);
    assert.equal(decryptSecret(KEY, place, a), VALUE);
    assert.equal(decryptSecret(KEY, place, b), VALUE);
    assert.equal(decryptSecret(KEY, place, encryptSecret(KEY, place, '')), '');
  });

  it('a wrong key, another place (moved ciphertext) or a flipped bit fails without showing the value', () => {
    const ct = encryptSecret(KEY, place, VALUE);
    const flipped = Buffer.from(ct.slice(3), 'base64');
    flipped[flipped.length - 1]! ^= 1;
    for (const attempt of [
      () => decryptSecret(OTHER, place, ct),
      () => decryptSecret(KEY, secretPlace('shop', 'staging', 'DATABASE_URL'), ct),
      () => decryptSecret(KEY, place, `v1:${flipped.toString('base64')}`),
      () => decryptSecret(KEY, place, 'v0:abc'),
    ]) {
      assert.throws(
        attempt,
        (e: unknown) =>
          e instanceof SecretDecryptError &&
          !e.message.includes(VALUE) &&
          /shop\/(production|staging)\/DATABASE_URL/.test(e.message),
      );
    }
  });

  it('digests are equal for equal values at one place, differ by value, place and key', () => {
    const d = secretDigest(KEY, place, VALUE);
    assert.match(d, /^hmac-sha256:[0-9a-f]{16}$/);
    assert.equal(secretDigest(KEY, place, VALUE), d);
    assert.notEqual(secretDigest(KEY, place, VALUE + 'x'), d);
    assert.notEqual(secretDigest(KEY, secretPlace('shop', 'staging', 'DATABASE_URL'), VALUE), d);
    assert.notEqual(secretDigest(OTHER, place, VALUE), d);
  });
});

describe('the secret key', () => {
  it('reads base64 or hex from RUNWAY_SECRET_KEY', () => {
    assert.deepEqual(loadSecretKey({ env: { RUNWAY_SECRET_KEY: KEY.toString('base64') } }), KEY);
    assert.deepEqual(loadSecretKey({ env: { RUNWAY_SECRET_KEY: KEY.toString('hex') } }), KEY);
    assert.deepEqual(loadSecretKey({ env: { RUNWAY_SECRET_KEY: ` ${KEY.toString('base64url')}\n` } }), KEY);
  });

  it('missing: a clear error saying how to make one', () => {
    assert.throws(
      () => loadSecretKey({ env: {} }),
      (e: unknown) =>
        e instanceof SecretKeyError && /no secret key: set RUNWAY_SECRET_KEY .*openssl rand -base64 32/.test(e.message),
    );
  });

  it('the wrong size is refused without echoing it', () => {
    const short = Buffer.alloc(16, 9).toString('base64');
    assert.throws(
      () => loadSecretKey({ env: { RUNWAY_SECRET_KEY: short } }),
      (e: unknown) => e instanceof SecretKeyError && !e.message.includes(short) && /not a 32-byte key/.test(e.message),
    );
    assert.throws(
      () => loadSecretKey({ env: { RUNWAY_SECRET_KEY: 'correct horse battery staple' } }),
      /not a 32-byte key/,
    );
  });

  it('from a key file ($RUNWAY_SECRET_KEY_FILE or [secrets] key_file); the variable wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-key-'));
    try {
      const file = join(dir, 'runway.key');
      writeFileSync(file, KEY.toString('base64') + '\n', { mode: 0o600 });
      assert.deepEqual(loadSecretKey({ env: {}, keyFile: file }), KEY);
      assert.deepEqual(loadSecretKey({ env: { RUNWAY_SECRET_KEY_FILE: file }, keyFile: '/nope' }), KEY);
      assert.deepEqual(loadSecretKey({ env: { RUNWAY_SECRET_KEY: OTHER.toString('hex') }, keyFile: file }), OTHER);
      assert.throws(() => loadSecretKey({ env: {}, keyFile: join(dir, 'missing.key') }), /missing\.key: not found/);
      // Readable by others: refused, saying how to fix it, the key never echoed.
      chmodSync(file, 0o644);
      assert.throws(
        () => loadSecretKey({ env: {}, keyFile: file }),
        (e: unknown) =>
          e instanceof SecretKeyError &&
          /readable by others \(mode 0644\).*chmod 600/.test(e.message) &&
          !e.message.includes(KEY.toString('base64')),
      );
      chmodSync(file, 0o640);
      assert.throws(() => loadSecretKey({ env: {}, keyFile: file }), /readable by its group \(mode 0640\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('secrets of an environment', () => {
  it('a change under another key is refused before anything is written (the key fingerprint is kept with the secrets)', async () => {
    const store = await openStore(':memory:', os.tmpdir());
    const clock = new RealClock();
    try {
      const base = { app: 'shop', env: 'production', by: 'alice', initiator: 'cli:alice', trigger: 'cli' };
      await changeSecrets(store, KEY, clock, { ...base, set: { API_KEY: 'k-1' } });
      assert.equal((await store.getSecretsState('shop', 'production')).keyFingerprint, keyFingerprint(KEY));
      await assert.rejects(
        changeSecrets(store, OTHER, clock, { ...base, by: 'mallory', set: { API_KEY: 'k-2', NEW: 'n' } }),
        (e: unknown) =>
          e instanceof SecretKeyError &&
          /encrypted with another key/.test(e.message) &&
          /nothing was changed/.test(e.message),
      );
      assert.deepEqual(await secretsForEnvironment(store, 'shop', 'production', KEY), { API_KEY: 'k-1' });
      assert.equal((await store.getSecretsState('shop', 'production')).stagedVersion, 1);
      assert.deepEqual(
        (await store.listLedger()).map((e) => e.responsible),
        ['alice'],
      );
      // Secrets set before fingerprints were kept: the key must still open them.
      await store.changeSecrets(
        'shop',
        'staging',
        {
          set: [
            { name: 'OLD', ciphertext: encryptSecret(KEY, secretPlace('shop', 'staging', 'OLD'), 'o'), digest: 'd' },
          ],
          unset: [],
        },
        'alice',
        1,
      );
      await assert.rejects(
        changeSecrets(store, OTHER, clock, { ...base, env: 'staging', set: { X: 'x' } }),
        SecretKeyError,
      );
      assert.deepEqual(
        (await store.listSecrets('shop', 'staging')).map((r) => r.name),
        ['OLD'],
      );
      await changeSecrets(store, KEY, clock, { ...base, env: 'staging', set: { X: 'x' } });
      assert.equal((await store.getSecretsState('shop', 'staging')).keyFingerprint, keyFingerprint(KEY));
    } finally {
      await store.close();
    }
  });

  it('stages changes, lists names/versions/digests only, decrypts for providers, ledgers names and digests', async () => {
    const store = await openStore(':memory:', os.tmpdir());
    const clock = new RealClock();
    try {
      const base = { app: 'shop', env: 'production', by: 'alice', initiator: 'cli:alice', trigger: 'cli' };
      const r1 = await changeSecrets(store, KEY, clock, { ...base, set: { DATABASE_URL: VALUE, API_KEY: 'k-1' } });
      assert.deepEqual(r1, { version: 1, changed: ['DATABASE_URL', 'API_KEY'] });
      const same = await changeSecrets(store, KEY, clock, { ...base, set: { DATABASE_URL: VALUE } });
      assert.deepEqual(same, { version: 1, changed: [] });
      const r2 = await changeSecrets(store, KEY, clock, {
        ...base,
        by: 'bob',
        set: { API_KEY: 'k-2' },
        unset: ['DATABASE_URL'],
        reason: 'rotate',
      });
      assert.deepEqual(r2, { version: 2, changed: ['API_KEY', 'DATABASE_URL'] });

      const listing = await listSecrets(store, 'shop', 'production');
      assert.equal(listing.stagedVersion, 2);
      assert.equal(listing.appliedVersion, null);
      assert.equal(listing.pending, true);
      assert.deepEqual(
        listing.secrets.map((s) => [s.name, s.version, s.updatedBy]),
        [['API_KEY', 2, 'bob']],
      );
      assert.equal(JSON.stringify(listing).includes('k-2'), false);
      assert.deepEqual(await secretsForEnvironment(store, 'shop', 'production', KEY), { API_KEY: 'k-2' });
      await assert.rejects(secretsForEnvironment(store, 'shop', 'production', OTHER), SecretDecryptError);

      const ledger = await store.listLedger();
      assert.deepEqual(
        ledger.map((e) => [e.kind, e.responsible, e.reason]),
        [
          ['secrets.changed', 'alice', null],
          ['secrets.changed', 'bob', 'rotate'],
        ],
      );
      assert.deepEqual(ledger[1]!.data, {
        version: 2,
        set: [{ name: 'API_KEY', digest: secretDigest(KEY, secretPlace('shop', 'production', 'API_KEY'), 'k-2') }],
        unset: ['DATABASE_URL'],
      });
      const text = JSON.stringify(ledger);
      assert.equal(text.includes(VALUE) || text.includes('k-1') || text.includes('k-2'), false);
      assert.equal((await verifyLedger(store)).ok, true);
    } finally {
      await store.close();
    }
  });

  it('refuses bad names, empty changes, set-and-unset, oversize values — naming the secret, never the value', async () => {
    const store = await openStore(':memory:', os.tmpdir());
    const clock = new RealClock();
    try {
      const base = { app: 'shop', env: 'production', by: 'alice', initiator: 'cli:alice', trigger: 'cli' };
      const refused = async (request: Parameters<typeof changeSecrets>[3], pattern: RegExp) =>
        assert.rejects(
          changeSecrets(store, KEY, clock, request),
          (e: unknown) =>
            e instanceof SecretInputError && pattern.test(e.message) && !e.message.includes('s3cr3t-value'),
        );
      await refused({ ...base, set: { '1BAD': 's3cr3t-value' } }, /bad secret name "1BAD"/);
      await refused({ ...base, set: { 'A-B': 's3cr3t-value' } }, /bad secret name/);
      await refused({ ...base }, /nothing to change/);
      await refused({ ...base, set: { A: 's3cr3t-value' }, unset: ['A'] }, /both set and unset: A/);
      await refused(
        { ...base, set: { BIG: 's3cr3t-value'.repeat(6000) } },
        /secret BIG: the value is longer than 65536 bytes/,
      );
      assert.deepEqual(await store.listSecrets('shop', 'production'), []);
      assert.deepEqual(await store.listLedger(), []);
    } finally {
      await store.close();
    }
  });
});

describe('when a deploy applies the secrets it carries', () => {
  const plan = (...steps: { kind: string; machineId?: string }[]) => ({ waves: [{ steps }] });
  it('only when its plan replaced (updated or created) every machine', async () => {
    const { deployReplacedFleet } = await import('../../src/domain/fleet-replaced.js');
    assert.equal(deployReplacedFleet(plan(), 4), false);
    assert.equal(deployReplacedFleet({ waves: [] }, 4), false);
    assert.equal(deployReplacedFleet(null, 4), false);
    assert.equal(
      deployReplacedFleet(
        plan(
          { kind: 'update', machineId: 'a' },
          { kind: 'update', machineId: 'b' },
          { kind: 'update', machineId: 'c' },
        ),
        4,
      ),
      false,
    );
    assert.equal(
      deployReplacedFleet(plan(...['a', 'b', 'c', 'd'].map((m) => ({ kind: 'update', machineId: m }))), 4),
      true,
    );
    assert.equal(
      deployReplacedFleet(
        plan(
          { kind: 'create' },
          { kind: 'create' },
          { kind: 'cutover' },
          { kind: 'destroy', machineId: 'a' },
          { kind: 'destroy', machineId: 'b' },
        ),
        2,
      ),
      true,
    );
    assert.equal(
      deployReplacedFleet(plan({ kind: 'update', machineId: 'a' }, { kind: 'update', machineId: 'a' }), 2),
      false,
    );
  });
});
