// The one way to start a deploy (src/deploys/): every entry point asks the policy, a refused or
// locked-out request leaves only its ledger entry, an emergency always needs a reason a person typed.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VirtualClock } from '../../src/domain/clock.js';
import { SimProvider, type SimState } from '../../src/providers/sim/sim-provider.js';
import type { Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';
import { project, type Project } from '../cli/helpers.js';
import { startHarness, type Harness } from '../server/harness.js';
import { push, workflowDispatch } from '../triggers/github-fixtures.js';

const AUTOMATIC = `
[app]
name = "shop"
[app.processes]
web = { count = 6 }
worker = { count = 2 }

[environments.staging]
provider = "sim"
trigger = "push:main"
initiation = "automatic"
vars = { DEPLOY_STRATEGY = "rolling" }

[sim]
clock = "virtual"
initial_release = "v1"
`;

async function withStore<T>(p: Project, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(join(p.dir, '.runway/runway.db'), p.dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('runway recover into an automatic environment', () => {
  let p: Project;
  before(async () => {
    p = project(AUTOMATIC);
    await p.run(['releases', 'create', 'v2']);
    await p.run(['status', '--env', 'staging']);
    // A dead deploy left 5 of 8 machines on v2: recovery would finish it forward (a deploy).
    await withStore(p, async (store) => {
      const clock = new VirtualClock(Date.now());
      const sim = SimProvider.fromJSON((await store.loadSimFleet('shop', 'staging')) as SimState, clock, {
        clock: 'virtual',
        rateLimits: false,
      });
      const scope = { app: 'shop', env: 'staging' };
      for (const m of (await sim.list(scope)).slice(0, 5))
        await sim.update(scope, m.id, { release: 'v2', deployId: 'dep_halted' });
      // Until every machine has settled (started, passing checks), not a guessed stretch of time.
      await Promise.all(
        (await sim.list(scope)).map((m) => sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 600_000)),
      );
      await store.saveSimFleet('shop', 'staging', sim.toJSON());
      await sim.close();
      await store.createDeploy({
        id: 'dep_halted',
        app: 'shop',
        env: 'staging',
        release: 'v2',
        previousRelease: 'v1',
        strategy: 'rolling',
        initiator: 'github:push',
        responsible: 'automation',
        trigger: 'push:main',
        reason: null,
        plan: null,
        createdAtMs: Date.now(),
        status: 'halted',
      });
    });
  });
  after(() => p.cleanup());

  const spread = async () => JSON.parse((await p.run(['status', '--env', 'staging', '--json'])).stdout).fleet.byRelease;
  const ledger = async () =>
    JSON.parse((await p.run(['audit', '--json'])).stdout).entries as {
      kind: string;
      responsible: string;
      emergency: boolean;
      reason: string | null;
      data: Record<string, unknown>;
    }[];

  it('--dry-run says a real run would be refused, and exits 5', async () => {
    const r = await p.run(['recover', '--env', 'staging', '--dry-run']);
    assert.equal(r.code, 5);
    assert.match(
      r.stdout,
      /A REAL RUN WOULD BE REFUSED \(exit 5\): refused by policy \(staging\): staging deploys automatically/,
    );
    assert.equal((await ledger()).length, 0);
  });

  it('without --emergency --reason: refused (exit 5), recorded, nothing changed', async () => {
    const r = await p.run(['recover', '--env', 'staging']);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /refused by policy \(staging\)/);
    assert.match(r.stderr, /nothing was changed/);
    assert.deepEqual(await spread(), { v2: 5, v1: 3 });
    const deploys = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
    assert.deepEqual(
      deploys.map((d: { id: string }) => d.id),
      ['dep_halted'],
    );
    const [refusal] = await ledger();
    assert.deepEqual(
      [refusal!.kind, refusal!.responsible, refusal!.data.action],
      ['policy.refused', 'tester', 'recover'],
    );
    const noReason = await p.run(['recover', '--env', 'staging', '--emergency']);
    assert.equal(noReason.code, 5);
    assert.match(noReason.stderr, /an emergency deploy needs a reason/);
  });

  it('with --emergency --reason: the person is responsible, flagged, and the fleet is recovered', async () => {
    const r = await p.run([
      'recover',
      '--env',
      'staging',
      '--emergency',
      '--reason',
      'staging half-deployed overnight',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await spread(), { v2: 8 });
    const [d] = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
    assert.deepEqual(
      [d.trigger, d.responsible, d.emergency, d.reason],
      ['recover', 'tester', true, 'staging half-deployed overnight'],
    );
    const kinds = (await ledger()).map((e) => e.kind);
    assert.deepEqual(kinds.slice(-3), ['emergency.used', 'deploy.started', 'deploy.finished']);
  });
});

describe('locked out and refused requests store nothing but their ledger entry', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('200 pushes while the environment is locked leave zero stored deploys, 200 ledger entries, and deploy health untouched', async () => {
    await h.store.acquireLock(
      { app: 'shop', env: 'staging', holder: 'dep_running', reason: 'deploy v9', pid: null, host: 'elsewhere' },
      Date.now(),
      60_000,
    );
    try {
      const ids: string[] = [];
      for (let i = 0; i < 200; i += 20) {
        const batch = await Promise.all(
          Array.from({ length: 20 }, (_, j) => {
            const sha = `b${(i + j + 1).toString(16).padStart(39, '0')}`;
            const delivery = `locked-${i + j}`;
            ids.push(delivery);
            return h.hook('push', push('main', sha), { delivery });
          }),
        );
        assert.deepEqual(
          batch.filter((r) => r.status !== 202),
          [],
        );
      }
      for (const id of ids) {
        const d = await h.waitDelivery(id);
        assert.equal(d.result.outcomes[0].status, 409);
      }
      assert.equal((await h.store.listDeploys({ app: 'shop', env: 'staging' })).length, 0);
      const entries = await h.store.listLedger({ env: 'staging' });
      assert.equal(entries.filter((e) => e.kind === 'deploy.locked_out').length, 200);
      assert.equal(entries.filter((e) => e.kind !== 'deploy.locked_out').length, 0, 'no emergency or deploy entries');
      const health = await h.call('GET', '/api/health?env=staging', { token: h.admin });
      assert.equal(health.status, 200);
      assert.deepEqual([health.json.totals.deploys, health.json.totals.finished], [0, 0]);
    } finally {
      await h.store.releaseLock('shop', 'staging', 'dep_running');
    }
  });

  it('secrets apply with an emergency and no reason is refused (403) and recorded, by the API and by the Manual secrets workflow', async () => {
    const t = await h.token('alice', 'deployer', { envs: ['staging'] });
    const before = (await h.store.listDeploys({ app: 'shop' })).length;
    const api = await h.call('POST', '/api/environments/staging/secrets/apply', {
      token: t,
      body: { emergency: true },
    });
    assert.equal(api.status, 403);
    assert.match(api.json.error, /an emergency deploy needs a reason/);
    const hook = await h.hook(
      'workflow_dispatch',
      workflowDispatch('.github/workflows/runway-secrets.yml', { environment: 'staging', emergency: true }),
      { delivery: 'secrets-no-reason' },
    );
    assert.equal(hook.status, 202);
    const d = await h.waitDelivery('secrets-no-reason');
    assert.equal(d.result.outcomes[0].outcome, 'refused');
    assert.match(d.result.outcomes[0].why, /needs a reason/);
    assert.equal((await h.store.listDeploys({ app: 'shop' })).length, before);
    const refusals = (await h.store.listLedger({ env: 'staging' })).filter((e) => e.kind === 'policy.refused');
    assert.deepEqual(
      refusals.map((e) => [e.responsible, (e.data as { action: string }).action, e.reason]),
      [
        ['alice', 'apply-secrets', null],
        ['grace', 'apply-secrets', null],
      ],
    );
  });
});
