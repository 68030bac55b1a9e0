// The sim provider's injected faults: 5xx, timeouts, boot failures, unhealthy releases, exits, flaps,
// silent reverts, and what closing it does to the calls and lifecycles in flight.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOT_FAILURE_AFTER_MS, EXIT_WINDOW_MS, FLAP_WINDOW_MS } from '../../src/providers/sim/fleet.js';
import { assertRejects } from './contract-suite.js';
import { makeSim, scope, spec } from './sim-fixtures.js';
import { RELEASES } from './sim-harness.js';

describe('sim faults', () => {
  it('5xx: errorRate per op answers 503 and changes nothing; `all` covers every op', async () => {
    const { sim } = makeSim({ faults: { errorRate: { update: 1 } } });
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const error = await assertRejects(sim.update(scope, m!.id, { release: 'v2' }), 'unavailable');
    assert.equal(error.details.status, 503);
    assert.equal(error.retryable, true);
    assert.equal((await sim.get(scope, m!.id)).release, 'v1');
    assert.equal(sim.stats.unavailable, 1);

    const all = makeSim({ faults: { errorRate: { all: 1, get: 0 } } });
    const [n] = all.sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    await assertRejects(all.sim.list(scope), 'unavailable');
    await all.sim.get(scope, n!.id); // its own rate overrides `all`
  });

  it('timeouts: the change may or may not have happened; creates stay idempotent by launch id', async () => {
    const { sim } = makeSim({ rateLimits: false, faults: { timeoutRate: 1 } });
    const specs = Array.from({ length: 40 }, () => spec());
    const results = await Promise.allSettled(specs.map((s) => sim.create(scope, s)));
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { kind: string }).kind === 'timeout'));
    sim.options.faults.timeoutRate = 0;
    const made = await sim.list(scope);
    assert.equal(made.length, sim.stats.timeoutsApplied);
    assert.ok(made.length > 0 && made.length < 40, `${made.length} of 40 timed-out creates happened`);
    await Promise.all(specs.map((s) => sim.create(scope, s)));
    await Promise.all(specs.map((s) => sim.create(scope, s)));
    assert.equal((await sim.list(scope)).length, 40, 'one machine per launch id, however often it is retried');
  });

  it('boot failure: the machine fails shortly after starting and a pinned wait fails fast', async () => {
    const { clock, sim } = makeSim();
    const m = await sim.create(scope, spec(RELEASES.bootFailRelease));
    const t0 = clock.now();
    const error = await assertRejects(
      sim.waitFor(scope, m.id, { state: 'started', healthy: true, instanceVersion: m.instanceVersion }, 300_000),
      'machine_failed',
    );
    assert.match(error.message, /failed/);
    assert.equal(clock.now() - t0, 1000 + 3000 + BOOT_FAILURE_AFTER_MS);
    assert.equal((await sim.get(scope, m.id)).state, 'failed');
    // a wait that starts after the failure fails at once
    const t1 = clock.now();
    await assertRejects(sim.waitFor(scope, m.id, { state: 'started' }, 300_000), 'machine_failed');
    assert.equal(clock.now() - t1, 100);
  });

  it('unhealthy: the machine starts but its checks stay critical', async () => {
    const { clock, sim } = makeSim();
    const m = await sim.create(scope, spec(RELEASES.brokenRelease));
    const started = await sim.waitFor(scope, m.id, { state: 'started' }, 60_000);
    assert.equal(started.health, 'unknown');
    await clock.sleep(600_000);
    const later = await sim.get(scope, m.id);
    assert.equal(later.state, 'started');
    assert.equal(later.health, 'critical');
    await assertRejects(sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 30_000), 'wait_timeout');
  });

  it('exit: a started, healthy machine later exits on its own (failed)', async () => {
    const { clock, sim } = makeSim({ faults: { exitRate: 1 } });
    const m = await sim.create(scope, spec());
    await sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 60_000);
    const healthyAt = clock.now();
    const exited = sim.waitFor(scope, m.id, { state: 'stopped' }, 600_000);
    await assertRejects(exited, 'machine_failed');
    const after = clock.now() - healthyAt;
    assert.ok(after >= EXIT_WINDOW_MS[0] && after <= EXIT_WINDOW_MS[1] + 100, `exited ${after} ms after passing`);
    assert.equal((await sim.get(scope, m.id)).state, 'failed');
  });

  it('flap: checks go critical once, then pass again', async () => {
    const { clock, sim } = makeSim({ faults: { flapRate: 1 } });
    const health: string[] = [];
    sim.subscribe(scope, (e) => {
      if (e.type === 'health') health.push(e.machine.health);
    });
    const m = await sim.create(scope, spec());
    await sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 60_000);
    await clock.sleep(FLAP_WINDOW_MS[1] + 10_000);
    assert.deepEqual(health, ['passing', 'critical', 'passing']);
    assert.equal((await sim.get(scope, m.id)).state, 'started');
  });

  it('revert: the machine silently comes back on its previous version; the pinned wait fails fast saying so', async () => {
    const { clock, sim } = makeSim({ faults: { revertRate: 1 } });
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const updated = await sim.update(scope, m!.id, { release: 'v2' });
    const t0 = clock.now();
    const error = await assertRejects(
      sim.waitFor(
        scope,
        m!.id,
        { state: 'started', healthy: true, release: 'v2', instanceVersion: updated.instanceVersion },
        300_000,
      ),
      'machine_failed',
    );
    assert.match(error.message, /revert/);
    assert.ok(clock.now() - t0 < 10_000);
    const back = await sim.waitFor(scope, m!.id, { state: 'started', healthy: true }, 60_000);
    assert.equal(back.release, 'v1');
    assert.equal(back.instanceVersion, m!.instanceVersion);
    // a wait pinned only to the release fails fast too
    await assertRejects(sim.waitFor(scope, m!.id, { state: 'started', release: 'v2' }, 300_000), 'machine_failed');
    // unpinned, the reverted machine would have counted as success: that is the bug pinning prevents
    assert.ok((await sim.waitFor(scope, m!.id, { state: 'started', healthy: true }, 1000)).health === 'passing');
  });

  it('a wait for started fails fast when the machine is stopped', async () => {
    const { sim } = makeSim();
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const waiting = sim.waitFor(scope, m!.id, { state: 'started', release: 'v9' }, 300_000);
    await sim.stop(scope, m!.id);
    await assertRejects(waiting, 'machine_failed');
  });

  it('close fails pending waits and stops lifecycles', async () => {
    const { sim } = makeSim();
    const m = await sim.create(scope, spec());
    // Closed when the machine has started but its checks have not passed yet: the wait for a healthy
    // machine is then pending at the fleet, and its lifecycle (checks) is in flight.
    const started = new Promise<void>((resolve) => {
      const stop = sim.subscribe(scope, (event) => {
        if (event.machine.id !== m.id || event.machine.state !== 'started') return;
        stop();
        resolve();
      });
    });
    const waiting = sim.waitFor(scope, m.id, { state: 'started', healthy: true }, 300_000);
    await started;
    assert.equal((await sim.get(scope, m.id)).health, 'unknown', 'checks not passed yet');
    await sim.close();
    await assertRejects(waiting, 'unavailable');
    await assertRejects(sim.list(scope), 'unavailable');
  });
});
