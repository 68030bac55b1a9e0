import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/contract.js';
import { VirtualClock } from '../../src/domain/clock.js';
import { SimProvider, type SimState } from '../../src/providers/sim/sim-provider.js';
import { project, smallConfig, type Project } from './helpers.js';

async function spreadOf(p: Project, env = 'staging'): Promise<Record<string, number>> {
  const r = await p.run(['status', '--env', env, '--json']);
  return JSON.parse(r.stdout).fleet.byRelease;
}

async function withStore<T>(p: Project, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(join(p.dir, '.runway/runway.db'), p.dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('runway rollback', () => {
  let p: Project;
  before(async () => {
    p = project();
    for (const v of ['v2', 'v3']) await p.run(['releases', 'create', v]);
  });
  after(() => p.cleanup());

  it('without history there is nothing to go back to (exit 2)', async () => {
    const r = await p.run(['rollback', '--env', 'staging']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no previous good release/);
  });

  it('goes back to the previous good release with the rollback strategy (immediate by default)', async () => {
    assert.equal((await p.run(['deploy', '--env', 'staging', '--release', 'v2'])).code, 0);
    assert.equal((await p.run(['deploy', '--env', 'staging', '--release', 'v3'])).code, 0);
    assert.deepEqual(await spreadOf(p), { v3: 8 });
    const r = await p.run(['rollback', '--env', 'staging', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const s = JSON.parse(r.stdout);
    assert.equal(s.release, 'v2');
    assert.equal(s.strategy, 'immediate');
    assert.equal(s.status, 'succeeded');
    assert.deepEqual(await spreadOf(p), { v2: 8 });
    const [last] = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
    assert.equal(last.trigger, 'rollback');
    assert.equal(last.responsible, 'tester');
  });

  it('--to names the release', async () => {
    const r = await p.run(['rollback', '--env', 'staging', '--to', 'v1', '--strategy', 'rolling', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).strategy, 'rolling');
    assert.deepEqual(await spreadOf(p), { v1: 8 });
  });
});

describe('runway lock', () => {
  let p: Project;
  before(async () => {
    p = project();
    await p.run(['releases', 'create', 'v2']);
  });
  after(() => p.cleanup());

  it('status says when nothing holds the lock', async () => {
    const r = await p.run(['lock', 'status', '--env', 'staging']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /not locked/);
  });

  it('a lock left by a dead process is reported stale and taken over by the next deploy', async () => {
    await withStore(p, (s) =>
      s.acquireLock(
        { app: 'shop', env: 'staging', holder: 'dep_dead', reason: 'deploy v9', pid: deadPid(), host: hostname() },
        Date.now(),
        30_000,
      ),
    );
    const status = await p.run(['lock', 'status', '--env', 'staging', '--json']);
    assert.match(JSON.parse(status.stdout).stale, /process \d+ is gone/);
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await p.run(['lock', 'status', '--env', 'staging'])).stdout, /not locked/);
  });

  it('release refuses a live holder unless --force', async () => {
    await withStore(p, (s) =>
      s.acquireLock(
        { app: 'shop', env: 'staging', holder: 'dep_live', reason: 'deploy v2', pid: process.pid, host: hostname() },
        Date.now(),
        30_000,
      ),
    );
    const refused = await p.run(['lock', 'release', '--env', 'staging']);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /looks alive/);
    const forced = await p.run(['lock', 'release', '--env', 'staging', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match((await p.run(['lock', 'status', '--env', 'staging'])).stdout, /not locked/);
  });
});

describe('runway deploy resume', () => {
  let p: Project;
  before(async () => {
    p = project();
    await p.run(['releases', 'create', 'v2']);
    await p.run(['status', '--env', 'staging']);
  });
  after(() => p.cleanup());

  async function orphan(id: string, owner: string, heartbeatAtMs: number): Promise<void> {
    await withStore(p, async (s) => {
      await s.createDeploy({
        id,
        app: 'shop',
        env: 'staging',
        release: 'v2',
        previousRelease: 'v1',
        strategy: 'rolling',
        initiator: 'cli:tester',
        responsible: 'tester',
        trigger: 'cli',
        reason: null,
        plan: null,
        createdAtMs: Date.now(),
        status: 'running',
        owner,
      });
      await s.updateDeploy(id, { heartbeatAtMs, startedAtMs: heartbeatAtMs });
      await s.acquireLock(
        { app: 'shop', env: 'staging', holder: id, reason: 'deploy v2', pid: deadPid(), host: hostname() },
        heartbeatAtMs,
        30_000,
      );
    });
  }

  it('refuses unknown and finished deploys (exit 2)', async () => {
    const unknown = await p.run(['deploy', 'resume', 'dep_nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no deploy dep_nope/);
  });

  it('refuses a deploy whose owner is alive (exit 4)', async () => {
    await orphan('dep_alive', `${hostname()}:${process.ppid}`, Date.now());
    const r = await p.run(['deploy', 'resume', 'dep_alive']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /still running/);
    await withStore(p, async (s) => {
      await s.updateDeploy('dep_alive', { status: 'aborted', finishedAtMs: Date.now() });
      await s.releaseLock('shop', 'staging', 'dep_alive');
    });
  });

  it('finishes a deploy whose process died, under the same id, and then refuses to resume it again', async () => {
    await orphan('dep_died', `${hostname()}:${deadPid()}`, Date.now() - 60_000);
    const r = await p.run(['deploy', 'resume', 'dep_died', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const s = JSON.parse(r.stdout);
    assert.equal(s.deployId, 'dep_died');
    assert.equal(s.status, 'succeeded');
    assert.deepEqual(await spreadOf(p), { v2: 8 });
    const show = await p.run(['deploys', 'show', 'dep_died']);
    assert.match(show.stdout, /resumed/);
    const again = await p.run(['deploy', 'resume', 'dep_died']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already ended \(succeeded\)/);
  });
});

describe('runway recover', () => {
  let p: Project;
  before(async () => {
    p = project();
    for (const v of ['v2', 'v3']) await p.run(['releases', 'create', v]);
    await p.run(['status', '--env', 'staging']);
  });
  after(() => p.cleanup());

  /** Change the saved sim fleet the way a dead runway would have left it. */
  async function leaveFleet(
    fn: (sim: SimProvider, scope: { app: string; env: string }) => Promise<void>,
  ): Promise<void> {
    await withStore(p, async (store) => {
      const clock = new VirtualClock(Date.now());
      const sim = SimProvider.fromJSON((await store.loadSimFleet('shop', 'staging')) as SimState, clock, {
        clock: 'virtual',
        rateLimits: false,
      });
      const scope = { app: 'shop', env: 'staging' };
      await fn(sim, scope);
      // Until every machine has settled (started, passing checks), not a guessed stretch of time.
      await Promise.all(
        (await sim.list(scope)).map((m) => sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 600_000)),
      );
      await store.saveSimFleet('shop', 'staging', sim.toJSON());
      await sim.close();
    });
  }

  it('says there is nothing to recover on a clean fleet, and changes nothing', async () => {
    const r = await p.run(['recover', '--env', 'staging']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to recover/);
    assert.equal(JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout).length, 0);
  });

  it('a halted deploy that left most machines on its release is finished forward; --dry-run first changes nothing', async () => {
    await leaveFleet(async (sim, scope) => {
      for (const m of (await sim.list(scope)).slice(0, 6))
        await sim.update(scope, m.id, { release: 'v3', deployId: 'dep_halted' });
    });
    await withStore(p, async (s) => {
      await s.createDeploy({
        id: 'dep_halted',
        app: 'shop',
        env: 'staging',
        release: 'v3',
        previousRelease: 'v1',
        strategy: 'rolling',
        initiator: 'cli:x',
        responsible: 'x',
        trigger: 'cli',
        reason: null,
        plan: null,
        createdAtMs: Date.now(),
        status: 'halted',
      });
    });
    const dry = await p.run(['recover', '--env', 'staging', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /6\/8 machines on v3/);
    assert.match(dry.stdout, /finish forward: deploy v3/);
    assert.deepEqual(await spreadOf(p), { v3: 6, v1: 2 });
    const r = await p.run(['recover', '--env', 'staging']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /finish forward to v3: deploy dep_\w+ succeeded/);
    assert.deepEqual(await spreadOf(p), { v3: 8 });
  });

  it('orphaned green machines of a dead deploy are destroyed', async () => {
    await leaveFleet(async (sim, scope) => {
      for (let i = 0; i < 3; i++)
        await sim.create(scope, {
          group: 'web',
          release: 'v2',
          role: 'green',
          cordoned: true,
          deployId: 'dep_gone',
          launchId: `dep_gone:web:green:${i}`,
        });
    });
    const before = JSON.parse((await p.run(['status', '--env', 'staging', '--json'])).stdout);
    assert.equal(before.fleet.extra, 3);
    const r = await p.run(['recover', '--env', 'staging', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.actions.map((a: { kind: string }) => a.kind),
      ['destroy-orphans'],
    );
    assert.match(out.done[0], /destroyed 3 orphaned/);
  });
});

describe('runway rollback goes through the responsibility policy', () => {
  it('refused (exit 5) where CLI deploys are not allowed; allowed with --emergency --reason, which is recorded', async () => {
    const p = project(
      smallConfig().replace(
        'initiation = "manual"\nallow_cli = true\nvars = { DEPLOY_STRATEGY = "rolling" }',
        'initiation = "manual"\nallow_cli = false\nvars = { DEPLOY_STRATEGY = "rolling" }',
      ),
    );
    try {
      await p.run(['releases', 'create', 'v2']);
      const refused = await p.run(['rollback', '--env', 'staging', '--to', 'v2']);
      assert.equal(refused.code, 5, refused.stderr);
      assert.match(refused.stderr, /refused by policy/);
      const allowed = await p.run([
        'rollback',
        '--env',
        'staging',
        '--to',
        'v2',
        '--emergency',
        '--reason',
        'pager at 3am',
        '--json',
      ]);
      assert.equal(allowed.code, 0, allowed.stderr);
      const [d] = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
      assert.equal(d.trigger, 'rollback');
      assert.equal(d.emergency, true);
      assert.equal(d.reason, 'pager at 3am');
    } finally {
      p.cleanup();
    }
  });
});
