// The one store contract suite (src/store/contract.ts). Every backend runs it:
//   runStoreContract('sqlite file', async () => { ...; return { store, cleanup } });
// Each test gets a fresh, migrated, empty store from makeStore and cleans it up afterwards.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreError, type NewDeploy, type Store, type StoredMachineEvent } from '../../src/store/contract.js';
import type { Release } from '../../src/domain/types.js';
import { controlPlaneContract } from './control-plane-contract.js';
import { outboxContract } from './outbox-contract.js';

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

function newDeploy(id: string, overrides: Partial<NewDeploy> = {}): NewDeploy {
  return {
    id,
    app: 'mechanic',
    env: 'production',
    release: 'v2',
    previousRelease: 'v1',
    strategy: 'rolling',
    initiator: 'alice',
    responsible: 'alice',
    trigger: 'cli',
    reason: null,
    plan: null,
    createdAtMs: T0,
    ...overrides,
  };
}

function release(version: string, createdAtMs: number, overrides: Partial<Release> = {}): Release {
  return { version, image: `registry.fly.io/mechanic:${version}`, createdAtMs, ...overrides };
}

async function rejectsWith(promise: Promise<unknown>, kind: StoreError['kind']): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    return true;
  });
}

export function runStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  /** Run `body` with a fresh store, always cleaning up. */
  async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
    const fixture = await makeStore();
    try {
      await body(fixture.store);
    } finally {
      await fixture.cleanup();
    }
  }

  describe(`store contract: ${name}`, () => {
    it('migrations are idempotent', () =>
      withStore(async (store) => {
        await store.migrate();
        await store.migrate();
        await store.createRelease('mechanic', release('v1', T0));
        await store.migrate();
        assert.equal((await store.listReleases('mechanic')).length, 1);
      }));

    describe('releases', () => {
      it('creates, gets and lists newest first', () =>
        withStore(async (store) => {
          const v1 = release('v1', T0, { configDigest: 'sha256:aaa', notes: 'first' });
          const v2 = release('v2', T0 + 1000);
          const v3 = release('v3', T0 + 2000, { notes: 'third' });
          await store.createRelease('mechanic', v2);
          await store.createRelease('mechanic', v1);
          await store.createRelease('mechanic', v3);
          await store.createRelease('other', release('v9', T0));
          assert.deepEqual(await store.getRelease('mechanic', 'v1'), v1);
          assert.deepEqual(await store.getRelease('mechanic', 'v2'), v2);
          assert.equal(await store.getRelease('mechanic', 'v9'), undefined);
          assert.equal(await store.getRelease('nope', 'v1'), undefined);
          assert.deepEqual(await store.listReleases('mechanic'), [v3, v2, v1]);
          assert.deepEqual(await store.listReleases('nope'), []);
        }));

      it('lists releases created in the same millisecond newest first', () =>
        withStore(async (store) => {
          for (const v of ['a', 'b', 'c']) await store.createRelease('mechanic', release(v, T0));
          assert.deepEqual(
            (await store.listReleases('mechanic')).map((r) => r.version),
            ['c', 'b', 'a'],
          );
        }));

      it('same content again is a no-op; other content is a conflict', () =>
        withStore(async (store) => {
          const v1 = release('v1', T0, { configDigest: 'sha256:aaa' });
          await store.createRelease('mechanic', v1);
          await store.createRelease('mechanic', { ...v1 });
          await rejectsWith(
            store.createRelease('mechanic', { ...v1, image: 'registry.fly.io/mechanic:other' }),
            'conflict',
          );
          await rejectsWith(store.createRelease('mechanic', { ...v1, configDigest: 'sha256:bbb' }), 'conflict');
          // The same version of another app is another release.
          await store.createRelease('other', { ...v1, image: 'registry.fly.io/other:v1' });
          assert.deepEqual(await store.listReleases('mechanic'), [v1]);
        }));
    });

    describe('deploys', () => {
      it('creates with defaults and gets', () =>
        withStore(async (store) => {
          const created = await store.createDeploy(newDeploy('d1', { reason: 'hotfix' }));
          const expected = {
            ...newDeploy('d1', { reason: 'hotfix' }),
            status: 'pending',
            summary: null,
            error: null,
            startedAtMs: null,
            dispatchedAtMs: null,
            convergedAtMs: null,
            finishedAtMs: null,
            owner: null,
            heartbeatAtMs: null,
            abortRequestedAtMs: null,
            abortRequestedBy: null,
          };
          assert.deepEqual(created, expected);
          assert.deepEqual(await store.getDeploy('d1'), expected);
          assert.equal(await store.getDeploy('nope'), undefined);
        }));

      it('takes status and owner at creation; a duplicate id is a conflict', () =>
        withStore(async (store) => {
          const created = await store.createDeploy(newDeploy('d1', { status: 'running', owner: 'host-a:123' }));
          assert.equal(created.status, 'running');
          assert.equal(created.owner, 'host-a:123');
          await rejectsWith(store.createDeploy(newDeploy('d1')), 'conflict');
        }));

      it('lists newest first with app/env/status/limit filters', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1', { createdAtMs: T0 + 1, status: 'succeeded' }));
          await store.createDeploy(newDeploy('d2', { createdAtMs: T0 + 2, env: 'staging', status: 'failed' }));
          await store.createDeploy(newDeploy('d3', { createdAtMs: T0 + 3, status: 'running' }));
          await store.createDeploy(newDeploy('d4', { createdAtMs: T0 + 4, app: 'other' }));
          // Same millisecond as d4: insertion order breaks the tie.
          await store.createDeploy(newDeploy('d5', { createdAtMs: T0 + 4, status: 'running' }));
          const ids = async (query?: Parameters<Store['listDeploys']>[0]) =>
            (await store.listDeploys(query)).map((d) => d.id);
          assert.deepEqual(await ids(), ['d5', 'd4', 'd3', 'd2', 'd1']);
          assert.deepEqual(await ids({}), ['d5', 'd4', 'd3', 'd2', 'd1']);
          assert.deepEqual(await ids({ app: 'mechanic' }), ['d5', 'd3', 'd2', 'd1']);
          assert.deepEqual(await ids({ app: 'mechanic', env: 'production' }), ['d5', 'd3', 'd1']);
          assert.deepEqual(await ids({ env: 'staging' }), ['d2']);
          assert.deepEqual(await ids({ status: ['running'] }), ['d5', 'd3']);
          assert.deepEqual(await ids({ status: ['failed', 'succeeded'] }), ['d2', 'd1']);
          assert.deepEqual(await ids({ app: 'mechanic', status: ['running', 'pending'], limit: 1 }), ['d5']);
          assert.deepEqual(await ids({ limit: 2 }), ['d5', 'd4']);
          assert.deepEqual(await ids({ app: 'nope' }), []);
        }));

      it('updates with a patch that round-trips plan and summary JSON', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          const plan = {
            deployId: 'd1',
            waves: [
              { index: 0, kind: 'spearhead', steps: [{ kind: 'update', machineId: 'm1', to: 'v2', cordon: false }] },
            ],
            estimate: { apiCalls: { update: 3 }, apiCallsTotal: 3 },
            notes: ['ünïcode ✓', 'quote " and \\ backslash'],
          };
          const summary = {
            converged: 3,
            stragglers: [],
            durationMs: 12_345,
            ratio: 0.5,
            nested: { ok: true, none: null },
          };
          const afterStart = await store.updateDeploy('d1', {
            status: 'running',
            plan,
            startedAtMs: T0 + 10,
            owner: 'host-a:1',
            heartbeatAtMs: T0 + 10,
          });
          assert.equal(afterStart.status, 'running');
          assert.equal(afterStart.startedAtMs, T0 + 10);
          // It answers the deploy's head: reading the plan back (megabytes at 50,000 machines) is getDeploy's.
          assert.ok(!('plan' in afterStart) && !('summary' in afterStart));
          assert.deepEqual((await store.getDeploy('d1'))?.plan, plan);
          const done = await store.updateDeploy('d1', {
            status: 'failed',
            summary,
            error: 'machine m1 failed checks',
            dispatchedAtMs: T0 + 20,
            convergedAtMs: T0 + 30,
            finishedAtMs: T0 + 40,
            previousRelease: 'v0',
          });
          const stored = await store.getDeploy('d1');
          assert.deepEqual(await store.getDeployHead('d1'), done);
          assert.deepEqual(stored?.plan, plan);
          assert.deepEqual(stored?.summary, summary);
          assert.equal(stored?.status, 'failed');
          assert.equal(stored?.error, 'machine m1 failed checks');
          assert.equal(stored?.owner, 'host-a:1');
          assert.equal(stored?.startedAtMs, T0 + 10);
          assert.equal(stored?.dispatchedAtMs, T0 + 20);
          assert.equal(stored?.convergedAtMs, T0 + 30);
          assert.equal(stored?.finishedAtMs, T0 + 40);
          assert.equal(stored?.previousRelease, 'v0');
          // Untouched fields stay; null clears; an empty patch changes nothing.
          const cleared = await store.updateDeploy('d1', { owner: null, error: null, summary: null });
          assert.equal(cleared.owner, null);
          assert.equal(cleared.error, null);
          assert.equal((await store.getDeploy('d1'))?.summary, null);
          assert.deepEqual((await store.getDeploy('d1'))?.plan, plan);
          assert.deepEqual(await store.updateDeploy('d1', {}), cleared);
          // A plan replaced, then cleared (it is kept apart from the deploy's row).
          const replanned = { ...plan, waves: [] };
          await store.updateDeploy('d1', { plan: replanned });
          assert.deepEqual((await store.getDeploy('d1'))?.plan, replanned);
          await store.updateDeploy('d1', { plan: null });
          assert.equal((await store.getDeploy('d1'))?.plan, null);
          assert.deepEqual(
            (await store.listDeploys()).map((d) => d.plan),
            [null],
          );
          await rejectsWith(store.updateDeploy('nope', { status: 'running' }), 'not_found');
          await rejectsWith(store.updateDeploy('nope', { plan }), 'not_found');
        }));

      it('requestAbort: only for known, unfinished deploys; the first request is kept', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('pending'));
          await store.createDeploy(newDeploy('running', { status: 'running' }));
          await store.createDeploy(newDeploy('finished', { status: 'succeeded' }));
          assert.equal(await store.requestAbort('running', 'bob', T0 + 5), true);
          assert.equal(await store.requestAbort('pending', 'bob', T0 + 5), true);
          assert.equal(await store.requestAbort('finished', 'bob', T0 + 5), false);
          assert.equal(await store.requestAbort('unknown', 'bob', T0 + 5), false);
          const running = await store.getDeploy('running');
          assert.equal(running?.abortRequestedAtMs, T0 + 5);
          assert.equal(running?.abortRequestedBy, 'bob');
          assert.equal(running?.status, 'running', 'a request does not change the status');
          const finished = await store.getDeploy('finished');
          assert.equal(finished?.abortRequestedAtMs, null);
          assert.equal(finished?.abortRequestedBy, null);
          assert.equal(await store.requestAbort('running', 'carol', T0 + 9), true);
          const again = await store.getDeploy('running');
          assert.equal(again?.abortRequestedAtMs, T0 + 5);
          assert.equal(again?.abortRequestedBy, 'bob');
          for (const status of ['failed', 'aborted', 'rolled_back', 'halted'] as const) {
            await store.updateDeploy('pending', { status });
            assert.equal(await store.requestAbort('pending', 'bob', T0), false, status);
          }
        }));
    });

    describe('narrow deploy reads (dashboard)', () => {
      it('listDeployHeads and getDeployHead: as listDeploys and getDeploy, without plan and summary', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1', { plan: { waves: [] }, createdAtMs: T0 }));
          await store.createDeploy(newDeploy('d2', { env: 'staging', createdAtMs: T0 + 1, emergency: true }));
          await store.createDeploy(newDeploy('d3', { createdAtMs: T0 + 2, status: 'running' }));
          await store.updateDeploy('d1', { status: 'succeeded', summary: { machines: { stragglers: 1 } } });
          const all = await store.listDeployHeads({ app: 'mechanic' });
          assert.deepEqual(
            all.map((d) => d.id),
            ['d3', 'd2', 'd1'],
          );
          for (const d of all) {
            assert.equal('plan' in d, false);
            assert.equal('summary' in d, false);
          }
          const { plan: _p, summary: _s, ...full } = (await store.getDeploy('d1'))!;
          assert.deepEqual(all[2], full);
          assert.equal(all[1]!.emergency, true);
          assert.deepEqual(
            (await store.listDeployHeads({ app: 'mechanic', env: 'production', status: ['running'] })).map((d) => d.id),
            ['d3'],
          );
          assert.deepEqual(
            (await store.listDeployHeads({ limit: 1 })).map((d) => d.id),
            ['d3'],
          );
          assert.deepEqual(await store.listDeployHeads({ app: 'other' }), []);
          assert.deepEqual(await store.getDeployHead('d1'), full);
          assert.equal(await store.getDeployHead('nope'), undefined);
        }));

      it('listDeployStats: a window of narrow rows, oldest first, with straggler counts from summaries', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('old', { createdAtMs: T0 - 1 }));
          await store.createDeploy(newDeploy('a', { createdAtMs: T0, strategy: 'immediate' }));
          await store.createDeploy(
            newDeploy('b', { createdAtMs: T0 + 5, env: 'staging', trigger: 'push', emergency: true }),
          );
          await store.createDeploy(newDeploy('late', { createdAtMs: T0 + 100 }));
          await store.updateDeploy('a', {
            status: 'failed',
            startedAtMs: 10,
            dispatchedAtMs: 20,
            finishedAtMs: 50,
            summary: {
              machines: { total: 3, onTarget: 1, failed: 2, stragglers: 4 },
              stragglerIds: ['m1', 'm2', 'm3', 'm4'],
            },
          });
          await store.requestAbort('b', 'bob', T0 + 6);
          const rows = await store.listDeployStats({ app: 'mechanic', sinceMs: T0, untilMs: T0 + 100 });
          assert.deepEqual(rows, [
            {
              id: 'a',
              env: 'production',
              release: 'v2',
              strategy: 'immediate',
              status: 'failed',
              trigger: 'cli',
              responsible: 'alice',
              emergency: false,
              createdAtMs: T0,
              startedAtMs: 10,
              dispatchedAtMs: 20,
              convergedAtMs: null,
              finishedAtMs: 50,
              abortRequested: false,
              stragglers: 4,
              failedMachines: 2,
            },
            {
              id: 'b',
              env: 'staging',
              release: 'v2',
              strategy: 'rolling',
              status: 'pending',
              trigger: 'push',
              responsible: 'alice',
              emergency: true,
              createdAtMs: T0 + 5,
              startedAtMs: null,
              dispatchedAtMs: null,
              convergedAtMs: null,
              finishedAtMs: null,
              abortRequested: true,
              stragglers: 0,
              failedMachines: 0,
            },
          ]);
          assert.deepEqual(
            (await store.listDeployStats({ app: 'mechanic', sinceMs: T0, env: 'staging' })).map((d) => d.id),
            ['b'],
          );
          assert.deepEqual(
            (await store.listDeployStats({ app: 'mechanic', sinceMs: 0 })).map((d) => d.id),
            ['old', 'a', 'b', 'late'],
          );
          assert.deepEqual(await store.listDeployStats({ app: 'nope', sinceMs: 0 }), []);
        }));
    });

    describe('deploy ownership', () => {
      it('claimDeploy: free, own, or stale deploys only; heartbeatDeploy only for the owner', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d', { status: 'running', owner: 'a' }));
          await store.updateDeploy('d', { heartbeatAtMs: T0 });
          assert.equal(await store.claimDeploy('d', 'b', T0 + 1_000, 10_000), false, 'a is alive');
          assert.equal(await store.claimDeploy('d', 'a', T0 + 1_000, 10_000), true, 'a re-claims its own');
          assert.equal(await store.heartbeatDeploy('d', 'a', T0 + 2_000), true);
          assert.equal(await store.heartbeatDeploy('d', 'b', T0 + 2_000), false);
          assert.equal(await store.claimDeploy('d', 'b', T0 + 12_001, 10_000), true, "a's heartbeat lapsed");
          const d = await store.getDeploy('d');
          assert.equal(d?.owner, 'b');
          assert.equal(d?.heartbeatAtMs, T0 + 12_001);
          assert.equal(await store.heartbeatDeploy('d', 'a', T0 + 12_002), false, 'a lost it');
          assert.equal(
            await store.heartbeatDeploy('d', null, T0 + 13_000),
            true,
            'an unnamed run beats for whoever owns it',
          );
          await store.requestAbort('d', 'carol', T0 + 13_500);
          assert.deepEqual(await store.deployControl('d'), {
            status: 'running',
            owner: 'b',
            heartbeatAtMs: T0 + 13_000,
            abortRequestedAtMs: T0 + 13_500,
            abortRequestedBy: 'carol',
          });
          assert.equal(await store.deployControl('unknown'), undefined);
          await store.createDeploy(newDeploy('done', { status: 'succeeded' }));
          assert.equal(await store.claimDeploy('done', 'b', T0, 0), false, 'finished deploys are nobody’s');
          assert.equal(await store.claimDeploy('unknown', 'b', T0, 0), false);
        }));

      it('of many instances claiming one stale deploy at once, exactly one wins', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d', { status: 'running', owner: 'dead' }));
          await store.updateDeploy('d', { heartbeatAtMs: T0 });
          const wins = await Promise.all(
            Array.from({ length: 8 }, (_, i) => store.claimDeploy('d', `i${i}`, T0 + 60_000, 10_000)),
          );
          assert.equal(wins.filter(Boolean).length, 1);
        }));
    });

    describe('journal', () => {
      it('assigns increasing seqs per deploy and lists in order, round-tripping data', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          await store.createDeploy(newDeploy('d2'));
          await store.appendJournal([]);
          await store.appendJournal([
            { deployId: 'd1', atMs: T0, kind: 'plan', data: { waves: 3, list: [1, 'two', null], deep: { x: 1.5 } } },
            { deployId: 'd2', atMs: T0, kind: 'note', message: 'other deploy' },
            { deployId: 'd1', atMs: T0 + 1, kind: 'wave_started', wave: 0 },
          ]);
          await store.appendJournal([
            {
              deployId: 'd1',
              atMs: T0 + 2,
              kind: 'step_failed',
              wave: 0,
              machineId: 'm1',
              message: 'exit 1',
              data: null,
            },
            { deployId: 'd1', atMs: T0 + 3, kind: 'note', seq: 999, data: 'text', message: null },
          ]);
          const d1 = await store.listJournal('d1');
          assert.deepEqual(d1, [
            {
              seq: 1,
              deployId: 'd1',
              atMs: T0,
              kind: 'plan',
              wave: null,
              machineId: null,
              message: null,
              data: { waves: 3, list: [1, 'two', null], deep: { x: 1.5 } },
            },
            { seq: 2, deployId: 'd1', atMs: T0 + 1, kind: 'wave_started', wave: 0, machineId: null, message: null },
            {
              seq: 3,
              deployId: 'd1',
              atMs: T0 + 2,
              kind: 'step_failed',
              wave: 0,
              machineId: 'm1',
              message: 'exit 1',
              data: null,
            },
            {
              seq: 4,
              deployId: 'd1',
              atMs: T0 + 3,
              kind: 'note',
              wave: null,
              machineId: null,
              message: null,
              data: 'text',
            },
          ]);
          const d2 = await store.listJournal('d2');
          assert.deepEqual(
            d2.map((e) => [e.seq, e.kind, e.message]),
            [[1, 'note', 'other deploy']],
          );
          assert.deepEqual(await store.listJournal('nope'), []);
        }));

      it("answers whether a deploy's journal holds an entry of a kind (the promote poll), per deploy", () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          await store.createDeploy(newDeploy('d2'));
          await store.appendJournal([{ deployId: 'd1', atMs: T0, kind: 'paused' }]);
          assert.equal(await store.hasJournalEntry('d1', 'promote'), false);
          await store.appendJournal([{ deployId: 'd2', atMs: T0, kind: 'promote' }]);
          assert.equal(
            await store.hasJournalEntry('d1', 'promote'),
            false,
            "another deploy's promote is not this one's",
          );
          await store.appendJournal([{ deployId: 'd1', atMs: T0 + 1, kind: 'promote', message: 'promoted by alice' }]);
          assert.equal(await store.hasJournalEntry('d1', 'promote'), true);
          assert.equal(await store.hasJournalEntry('nope', 'promote'), false);
        }));

      it('keeps seqs unique and gap-free under concurrent appends', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          await Promise.all(
            Array.from({ length: 20 }, (_, batch) =>
              store.appendJournal(
                Array.from({ length: 10 }, (_, i) => ({
                  deployId: 'd1',
                  atMs: T0 + batch,
                  kind: 'note',
                  message: `${batch}:${i}`,
                })),
              ),
            ),
          );
          const entries = await store.listJournal('d1');
          assert.equal(entries.length, 200);
          assert.deepEqual(
            entries.map((e) => e.seq),
            Array.from({ length: 200 }, (_, i) => i + 1),
          );
          // Each batch's entries got consecutive seqs, in the order given.
          for (let i = 0; i < 200; i += 10) {
            const batch = entries.slice(i, i + 10).map((e) => e.message!);
            const prefix = batch[0]!.split(':')[0];
            assert.deepEqual(
              batch,
              Array.from({ length: 10 }, (_, j) => `${prefix}:${j}`),
            );
          }
        }));

      it('appends a large batch in one call', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          const entries = Array.from({ length: 10_000 }, (_, i) => ({
            deployId: 'd1',
            atMs: T0 + i,
            kind: 'step_succeeded',
            wave: Math.floor(i / 100),
            machineId: `m${i}`,
            data: { i },
          }));
          await store.appendJournal(entries);
          const listed = await store.listJournal('d1');
          assert.equal(listed.length, 10_000);
          assert.equal(listed[9_999]?.seq, 10_000);
          assert.deepEqual(listed[4_321]?.data, { i: 4_321 });
        }));

      it('refuses entries of an unknown deploy, appending nothing of the batch', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          await rejectsWith(
            store.appendJournal([
              { deployId: 'd1', atMs: T0, kind: 'note' },
              { deployId: 'ghost', atMs: T0, kind: 'note' },
            ]),
            'not_found',
          );
          assert.deepEqual(await store.listJournal('d1'), []);
          await store.appendJournal([{ deployId: 'd1', atMs: T0, kind: 'note' }]);
          assert.equal((await store.listJournal('d1'))[0]?.seq, 1);
        }));
    });

    describe('machine events', () => {
      it('appends a batch of 5,000 and lists them in order', () =>
        withStore(async (store) => {
          await store.createDeploy(newDeploy('d1'));
          await store.createDeploy(newDeploy('d2'));
          const events: StoredMachineEvent[] = Array.from({ length: 5_000 }, (_, i) => ({
            deployId: i % 10 === 9 ? 'd2' : 'd1',
            app: 'mechanic',
            env: 'production',
            machineId: `m${i % 1000}`,
            atMs: T0 + Math.floor(i / 7),
            type: i % 2 ? 'state' : 'health',
            state: 'started',
            release: 'v2',
            health: i % 3 ? 'passing' : 'unknown',
          }));
          await store.appendMachineEvents(events);
          await store.appendMachineEvents([]);
          await store.appendMachineEvents([
            {
              deployId: null,
              app: 'mechanic',
              env: 'production',
              machineId: 'm1',
              atMs: T0,
              type: 'destroyed',
              state: 'destroyed',
              release: 'v1',
              health: 'unknown',
            },
          ]);
          const d1 = await store.listMachineEvents('d1');
          assert.deepEqual(
            d1,
            events.filter((e) => e.deployId === 'd1'),
          );
          assert.equal(d1.length, 4_500);
          assert.equal((await store.listMachineEvents('d2')).length, 500);
          assert.deepEqual(await store.listMachineEvents('nope'), []);
        }));
    });

    describe('locks', () => {
      const base = { app: 'mechanic', env: 'production', reason: 'deploy v2', pid: 4242, host: 'ci-runner-1' };

      it('acquire, refuse another holder, re-acquire, heartbeat, release', () =>
        withStore(async (store) => {
          assert.equal(await store.getLock('mechanic', 'production'), undefined);
          const first = await store.acquireLock({ ...base, holder: 'd1' }, T0, 60_000);
          assert.deepEqual(first, {
            acquired: true,
            lock: { ...base, holder: 'd1', acquiredAtMs: T0, heartbeatAtMs: T0 },
          });
          assert.deepEqual(await store.getLock('mechanic', 'production'), {
            ...base,
            holder: 'd1',
            acquiredAtMs: T0,
            heartbeatAtMs: T0,
          });

          const second = await store.acquireLock({ ...base, holder: 'd2', pid: null, host: null }, T0 + 1_000, 60_000);
          assert.equal(second.acquired, false);
          assert.deepEqual(!second.acquired && second.heldBy, {
            ...base,
            holder: 'd1',
            acquiredAtMs: T0,
            heartbeatAtMs: T0,
          });

          // Another environment has its own lock.
          const staging = await store.acquireLock({ ...base, env: 'staging', holder: 'd2' }, T0 + 1_000, 60_000);
          assert.equal(staging.acquired, true);

          const again = await store.acquireLock({ ...base, holder: 'd1', reason: 'resume' }, T0 + 2_000, 60_000);
          assert.equal(again.acquired, true);
          assert.equal(again.acquired && again.lock.reason, 'resume');
          assert.equal(again.acquired && again.lock.acquiredAtMs, T0, 're-acquire keeps the acquisition time');
          assert.equal(again.acquired && again.lock.heartbeatAtMs, T0 + 2_000);

          assert.equal(await store.heartbeatLock('mechanic', 'production', 'd1', T0 + 3_000), true);
          assert.equal(await store.heartbeatLock('mechanic', 'production', 'd2', T0 + 3_000), false);
          assert.equal(await store.heartbeatLock('mechanic', 'nowhere', 'd1', T0 + 3_000), false);
          assert.equal((await store.getLock('mechanic', 'production'))?.heartbeatAtMs, T0 + 3_000);

          assert.equal(await store.releaseLock('mechanic', 'production', 'd2'), false, 'a non-holder cannot release');
          assert.equal((await store.getLock('mechanic', 'production'))?.holder, 'd1');
          assert.equal(await store.releaseLock('mechanic', 'production', 'd1'), true);
          assert.equal(await store.releaseLock('mechanic', 'production', 'd1'), false);
          assert.equal(await store.getLock('mechanic', 'production'), undefined);

          const after = await store.acquireLock({ ...base, holder: 'd2' }, T0 + 4_000, 60_000);
          assert.equal(after.acquired, true);
        }));

      it('takes over a lock whose heartbeat is older than staleAfterMs', () =>
        withStore(async (store) => {
          await store.acquireLock({ ...base, holder: 'd1' }, T0, 10_000);
          await store.heartbeatLock('mechanic', 'production', 'd1', T0 + 5_000);
          // Exactly staleAfterMs old: still alive.
          const early = await store.acquireLock({ ...base, holder: 'd2' }, T0 + 15_000, 10_000);
          assert.equal(early.acquired, false);
          const late = await store.acquireLock(
            { ...base, holder: 'd2', reason: 'takeover', pid: 7, host: 'b' },
            T0 + 15_001,
            10_000,
          );
          assert.deepEqual(late, {
            acquired: true,
            lock: {
              app: 'mechanic',
              env: 'production',
              holder: 'd2',
              reason: 'takeover',
              pid: 7,
              host: 'b',
              acquiredAtMs: T0 + 15_001,
              heartbeatAtMs: T0 + 15_001,
            },
          });
          // The old holder has lost it.
          assert.equal(await store.heartbeatLock('mechanic', 'production', 'd1', T0 + 15_002), false);
          assert.equal(await store.releaseLock('mechanic', 'production', 'd1'), false);
          assert.equal((await store.getLock('mechanic', 'production'))?.holder, 'd2');
        }));

      it('only one of concurrent acquirers wins', () =>
        withStore(async (store) => {
          const results = await Promise.all(
            ['a', 'b', 'c', 'd'].map((holder) => store.acquireLock({ ...base, holder }, T0, 60_000)),
          );
          const winners = results.filter((r) => r.acquired);
          assert.equal(winners.length, 1);
          const holder = winners[0]!.acquired ? winners[0]!.lock.holder : '';
          for (const r of results) if (!r.acquired) assert.equal(r.heldBy.holder, holder);
        }));
    });

    describe('sim fleets', () => {
      it('saves, loads and overwrites', () =>
        withStore(async (store) => {
          assert.equal(await store.loadSimFleet('mechanic', 'staging'), undefined);
          const fleet = { machines: [{ id: 'm1', release: 'v1', state: 'started' }], nextId: 2 };
          await store.saveSimFleet('mechanic', 'staging', fleet);
          assert.deepEqual(await store.loadSimFleet('mechanic', 'staging'), fleet);
          assert.equal(await store.loadSimFleet('mechanic', 'production'), undefined);
          const next = { machines: [], nextId: 3 };
          await store.saveSimFleet('mechanic', 'staging', next);
          assert.deepEqual(await store.loadSimFleet('mechanic', 'staging'), next);
          const big = { machines: Array.from({ length: 10_000 }, (_, i) => ({ id: `m${i}`, release: 'v1' })) };
          await store.saveSimFleet('mechanic', 'production', big);
          assert.deepEqual(await store.loadSimFleet('mechanic', 'production'), big);
        }));
    });

    // Migration 0002: ledger, tokens, webhook deliveries, secrets, deploy emergency/secrets columns.
    controlPlaneContract(withStore);
    outboxContract(withStore);
  });
}
