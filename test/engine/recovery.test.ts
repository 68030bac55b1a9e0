import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Machine } from '../../src/domain/types.js';
import { assessRecovery, type RecoveryInput } from '../../src/engine/recovery.js';
import type { DeployRecord } from '../../src/store/contract.js';

function machines(n: number, release: string, extra: Partial<Machine> = {}): Machine[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${release}-${extra.role ?? 'serving'}-${i}`,
    app: 'shop',
    env: 'prod',
    group: 'web',
    release,
    instanceVersion: '1',
    role: 'serving',
    state: 'started',
    health: 'passing',
    cordoned: false,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...extra,
  }));
}

function deploy(
  id: string,
  release: string,
  status: DeployRecord['status'],
  previousRelease = 'v1',
  createdAtMs = 10,
): DeployRecord {
  return {
    id,
    app: 'shop',
    env: 'prod',
    release,
    previousRelease,
    strategy: 'rolling',
    status,
    initiator: 'cli:a',
    responsible: 'a',
    trigger: 'cli',
    reason: null,
    plan: null,
    summary: null,
    error: null,
    createdAtMs,
    startedAtMs: createdAtMs,
    dispatchedAtMs: null,
    convergedAtMs: null,
    finishedAtMs: null,
    owner: 'h:1',
    heartbeatAtMs: createdAtMs,
    abortRequestedAtMs: null,
    abortRequestedBy: null,
  };
}

function input(over: Partial<RecoveryInput>): RecoveryInput {
  return { fleet: [], deploys: [], ownerAlive: () => false, lock: null, lockStale: null, policy: 'redo', ...over };
}

describe('assessRecovery', () => {
  it('nothing to do on a clean fleet', () => {
    const r = assessRecovery(input({ fleet: machines(5, 'v2'), deploys: [deploy('d1', 'v2', 'succeeded')] }));
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.findings.byRelease, { v2: 5 });
  });

  it('a dead deploy with most machines on its release is finished forward under its own id', () => {
    const r = assessRecovery(
      input({ fleet: [...machines(7, 'v2'), ...machines(3, 'v1')], deploys: [deploy('d2', 'v2', 'running')] }),
    );
    assert.deepEqual(
      r.actions.map((a) => a.kind),
      ['resume'],
    );
    assert.match((r.actions[0] as { why: string }).why, /7 of 10/);
  });

  it('a dead deploy with a minority on its release: redo by default, roll back when the policy says so', () => {
    const base = { fleet: [...machines(2, 'v2'), ...machines(8, 'v1')], deploys: [deploy('d2', 'v2', 'running')] };
    assert.deepEqual(
      assessRecovery(input(base)).actions.map((a) => a.kind),
      ['resume'],
    );
    const back = assessRecovery(input({ ...base, policy: 'rollback' }));
    assert.deepEqual(
      back.actions.map((a) => a.kind),
      ['close-deploy', 'deploy'],
    );
    assert.deepEqual(back.actions[1], {
      kind: 'deploy',
      release: 'v1',
      mode: 'rollback',
      why: 'only 2 of 10 run v2; recover_policy = rollback',
    });
  });

  it('a halted deploy that left mixed versions is finished forward with a new deploy', () => {
    const r = assessRecovery(
      input({
        fleet: [...machines(6, 'v2'), ...machines(4, 'v1')],
        deploys: [deploy('d3', 'v2', 'halted'), deploy('d1', 'v1', 'succeeded', 'v0', 1)],
      }),
    );
    assert.deepEqual(r.actions, [
      { kind: 'deploy', release: 'v2', mode: 'finish-forward', why: '6 of 10 serving machines already run v2' },
    ]);
  });

  it('orphaned extra machines and a stale lock are cleaned up even without a deploy to finish', () => {
    const r = assessRecovery(
      input({
        fleet: [...machines(4, 'v2'), ...machines(2, 'v3', { role: 'green', cordoned: true, deployId: 'dead' })],
        deploys: [deploy('d1', 'v2', 'succeeded')],
        lock: {
          app: 'shop',
          env: 'prod',
          holder: 'dead',
          reason: 'x',
          pid: 1,
          host: 'h',
          acquiredAtMs: 0,
          heartbeatAtMs: 0,
        },
        lockStale: 'no heartbeat for 5m',
      }),
    );
    assert.deepEqual(
      r.actions.map((a) => a.kind),
      ['release-lock', 'destroy-orphans'],
    );
    assert.equal(r.findings.orphans.length, 2);
  });

  it('a live deploy owns the environment: nothing is touched', () => {
    const r = assessRecovery(
      input({
        fleet: [...machines(4, 'v2'), ...machines(2, 'v1'), ...machines(1, 'v2', { role: 'green', deployId: 'd4' })],
        deploys: [deploy('d4', 'v2', 'running')],
        ownerAlive: (d) => d.id === 'd4',
      }),
    );
    assert.deepEqual(r.actions, []);
    assert.equal(r.findings.orphans.length, 0, "a live deploy's green is not an orphan");
  });
});

describe('recover names serving machines left out of traffic', () => {
  it('cordoned and stopped serving machines are in the findings; extra machines are not', () => {
    const fleet = [
      ...machines(3, 'v1'),
      ...machines(1, 'v1', { id: 'cordoned-1', cordoned: true }),
      ...machines(1, 'v1', { id: 'stopped-1', state: 'stopped' }),
      ...machines(1, 'v2', { id: 'green-1', role: 'green', cordoned: true }),
    ];
    const r = assessRecovery({
      fleet,
      deploys: [],
      ownerAlive: () => false,
      lock: null,
      lockStale: null,
      policy: 'redo',
    });
    assert.deepEqual(r.findings.outOfTraffic.sort(), ['cordoned-1', 'stopped-1']);
  });
});
