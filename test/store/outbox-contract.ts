// The store contract of migration 0003 (deploy outbox), run by contract-suite.ts on every backend.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreError, type NewDeploy, type Store } from '../../src/store/contract.js';
import { LIFECYCLE_CHANNEL, type NewOutboxItem } from '../../src/store/outbox-contract.js';

type WithStore = (body: (store: Store) => Promise<void>) => Promise<void>;

const T0 = 1_700_000_000_000;

function newDeploy(id: string, over: Partial<NewDeploy> = {}): NewDeploy {
  return {
    id,
    app: 'mechanic',
    env: 'production',
    release: 'v2',
    previousRelease: 'v1',
    strategy: 'rolling',
    initiator: 'alice',
    responsible: 'alice',
    trigger: 'release',
    reason: null,
    plan: null,
    createdAtMs: T0,
    ...over,
  };
}

function item(channel: string, kind: string, over: Partial<NewOutboxItem> = {}): NewOutboxItem {
  return {
    channel,
    deployId: 'd1',
    app: 'mechanic',
    env: 'production',
    kind,
    payload: { kind },
    createdAtMs: T0,
    ...over,
  };
}

export function outboxContract(withStore: WithStore): void {
  describe('deploy outbox', () => {
    it('a deploy status change queues one lifecycle row in order; rewriting the same status queues none', () =>
      withStore(async (store) => {
        await store.createDeploy(newDeploy('d1'));
        await store.createRelease('mechanic', { version: 'v2', image: 'i', createdAtMs: T0 });
        await store.appendJournal([{ deployId: 'd1', atMs: T0, kind: 'note' }]);
        await store.updateDeploy('d1', { status: 'running', startedAtMs: T0 + 1 });
        await store.updateDeploy('d1', { status: 'running' });
        await store.updateDeploy('d1', { heartbeatAtMs: T0 + 2 });
        await store.updateDeploy('d1', { status: 'succeeded', finishedAtMs: T0 + 3 });
        const rows = await store.listOutbox({ channel: LIFECYCLE_CHANNEL });
        assert.deepEqual(
          rows.map((r) => [r.kind, r.deployId, r.env, r.state, r.attempts]),
          [
            ['pending', 'd1', 'production', 'pending', 0],
            ['running', 'd1', 'production', 'pending', 0],
            ['succeeded', 'd1', 'production', 'pending', 0],
          ],
        );
        assert.ok(rows[0]!.seq < rows[1]!.seq && rows[1]!.seq < rows[2]!.seq);
        const wall = Date.now();
        assert.ok(
          rows.every((r) => r.createdAtMs <= wall && r.createdAtMs > wall - 60_000),
          'queued at wall-clock time, whatever clock the deploy uses',
        );
        assert.ok(
          rows.every((r) => r.nextAttemptAtMs === 0),
          'new rows are due at once',
        );
        // A failed deploy creation stores neither the deploy nor a lifecycle row.
        await assert.rejects(
          store.createDeploy(newDeploy('d1')),
          (e: unknown) => e instanceof StoreError && e.kind === 'conflict',
        );
        assert.equal((await store.listOutbox({ channel: LIFECYCLE_CHANNEL })).length, 3);
        await assert.rejects(
          store.updateDeploy('nope', { status: 'failed' }),
          (e: unknown) => e instanceof StoreError && e.kind === 'not_found',
        );
      }));

    it('claims, completes with follow-ups in one step, retries with backoff and gives up', () =>
      withStore(async (store) => {
        await store.enqueueOutbox([item(LIFECYCLE_CHANNEL, 'running')]);
        const [life] = await store.listOutbox();
        assert.ok(await store.claimOutbox(life!.seq, 'a', T0, T0 + 1000));
        assert.equal(await store.claimOutbox(life!.seq, 'b', T0 + 500, T0 + 1500), false, 'held by a');
        assert.ok(await store.claimOutbox(life!.seq, 'b', T0 + 1001, T0 + 2000), 'a lapsed claim is taken over');
        await store.completeOutbox(life!.seq, T0 + 5, [item('github', 'in_progress'), item('notify:team', 'started')]);
        // Completing twice (a lapsed claim's owner finishing late) queues the follow-ups once.
        await store.completeOutbox(life!.seq, T0 + 6, [item('github', 'in_progress')]);
        const all = await store.listOutbox();
        assert.deepEqual(
          all.map((r) => [r.channel, r.kind, r.state]),
          [
            [LIFECYCLE_CHANNEL, 'running', 'delivered'],
            ['github', 'in_progress', 'pending'],
            ['notify:team', 'started', 'pending'],
          ],
        );
        assert.equal(all[0]!.deliveredAtMs, T0 + 5);
        assert.deepEqual(all[1]!.payload, { kind: 'in_progress' });
        const gh = all[1]!;
        await store.retryOutbox(gh.seq, 'connect ECONNREFUSED', T0 + 2000, false);
        await store.retryOutbox(gh.seq, 'HTTP 503', T0 + 6000, false);
        const [retried] = await store.listOutbox({ channel: 'github' });
        assert.deepEqual(
          [retried!.state, retried!.attempts, retried!.nextAttemptAtMs, retried!.lastError],
          ['pending', 2, T0 + 6000, 'HTTP 503'],
        );
        await store.retryOutbox(gh.seq, 'HTTP 422 invalid', T0 + 9000, true);
        const [failed] = await store.listOutbox({ state: ['failed'] });
        assert.deepEqual([failed!.seq, failed!.attempts, failed!.lastError], [gh.seq, 3, 'HTTP 422 invalid']);
        assert.equal(await store.claimOutbox(gh.seq, 'a', T0, T0 + 1), false, 'a failed row is not delivered again');
        assert.deepEqual(
          (await store.listOutbox({ state: ['pending'] })).map((r) => r.channel),
          ['notify:team'],
        );
        assert.deepEqual((await store.listOutbox({ deployId: 'other' })).length, 0);
        assert.deepEqual(
          (await store.listOutbox({ outwardOnly: true })).map((r) => r.channel),
          ['github', 'notify:team'],
        );
      }));

    it('records GitHub deployments per release and environment; activating one returns those it replaces', () =>
      withStore(async (store) => {
        await store.saveGitHubDeployment({
          app: 'mechanic',
          env: 'production',
          release: 'v1',
          deploymentId: 11,
          deployId: 'd1',
          createdAtMs: T0,
        });
        await store.saveGitHubDeployment({
          app: 'mechanic',
          env: 'production',
          release: 'v2',
          deploymentId: 12,
          deployId: 'd2',
          createdAtMs: T0 + 1,
        });
        await store.saveGitHubDeployment({
          app: 'mechanic',
          env: 'staging',
          release: 'v2',
          deploymentId: 13,
          deployId: 'd3',
          createdAtMs: T0 + 2,
        });
        await assert.rejects(
          store.saveGitHubDeployment({
            app: 'mechanic',
            env: 'production',
            release: 'v1',
            deploymentId: 99,
            deployId: 'd9',
            createdAtMs: T0,
          }),
          (e: unknown) => e instanceof StoreError && e.kind === 'conflict',
        );
        assert.deepEqual(await store.getGitHubDeployment('mechanic', 'production', 'v1'), {
          app: 'mechanic',
          env: 'production',
          release: 'v1',
          deploymentId: 11,
          deployId: 'd1',
          active: false,
          createdAtMs: T0,
        });
        assert.deepEqual(await store.activateGitHubDeployment('mechanic', 'production', 'v1'), []);
        await store.activateGitHubDeployment('mechanic', 'staging', 'v2');
        assert.deepEqual(
          (await store.activateGitHubDeployment('mechanic', 'production', 'v2')).map((d) => d.deploymentId),
          [11],
        );
        assert.equal((await store.getGitHubDeployment('mechanic', 'production', 'v2'))!.active, true);
        assert.equal(
          (await store.getGitHubDeployment('mechanic', 'staging', 'v2'))!.active,
          true,
          'other environments are untouched',
        );
        // A rollback re-activates v1 and replaces v2.
        assert.deepEqual(
          (await store.activateGitHubDeployment('mechanic', 'production', 'v1')).map((d) => d.deploymentId),
          [12],
        );
        assert.equal((await store.getGitHubDeployment('mechanic', 'production', 'v1'))!.active, true);
        assert.equal(await store.getGitHubDeployment('mechanic', 'production', 'v3'), undefined);
      }));
  });
}
