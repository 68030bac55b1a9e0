// The sim provider: the shared contract on a virtual clock, and what only the sim has (latency
// models, determinism, Fly's rate limits, persistence, scale, events); its faults: sim-faults.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScaledClock, VirtualClock } from '../../src/domain/clock.js';
import type { Machine } from '../../src/domain/types.js';
import type { MachineEvent, ProviderOp } from '../../src/providers/contract.js';
import { lognormalSigma, sampleLatency } from '../../src/providers/sim/latency.js';
import { SeededRandom } from '../../src/domain/random.js';
import { SimProvider, type SimState } from '../../src/providers/sim/sim-provider.js';
import { runProviderContract } from './contract-suite.js';
import { RELEASES, simHarness, simOptions } from './sim-harness.js';
import { until } from '../support/wait.js';
import { CONSTANT, makeSim, scope, spec } from './sim-fixtures.js';

runProviderContract('sim (virtual clock)', simHarness());

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('sim latency', () => {
  it('draws lognormal latencies with the configured median and p99', () => {
    const rng = SeededRandom.fromSeed(42);
    const model = { kind: 'lognormal' as const, medianMs: 1000, p99Ms: 4000 };
    const draws = Array.from({ length: 40_000 }, () => sampleLatency(model, rng)).sort((a, b) => a - b);
    const median = quantile(draws, 0.5);
    const p99 = quantile(draws, 0.99);
    assert.ok(Math.abs(median - 1000) / 1000 < 0.05, `median ${median}`);
    assert.ok(Math.abs(p99 - 4000) / 4000 < 0.1, `p99 ${p99}`);
    assert.ok(Math.abs(lognormalSigma(1000, 4000) - Math.log(4) / 2.3263) < 1e-12);
    assert.ok(draws.every((d) => d >= 0 && Number.isInteger(d)));
  });

  it('draws constant latencies exactly, and degenerate lognormals as their median', () => {
    const rng = SeededRandom.fromSeed(1);
    for (let i = 0; i < 100; i++) assert.equal(sampleLatency({ kind: 'constant', ms: 250 }, rng), 250);
    assert.equal(sampleLatency({ kind: 'lognormal', medianMs: 300, p99Ms: 300 }, rng), 300);
  });

  it('takes the configured phases, end to end, for a create (op log)', async () => {
    const { clock, sim } = makeSim({}, true);
    const created = await sim.create(scope, spec());
    assert.equal(created.state, 'created');
    assert.equal(clock.now(), 100);
    await sim.waitFor(scope, created.id, { state: 'started', healthy: true }, 60_000);
    // api 100 + create 1000 + boot 3000 + checks 4000; the wait's own API latency overlaps.
    assert.equal(clock.now(), 8100);
    const phases = sim.ops
      .filter((p) => p.machineId === created.id)
      .map((p) => `${p.op}${p.apiOp ? `:${p.apiOp}` : ''} ${p.startMs}-${p.endMs}`);
    assert.deepEqual(phases, [
      'api:create 0-100',
      'api:wait 100-200',
      'create 100-1100',
      'boot 1100-4100',
      'checks 4100-8100',
    ]);
  });

  it('updates through stopping, starting, started and passing', async () => {
    const { clock, sim } = makeSim();
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const states: string[] = [];
    sim.subscribe(scope, (e) => states.push(`${clock.now()} ${e.type} ${e.machine.state}/${e.machine.health}`));
    const updated = await sim.update(scope, m!.id, { release: 'v2' });
    assert.equal(updated.state, 'stopping');
    await sim.waitFor(
      scope,
      m!.id,
      { state: 'started', healthy: true, instanceVersion: updated.instanceVersion },
      60_000,
    );
    assert.deepEqual(states, [
      '100 updated stopping/unknown',
      '2100 state starting/unknown',
      '5100 state started/unknown',
      '9100 health started/passing',
    ]);
  });
});

describe('sim determinism', () => {
  async function script(seed: number) {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ seed, faults: { flapRate: 0.3, errorRate: { update: 0.1 } } }), {
      recordOps: true,
    });
    sim.seed(scope, [{ name: 'web', count: 20 }], 'v1');
    const machines = await sim.list(scope);
    await Promise.all(
      machines.map(async (m) => {
        try {
          const u = await sim.update(scope, m.id, { release: 'v2' });
          await sim.waitFor(
            scope,
            m.id,
            { state: 'started', healthy: true, instanceVersion: u.instanceVersion },
            60_000,
          );
        } catch {
          /* a 503 */
        }
      }),
    );
    return { end: clock.now(), ops: sim.ops.map((p) => ({ ...p })), fleet: await sim.list(scope), stats: sim.stats };
  }

  it('repeats exactly with one seed and differs with another', async () => {
    const a = await script(11);
    const b = await script(11);
    const c = await script(12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.ops, c.ops);
  });

  // The benchmark compares runway with models of flyctl on one seeded fleet: they make other calls in
  // another order, and must still face the same machines (keyed-draws.ts).
  it("keys a machine's k-th update, boot and checks to the machine, not to the order of calls", async () => {
    async function deployTwice(reverse: boolean, pollFirst: boolean) {
      const clock = new VirtualClock(0);
      const sim = new SimProvider(clock, simOptions({ seed: 5 }), { recordOps: true });
      sim.seed(scope, [{ name: 'web', count: 12 }], 'v1');
      const machines = await sim.list(scope);
      if (reverse) machines.reverse();
      if (pollFirst) for (const m of machines.slice(0, 5)) await sim.get(scope, m.id);
      for (const release of ['v2', 'v3']) {
        await Promise.all(
          machines.map(async (m) => {
            const u = await sim.update(scope, m.id, { release });
            await sim.waitFor(
              scope,
              m.id,
              { state: 'started', healthy: true, instanceVersion: u.instanceVersion },
              60_000,
            );
          }),
        );
      }
      const chains = new Map<string, string[]>();
      for (const p of sim.ops) {
        if (p.machineId === undefined || (p.op === 'api' && p.apiOp !== 'update')) continue;
        const chain = chains.get(p.machineId) ?? [];
        chain.push(`${p.apiOp ?? p.op} ${p.endMs - p.startMs}`);
        chains.set(p.machineId, chain);
      }
      return chains;
    }
    const inOrder = await deployTwice(false, false);
    const otherwise = await deployTwice(true, true);
    assert.equal(inOrder.size, 12);
    for (const [id, chain] of inOrder) {
      assert.equal(chain.length, 8, id); // per deploy: update call, update, boot, checks
      assert.deepEqual(otherwise.get(id), chain, id);
    }
    // ...and the draws still differ between machines and between a machine's first and second update.
    const firstBoots = new Set([...inOrder.values()].map((c) => c[2]));
    assert.ok(firstBoots.size > 6, [...firstBoots].join(', '));
    assert.ok([...inOrder.values()].some((c) => c[1] !== c[5]));
  });
});

describe('sim rate limits (Fly documented)', () => {
  const machineOps: [ProviderOp, number, (sim: SimProvider, id: string) => Promise<unknown>][] = [
    ['get', 10, (sim, id) => sim.get(scope, id)],
    ['update', 3, (sim, id) => sim.update(scope, id, { release: 'v2' })],
    ['start', 3, (sim, id) => sim.start(scope, id)],
    ['stop', 3, (sim, id) => sim.stop(scope, id)],
    ['cordon', 3, (sim, id) => sim.cordon(scope, id)],
    ['uncordon', 3, (sim, id) => sim.uncordon(scope, id)],
    ['wait', 3, (sim, id) => sim.waitFor(scope, id, { state: 'started' }, 60_000)],
  ];

  for (const [op, burst, call] of machineOps) {
    it(`${op}: burst ${burst} per machine, then 429 with Retry-After; other machines unaffected`, async () => {
      const { clock, sim } = makeSim();
      const [a, b] = sim.seed(scope, [{ name: 'web', count: 2 }], 'v1');
      const answers = await Promise.allSettled(Array.from({ length: burst + 1 }, () => call(sim, a!.id)));
      assert.equal(answers.filter((x) => x.status === 'fulfilled').length, burst);
      const refused = answers.find((x) => x.status === 'rejected');
      assert.ok(refused && refused.status === 'rejected');
      const error = refused.reason as { kind: string; details: { status?: number; retryAfterMs?: number } };
      assert.equal(error.kind, 'rate_limited');
      assert.equal(error.details.status, 429);
      const rate = op === 'get' ? 5 : 1;
      assert.ok(
        error.details.retryAfterMs! > 0 && error.details.retryAfterMs! <= 1000 / rate,
        `retry after ${error.details.retryAfterMs}`,
      );
      assert.equal(sim.stats.rateLimitedByOp[op], 1);
      await call(sim, b!.id); // another machine has its own bucket
      const t = clock.now();
      await clock.sleep(error.details.retryAfterMs!);
      await call(sim, a!.id); // honouring Retry-After works
      assert.ok(clock.now() >= t);
      assert.equal(sim.stats.rateLimited, 1);
    });
  }

  it('destroy: burst 3 per machine, then 429', async () => {
    const { sim } = makeSim();
    const [a] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const answers = await Promise.allSettled(Array.from({ length: 4 }, () => sim.destroy(scope, a!.id)));
    assert.equal(answers.filter((x) => x.status === 'fulfilled').length, 3);
    assert.equal(sim.stats.rateLimitedByOp.destroy, 1);
  });

  it('create: 1/s burst 3 per app (environment), whatever the machine', async () => {
    const { clock, sim } = makeSim();
    const answers = await Promise.allSettled(Array.from({ length: 5 }, () => sim.create(scope, spec())));
    assert.equal(answers.filter((x) => x.status === 'fulfilled').length, 3);
    assert.equal(sim.stats.rateLimitedByOp.create, 2);
    const other = { app: 'mechanic', env: 'production' };
    await sim.create(other, spec()); // another Fly app
    await clock.sleep(1000);
    await sim.create(scope, spec());
    // 10 creates a second apart take ~10 s: creating 500 machines is bounded at ~500 s.
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) {
      for (;;) {
        try {
          await sim.create(scope, spec());
          break;
        } catch (error) {
          await clock.sleep((error as { details: { retryAfterMs: number } }).details.retryAfterMs);
        }
      }
    }
    assert.ok(clock.now() - t0 >= 9000, `10 creates took ${clock.now() - t0} ms`);
  });

  it('list: 1/s burst 3 per app', async () => {
    const { sim } = makeSim();
    const answers = await Promise.allSettled(Array.from({ length: 4 }, () => sim.list(scope)));
    assert.equal(answers.filter((x) => x.status === 'fulfilled').length, 3);
    assert.equal(sim.stats.rateLimitedByOp.list, 1);
  });

  it('enforces nothing with rate limits off', async () => {
    const { sim } = makeSim({ rateLimits: false });
    await Promise.all(Array.from({ length: 20 }, () => sim.list(scope)));
    await Promise.all(Array.from({ length: 20 }, () => sim.create(scope, spec())));
    assert.equal(sim.stats.rateLimited, 0);
    assert.equal(sim.stats.calls.list, 20);
    assert.equal(sim.stats.calls.create, 20);
  });
});

describe('sim on real time', () => {
  it('runs on a scaled clock, and leaves no timer behind once closed', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const clock = new ScaledClock(1000);
    const sim = new SimProvider(clock, simOptions({ seed: 2, faults: { exitRate: 1, flapRate: 1 } }));
    const m = await sim.create(scope, spec());
    const ready = await sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 3_600_000);
    assert.equal(ready.health, 'passing');
    const pending = sim.waitFor(scope, m.id, { state: 'stopped' }, 3_600_000); // long timeout, exit and flap pending
    const outcome = pending.catch((e: unknown) => e);
    await until(() => timers() > before, 'the pending exit and flap scheduled their timers');
    await sim.close();
    assert.ok((await outcome) instanceof Error);
    await new Promise((r) => setImmediate(r));
    assert.equal(timers(), before, 'every lifecycle and wait timer was cleared');
  });
});

describe('sim persistence', () => {
  it('round-trips the fleet through JSON, settling machines caught mid-transition', async () => {
    const { clock, sim } = makeSim({ rateLimits: false });
    const seeded = sim.seed(scope, [{ name: 'web', count: 4 }], 'v1');
    const other = { app: 'mechanic', env: 'production' };
    sim.seed(other, [{ name: 'worker', count: 2 }], 'v1');
    await sim.update(scope, seeded[0]!.id, { release: 'v2' }); // updating
    await sim.update(scope, seeded[1]!.id, { release: RELEASES.brokenRelease }); // updating to a broken release
    await sim.stop(scope, seeded[2]!.id); // stopping
    await sim.destroy(scope, seeded[3]!.id); // destroying
    const fresh = await sim.create(scope, { ...spec(), cordoned: true, role: 'green' }); // starting
    const booting = await sim.create(scope, spec(RELEASES.bootFailRelease));

    const state = JSON.parse(JSON.stringify(sim.toJSON())) as SimState;
    const loaded = SimProvider.fromJSON(
      state,
      new VirtualClock(clock.now()),
      simOptions({ latency: CONSTANT, rateLimits: false }),
    );
    const byId = new Map((await loaded.list(scope)).map((m) => [m.id, m]));
    assert.equal(byId.size, 5);
    const s0 = byId.get(seeded[0]!.id)!;
    assert.deepEqual([s0.state, s0.health, s0.release], ['started', 'passing', 'v2']);
    const s1 = byId.get(seeded[1]!.id)!;
    assert.deepEqual([s1.state, s1.health, s1.release], ['started', 'critical', RELEASES.brokenRelease]);
    assert.equal(byId.get(seeded[2]!.id)!.state, 'stopped');
    assert.ok(!byId.has(seeded[3]!.id), 'the destroying machine is gone');
    const f = byId.get(fresh.id)!;
    assert.deepEqual(
      [f.state, f.health, f.cordoned, f.role, f.launchId],
      ['started', 'passing', true, 'green', fresh.launchId],
    );
    assert.equal(byId.get(booting.id)!.state, 'failed');
    assert.equal((await loaded.list(other)).length, 2);

    // ids and launch ids carry over: no collisions, creates stay idempotent
    assert.equal((await loaded.create(scope, { ...spec(), launchId: fresh.launchId! })).id, fresh.id);
    const next = await loaded.create(scope, spec());
    assert.ok(!byId.has(next.id));
    const version = await loaded.update(scope, seeded[0]!.id, { release: 'v3' });
    assert.ok(version.instanceVersion > s0.instanceVersion, 'instance versions keep counting');

    // an environment seeded once is not seeded again, even after a reload or once emptied
    assert.deepEqual(loaded.seedIfNew(scope, [{ name: 'web', count: 3 }], 'v1'), []);
    assert.equal(loaded.seedIfNew({ app: 'mechanic', env: 'review' }, [{ name: 'web', count: 3 }], 'v1').length, 3);
    assert.deepEqual(loaded.seedIfNew({ app: 'mechanic', env: 'review' }, [{ name: 'web', count: 3 }], 'v1'), []);

    // the random state continues: two loads of one state behave alike
    const again = SimProvider.fromJSON(
      state,
      new VirtualClock(clock.now()),
      simOptions({ latency: CONSTANT, rateLimits: false }),
    );
    assert.deepEqual(again.toJSON().rng, state.rng);
  });
});

describe('sim scale', () => {
  it('seeds 10,000 machines and updates them all, with events and pinned waits (wall time: npm run bench:rollout)', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ seed: 5 }));
    sim.seed(
      scope,
      [
        { name: 'web', count: 8000 },
        { name: 'worker', count: 2000 },
      ],
      'v1',
    );
    let events = 0;
    const unsubscribe = sim.subscribe(scope, () => events++);
    const machines = await sim.list(scope);
    assert.equal(machines.length, 10_000);
    const done: Machine[] = await Promise.all(
      machines.map(async (m) => {
        const u = await sim.update(scope, m.id, { release: 'v2' });
        return sim.waitFor(
          scope,
          m.id,
          { state: 'started', healthy: true, instanceVersion: u.instanceVersion },
          300_000,
        );
      }),
    );
    unsubscribe();
    assert.ok(done.every((m) => m.release === 'v2' && m.health === 'passing'));
    assert.equal(events, 10_000 * 4, 'updated, starting, started, passing per machine');
    assert.ok(clock.now() < 120_000, `simulated ${clock.now()} ms`);
    assert.equal(sim.stats.calls.update, 10_000);
    assert.equal(sim.stats.rateLimited, 0);
  });
});

describe('sim events', () => {
  it('delivers events synchronously, per scope only, and survives a throwing listener', async () => {
    const { sim } = makeSim();
    const mine: MachineEvent[] = [];
    const theirs: MachineEvent[] = [];
    sim.subscribe(scope, () => {
      throw new Error('bad listener');
    });
    sim.subscribe(scope, (e) => mine.push(e));
    sim.subscribe({ app: 'other', env: 'staging' }, (e) => theirs.push(e));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    assert.equal(mine.length, 1, 'seed emits created synchronously');
    await sim.cordon(scope, m!.id);
    assert.equal(mine.at(-1)!.type, 'cordon');
    assert.equal(theirs.length, 0);
    assert.equal(sim.listenerErrors, 2);
  });
});
