// Settling a fleet after a deploy that did not succeed: serving machines left out of traffic go back
// in (stopped ones started first) as soon as the provider answers, extras are destroyed, and a group
// that is whole without an out-of-traffic machine loses it (it was being replaced).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/domain/clock.js';
import type { FleetScope } from '../../src/domain/types.js';
import { outOfTraffic, settleFleet } from '../../src/engine/settle.js';
import { ProviderError, type Provider } from '../../src/providers/contract.js';
import { ResilientProvider } from '../../src/providers/resilient-provider.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import { simOptions } from '../providers/sim-harness.js';

const scope: FleetScope = { app: 'shop', env: 'production' };

/** Every call fails (ECONNREFUSED) until `until` (virtual ms). */
function downUntil(inner: Provider, clock: VirtualClock, until: number): Provider {
  const stub: Provider = Object.create(inner) as Provider;
  for (const op of ['list', 'get', 'start', 'uncordon', 'destroy', 'waitFor'] as const) {
    const real = (inner[op] as (...a: unknown[]) => Promise<unknown>).bind(inner);
    (stub as unknown as Record<string, unknown>)[op] = async (...a: unknown[]) => {
      if (clock.now() < until)
        throw new ProviderError('unavailable', 'cannot reach the API: ECONNREFUSED', {
          op: op === 'waitFor' ? 'wait' : op,
        });
      return real(...a);
    };
  }
  return stub;
}

async function fleetWithHoles(clock: VirtualClock) {
  const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
  const machines = sim.seed(scope, [{ name: 'web', count: 6 }], 'v1');
  await sim.cordon(scope, machines[0]!.id);
  await sim.cordon(scope, machines[1]!.id);
  await sim.stop(scope, machines[2]!.id);
  await sim.waitFor(scope, machines[2]!.id, { state: 'stopped' }, 120_000);
  await sim.create(scope, { group: 'web', release: 'v2', role: 'green', cordoned: true, launchId: 'l1' });
  return { sim, machines };
}

describe('settleFleet', () => {
  it('puts every serving machine back into traffic once the provider answers, and destroys extras', async () => {
    const clock = new VirtualClock(0);
    const { sim } = await fleetWithHoles(clock);
    const t0 = clock.now();
    const provider = new ResilientProvider(downUntil(sim, clock, t0 + 30_000), {
      clock,
      limits: false,
      outageTimeoutMs: 5_000,
    });
    const report = await settleFleet({
      provider,
      scope,
      groups: [{ name: 'web', count: 6 }],
      clock,
      maxConcurrency: 8,
      waitTimeoutMs: 120_000,
      patienceMs: 120_000,
      observe: () => provider.list(scope),
    });
    assert.deepEqual(report.leftOut, []);
    const fleet = await sim.list(scope);
    assert.equal(fleet.length, 6, 'the green is gone');
    assert.deepEqual(outOfTraffic(fleet), []);
    assert.ok(fleet.every((m) => m.state === 'started' && !m.cordoned));
    assert.ok(clock.now() >= t0 + 30_000, 'it waited for the provider');
  });

  it('gives up after its patience and says why', async () => {
    const clock = new VirtualClock(0);
    const { sim } = await fleetWithHoles(clock);
    const provider = new ResilientProvider(downUntil(sim, clock, Number.MAX_SAFE_INTEGER), {
      clock,
      limits: false,
      outageTimeoutMs: 5_000,
    });
    const report = await settleFleet({
      provider,
      scope,
      groups: [{ name: 'web', count: 6 }],
      clock,
      maxConcurrency: 8,
      waitTimeoutMs: 120_000,
      patienceMs: 20_000,
      observe: () => provider.list(scope),
    });
    assert.match(report.error ?? '', /has not answered|ECONNREFUSED/);
    assert.equal(report.tidied, 0);
    assert.equal(outOfTraffic(await sim.list(scope)).length, 3, 'nothing changed');
  });

  it('an out-of-traffic machine its group no longer needs is destroyed, not put back', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
    const machines = sim.seed(scope, [{ name: 'web', count: 4 }], 'v1');
    await sim.cordon(scope, machines[0]!.id);
    const report = await settleFleet({
      provider: sim,
      scope,
      groups: [{ name: 'web', count: 3 }],
      clock,
      maxConcurrency: 8,
      waitTimeoutMs: 60_000,
      patienceMs: 60_000,
      observe: () => sim.list(scope),
    });
    assert.deepEqual(report.leftOut, []);
    const fleet = (await sim.list(scope)).filter((m) => m.state !== 'destroyed' && m.state !== 'destroying');
    assert.equal(fleet.length, 3);
    assert.ok(!fleet.some((m) => m.id === machines[0]!.id));
  });

  it('a bluegreen cutover cut short leaves one colour serving: the release that served before, when it can fill every group', async () => {
    for (const promoted of [2, 6]) {
      const clock = new VirtualClock(0);
      const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
      const blues = sim.seed(scope, [{ name: 'web', count: 6 }], 'v1');
      const greens = [];
      for (let i = 0; i < 6; i++)
        greens.push(
          await sim.create(scope, { group: 'web', release: 'v2', role: 'green', cordoned: true, launchId: `g${i}` }),
        );
      for (const g of greens) await sim.waitFor(scope, g.id, { state: 'started', healthy: true }, 120_000);
      // The cutover got this far: some greens in traffic; with all of them in, some blues out.
      for (const g of greens.slice(0, promoted)) await sim.uncordon(scope, g.id, 'serving');
      if (promoted === 6) for (const b of blues.slice(0, 4)) await sim.cordon(scope, b.id);
      const report = await settleFleet({
        provider: sim,
        scope,
        groups: [{ name: 'web', count: 6 }],
        previous: 'v1',
        clock,
        maxConcurrency: 8,
        waitTimeoutMs: 60_000,
        patienceMs: 60_000,
        observe: () => sim.list(scope),
      });
      assert.deepEqual(report.leftOut, []);
      const fleet = (await sim.list(scope)).filter((m) => m.state !== 'destroyed' && m.state !== 'destroying');
      assert.deepEqual(
        fleet.map((m) => m.release).sort(),
        Array(6).fill('v1'),
        `${promoted} promoted: only the blues serve`,
      );
      assert.ok(
        fleet.every((m) => m.state === 'started' && !m.cordoned),
        `${promoted} promoted: all of them in traffic`,
      );
    }
  });

  it('a group with more machines in traffic than desired is trimmed to its count (waves surge kept)', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
    sim.seed(scope, [{ name: 'web', count: 4 }], 'v1');
    for (let i = 0; i < 2; i++) {
      const m = await sim.create(scope, {
        group: 'web',
        release: 'v2',
        role: 'serving',
        cordoned: false,
        launchId: `s${i}`,
      });
      await sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 120_000);
    }
    // v1 alone cannot fill the group: a wave replaced two of them already.
    const v1 = (await sim.list(scope)).filter((m) => m.release === 'v1');
    for (const m of v1.slice(0, 2)) await sim.destroy(scope, m.id);
    const extra = await sim.create(scope, {
      group: 'web',
      release: 'v2',
      role: 'serving',
      cordoned: false,
      launchId: 's9',
    });
    await sim.waitFor(scope, extra.id, { state: 'started', healthy: true }, 120_000);
    await settleFleet({
      provider: sim,
      scope,
      groups: [{ name: 'web', count: 4 }],
      previous: 'v1',
      clock,
      maxConcurrency: 8,
      waitTimeoutMs: 60_000,
      patienceMs: 60_000,
      observe: () => sim.list(scope),
    });
    const fleet = (await sim.list(scope)).filter((m) => m.state !== 'destroyed' && m.state !== 'destroying');
    assert.equal(fleet.length, 4, 'the desired count, no surge machine kept');
    assert.ok(fleet.every((m) => m.state === 'started' && !m.cordoned));
  });
});
