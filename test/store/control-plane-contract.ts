// The store contract of migration 0002 (control plane), run by contract-suite.ts on every backend.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreError, type NewLedgerRecord, type Store } from '../../src/store/contract.js';
import { LEDGER_GENESIS_HASH } from '../../src/domain/ledger-genesis.js';

type WithStore = (body: (store: Store) => Promise<void>) => Promise<void>;

const T0 = 1_700_000_000_000;

function entry(over: Partial<NewLedgerRecord> = {}): NewLedgerRecord {
  return {
    atMs: T0,
    kind: 'deploy.started',
    app: 'mechanic',
    env: 'production',
    deployId: 'd1',
    responsible: 'alice',
    initiator: 'cli:alice',
    trigger: 'release',
    reason: null,
    emergency: false,
    data: { release: 'v2', nested: { n: 1, list: [1, 'two', null] } },
    ...over,
  };
}

/** A seal that is easy to check: the hash names its seq and the hash before it. */
const seal = (seq: number, prev: string) => `h${seq}<${prev.slice(0, 8)}`;

export function controlPlaneContract(withStore: WithStore): void {
  describe('ledger', () => {
    it('appends with gap-free seqs chained to the previous hash; lists by app/env/after/limit', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.ledgerHead(), { seq: 0, hash: LEDGER_GENESIS_HASH });
        const seen: [number, string][] = [];
        const first = await store.appendLedger(entry(), (seq, prev) => (seen.push([seq, prev]), seal(seq, prev)));
        assert.deepEqual(seen, [[1, LEDGER_GENESIS_HASH]]);
        assert.deepEqual(first, {
          ...entry(),
          seq: 1,
          prevHash: LEDGER_GENESIS_HASH,
          hash: seal(1, LEDGER_GENESIS_HASH),
        });
        const second = await store.appendLedger(
          entry({
            env: 'staging',
            kind: 'secrets.changed',
            deployId: null,
            emergency: true,
            reason: 'rotate',
            data: null,
          }),
          seal,
        );
        assert.equal(second.seq, 2);
        assert.equal(second.prevHash, first.hash);
        assert.equal(second.emergency, true);
        assert.equal(second.data, null);
        await store.appendLedger(entry({ app: 'other', env: null }), seal);
        assert.deepEqual(await store.ledgerHead(), { seq: 3, hash: seal(3, second.hash) });
        assert.deepEqual(
          (await store.listLedger()).map((e) => e.seq),
          [1, 2, 3],
        );
        assert.deepEqual(
          (await store.listLedger({ app: 'mechanic' })).map((e) => e.seq),
          [1, 2],
        );
        assert.deepEqual(
          (await store.listLedger({ env: 'staging' })).map((e) => e.seq),
          [2],
        );
        assert.deepEqual(
          (await store.listLedger({ afterSeq: 1, limit: 1 })).map((e) => e.seq),
          [2],
        );
        const third = (await store.listLedger({ app: 'other' }))[0]!;
        assert.equal(third.env, null);
        assert.equal(typeof third.atMs, 'number');
      }));

    it('concurrent appends form one chain: no seq twice, each entry chains from the one before', () =>
      withStore(async (store) => {
        await Promise.all(Array.from({ length: 25 }, (_, i) => store.appendLedger(entry({ reason: `r${i}` }), seal)));
        const all = await store.listLedger();
        assert.deepEqual(
          all.map((e) => e.seq),
          Array.from({ length: 25 }, (_, i) => i + 1),
        );
        let prev = LEDGER_GENESIS_HASH;
        for (const e of all) {
          assert.equal(e.prevHash, prev, `entry ${e.seq}`);
          assert.equal(e.hash, seal(e.seq, prev));
          prev = e.hash;
        }
        assert.equal(new Set(all.map((e) => e.reason)).size, 25);
      }));
  });

  describe('api tokens', () => {
    it('creates, gets by id, lists, touches and revokes; ids and hashes are unique', () =>
      withStore(async (store) => {
        const base = {
          name: 'alice',
          role: 'deployer',
          envs: ['staging'],
          automation: false,
          tokenHash: 'a'.repeat(64),
          createdAtMs: T0,
          createdBy: 'root',
        };
        const created = await store.createToken({ id: 'tok_1', ...base });
        assert.deepEqual(created, { id: 'tok_1', ...base, revokedAtMs: null, lastUsedAtMs: null });
        await store.createToken({
          id: 'tok_2',
          ...base,
          name: 'ci',
          role: 'admin',
          envs: null,
          automation: true,
          tokenHash: 'b'.repeat(64),
          createdAtMs: T0 + 1,
        });
        await assert.rejects(
          store.createToken({ id: 'tok_1', ...base, tokenHash: 'c'.repeat(64) }),
          (e: unknown) => e instanceof StoreError && e.kind === 'conflict',
        );
        await assert.rejects(
          store.createToken({ id: 'tok_3', ...base }),
          (e: unknown) => e instanceof StoreError && e.kind === 'conflict',
        );
        assert.deepEqual((await store.getToken('tok_2'))?.envs, null);
        assert.equal((await store.getToken('tok_2'))?.automation, true);
        assert.equal(await store.getToken('tok_9'), undefined);
        assert.deepEqual(
          (await store.listTokens()).map((t) => t.id),
          ['tok_1', 'tok_2'],
        );
        await store.touchToken('tok_1', T0 + 5);
        assert.equal((await store.getToken('tok_1'))?.lastUsedAtMs, T0 + 5);
        assert.equal(await store.revokeToken('tok_1', T0 + 6), true);
        assert.equal(await store.revokeToken('tok_1', T0 + 7), false);
        assert.equal(await store.revokeToken('tok_9', T0 + 7), false);
        assert.equal((await store.getToken('tok_1'))?.revokedAtMs, T0 + 6);
      }));
  });

  describe('webhook deliveries', () => {
    const delivery = (id: string, eventKey: string | null) => ({
      id,
      event: 'release',
      eventKey,
      status: 'queued' as const,
      receivedAtMs: T0,
      requests: [{ env: 'production' }],
    });

    it('records a delivery once: the same id, or the same event under another id, is a duplicate', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.recordDelivery(delivery('g-1', 'release:1')), { recorded: true });
        const again = await store.recordDelivery(delivery('g-1', 'release:1'));
        assert.equal(again.recorded, false);
        assert.equal(!again.recorded && again.existing.id, 'g-1');
        const sameEvent = await store.recordDelivery(delivery('g-2', 'release:1'));
        assert.equal(!sameEvent.recorded && sameEvent.existing.id, 'g-1');
        assert.equal(await store.getDelivery('g-2'), undefined);
        // No event key: only the id counts.
        assert.deepEqual(await store.recordDelivery(delivery('g-3', null)), { recorded: true });
        assert.deepEqual(await store.recordDelivery(delivery('g-4', null)), { recorded: true });
        assert.equal((await store.recordDelivery(delivery('g-4', null))).recorded, false);
        assert.deepEqual((await store.getDelivery('g-1'))?.requests, [{ env: 'production' }]);
      }));

    it('of concurrent recordings of one delivery exactly one wins; claims are exclusive; finishing stores the result', () =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.recordDelivery(delivery(i % 2 ? 'g-x' : `g-${i}`, 'push:main:abc')),
          ),
        );
        assert.equal(results.filter((r) => r.recorded).length, 1);
        const id = (await store.listDeliveries())[0]!.id;
        const claims = await Promise.all([store.claimDelivery(id, 'a'), store.claimDelivery(id, 'b')]);
        assert.deepEqual(claims.sort(), [false, true]);
        assert.equal((await store.getDelivery(id))?.status, 'processing');
        assert.deepEqual((await store.listDeliveries({ status: ['queued'] })).length, 0);
        await store.finishDelivery(id, 'done', { outcomes: [{ env: 'production', outcome: 'started' }] }, T0 + 9);
        const done = await store.getDelivery(id);
        assert.equal(done?.status, 'done');
        assert.equal(done?.finishedAtMs, T0 + 9);
        assert.deepEqual(done?.result, { outcomes: [{ env: 'production', outcome: 'started' }] });
        await assert.rejects(
          store.finishDelivery('nope', 'done', null, T0),
          (e: unknown) => e instanceof StoreError && e.kind === 'not_found',
        );
      }));
  });

  describe('secrets', () => {
    const set = (name: string, digest: string) => ({ name, ciphertext: `ct-${name}-${digest}`, digest });

    it('stages changes: versions per secret and per environment; equal digests are no change', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.getSecretsState('mechanic', 'production'), {
          app: 'mechanic',
          env: 'production',
          stagedVersion: 0,
          appliedVersion: null,
          appliedDeployId: null,
          appliedAtMs: null,
          keyFingerprint: null,
        });
        const r1 = await store.changeSecrets(
          'mechanic',
          'production',
          { set: [set('B', 'd1'), set('A', 'd1')], unset: [] },
          'alice',
          T0,
        );
        assert.deepEqual(r1, { version: 1, changed: ['B', 'A'] });
        const r2 = await store.changeSecrets(
          'mechanic',
          'production',
          { set: [set('A', 'd1'), set('B', 'd2')], unset: ['NOPE'] },
          'bob',
          T0 + 1,
        );
        assert.deepEqual(r2, { version: 2, changed: ['B'] });
        const same = await store.changeSecrets(
          'mechanic',
          'production',
          { set: [set('A', 'd1')], unset: [] },
          'bob',
          T0 + 2,
        );
        assert.deepEqual(same, { version: 2, changed: [] });
        const list = await store.listSecrets('mechanic', 'production');
        assert.deepEqual(
          list.map((s) => [s.name, s.version, s.digest, s.updatedBy]),
          [
            ['A', 1, 'd1', 'alice'],
            ['B', 2, 'd2', 'bob'],
          ],
        );
        assert.equal(list[1]!.ciphertext, 'ct-B-d2');
        const r3 = await store.changeSecrets('mechanic', 'production', { set: [], unset: ['A'] }, 'carol', T0 + 3);
        assert.deepEqual(r3, { version: 3, changed: ['A'] });
        assert.deepEqual(
          (await store.listSecrets('mechanic', 'production')).map((s) => s.name),
          ['B'],
        );
        assert.deepEqual(await store.listSecrets('mechanic', 'staging'), []);
        assert.equal((await store.getSecretsState('mechanic', 'production')).stagedVersion, 3);
      }));

    it('marks a version applied; an older version never replaces a newer one', () =>
      withStore(async (store) => {
        await store.changeSecrets('mechanic', 'production', { set: [set('A', 'd1')], unset: [] }, 'alice', T0);
        await store.changeSecrets('mechanic', 'production', { set: [set('A', 'd2')], unset: [] }, 'alice', T0);
        await store.markSecretsApplied('mechanic', 'production', 2, 'dep_b', T0 + 5);
        await store.markSecretsApplied('mechanic', 'production', 1, 'dep_a', T0 + 6);
        assert.deepEqual(await store.getSecretsState('mechanic', 'production'), {
          app: 'mechanic',
          env: 'production',
          stagedVersion: 2,
          appliedVersion: 2,
          appliedDeployId: 'dep_b',
          appliedAtMs: T0 + 5,
          keyFingerprint: null,
        });
      }));

    it('keeps the key fingerprint of the first change; a change under another key is refused and writes nothing', () =>
      withStore(async (store) => {
        await store.changeSecrets(
          'mechanic',
          'production',
          { set: [set('A', 'd1')], unset: [] },
          'alice',
          T0,
          'key:aaaa',
        );
        assert.equal((await store.getSecretsState('mechanic', 'production')).keyFingerprint, 'key:aaaa');
        await assert.rejects(
          store.changeSecrets(
            'mechanic',
            'production',
            { set: [set('A', 'd2'), set('B', 'd1')], unset: [] },
            'mallory',
            T0 + 1,
            'key:bbbb',
          ),
          (e: unknown) => e instanceof StoreError && e.kind === 'conflict' && /another key/.test(e.message),
        );
        assert.deepEqual(
          (await store.listSecrets('mechanic', 'production')).map((s) => [s.name, s.digest]),
          [['A', 'd1']],
        );
        assert.equal((await store.getSecretsState('mechanic', 'production')).stagedVersion, 1);
        assert.equal(
          (
            await store.changeSecrets(
              'mechanic',
              'production',
              { set: [set('B', 'd1')], unset: [] },
              'alice',
              T0 + 2,
              'key:aaaa',
            )
          ).version,
          2,
        );
      }));

    it('concurrent changes of one environment each get their own version', () =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            store.changeSecrets('mechanic', 'production', { set: [set(`S${i}`, 'd')], unset: [] }, 'alice', T0),
          ),
        );
        assert.deepEqual(
          results.map((r) => r.version).sort((a, b) => a - b),
          [1, 2, 3, 4, 5, 6],
        );
      }));
  });

  describe('dashboard sessions', () => {
    it('are created, read, ended one by one (sign-out) or all of a token at once (revocation)', () =>
      withStore(async (store) => {
        await store.createSession({ idHash: 'h1', tokenId: 'tok_a', createdAtMs: T0, expiresAtMs: T0 + 1000 });
        await store.createSession({ idHash: 'h2', tokenId: 'tok_a', createdAtMs: T0, expiresAtMs: T0 + 1000 });
        await store.createSession({ idHash: 'h3', tokenId: 'tok_b', createdAtMs: T0, expiresAtMs: T0 + 1000 });
        assert.deepEqual(await store.getSession('h1'), {
          idHash: 'h1',
          tokenId: 'tok_a',
          createdAtMs: T0,
          expiresAtMs: T0 + 1000,
          endedAtMs: null,
        });
        assert.equal(await store.getSession('nope'), undefined);
        assert.equal(await store.endSession('h1', T0 + 5), true);
        assert.equal(await store.endSession('h1', T0 + 6), false);
        assert.equal((await store.getSession('h1'))?.endedAtMs, T0 + 5);
        assert.equal(await store.endSessionsOfToken('tok_a', T0 + 7), 1);
        assert.equal((await store.getSession('h2'))?.endedAtMs, T0 + 7);
        assert.equal((await store.getSession('h3'))?.endedAtMs, null);
      }));
  });

  describe('deploy emergency flag and secrets version', () => {
    it('round-trip; absent when not set', () =>
      withStore(async (store) => {
        const base = {
          app: 'mechanic',
          env: 'staging',
          release: 'v2',
          previousRelease: 'v1',
          strategy: 'rolling' as const,
          initiator: 'cli:alice',
          responsible: 'alice',
          trigger: 'cli',
          reason: 'outage',
          plan: null,
          createdAtMs: T0,
        };
        const flagged = await store.createDeploy({ id: 'e1', ...base, emergency: true, secretsVersion: 4 });
        assert.equal(flagged.emergency, true);
        assert.equal(flagged.secretsVersion, 4);
        const plain = await store.createDeploy({ id: 'e2', ...base });
        assert.equal('emergency' in plain, false);
        assert.equal('secretsVersion' in plain, false);
        assert.equal((await store.getDeploy('e1'))?.emergency, true);
      }));
  });
}
