// The shared provider contract suite (DESIGN.md, architecture 4): every provider — sim, local (real
// OS processes), fly (HTTP client against a Fly-compatible test server) — runs these cases through a
// harness. Nothing here knows which provider it tests; time is read from the harness's clock, so the
// suite runs in virtual time on the sim and in real time elsewhere.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Clock } from '../../src/domain/clock.js';
import type { FleetScope, Machine } from '../../src/domain/types.js';
import {
  ProviderError,
  type MachineEvent,
  type MachineSpec,
  type Provider,
  type ProviderErrorKind,
} from '../../src/providers/contract.js';

export interface ProcessGroupCount {
  name: string;
  count: number;
}

/** What a provider must give the suite. One harness per test case (a fresh scope each time). */
export interface Harness {
  provider: Provider;
  /** A scope nobody else uses while the case runs (empty until `seed`). */
  scope: FleetScope;
  /** The clock the provider runs on (virtual for the sim, real for local and fly). */
  clock: Clock;
  /**
   * Put started machines passing checks on `release` into the scope, `count` per group, role
   * `serving`, uncordoned. The sim does it instantly; others may go through their API, and must
   * return only once every machine is started and passing.
   */
  seed(groups: ProcessGroupCount[], release: string): Promise<void>;
  /** A release that boots and passes checks (what cases seed with). */
  release: string;
  /** Another release that boots and passes checks (what cases update to). */
  nextRelease: string;
  /** A release that boots but never passes checks. */
  brokenRelease: string;
  /** A release whose process exits right after it starts (a release command on it fails). */
  bootFailRelease: string;
  timeouts: {
    /** Ample time for one machine to be created or updated, boot and pass checks. */
    readyMs: number;
    /**
     * The wait timeout used on the broken release; the case waits all of it, so real providers keep
     * it short. Must exceed the time the provider takes to decide checks.
     */
    brokenMs: number;
  };
  cleanup(): Promise<void>;
}

export function runProviderContract(name: string, makeHarness: () => Promise<Harness>): void {
  describe(`provider contract: ${name}`, () => {
    let h: Harness;
    let launches = 0;

    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const spec = (overrides: Partial<MachineSpec> = {}): MachineSpec => ({
      group: 'web',
      release: h.release,
      role: 'serving',
      cordoned: false,
      launchId: `contract:${name}:${++launches}:${h.clock.now()}`,
      ...overrides,
    });

    const one = async (): Promise<Machine> => {
      await h.seed([{ name: 'web', count: 1 }], h.release);
      const [machine] = await h.provider.list(h.scope);
      assert.ok(machine, 'seed made a machine');
      return machine;
    };

    const healthyOn = (m: Machine) => ({
      state: 'started' as const,
      release: m.release,
      instanceVersion: m.instanceVersion,
      healthy: true,
    });

    it('lists and gets the seeded machines', async () => {
      await h.seed(
        [
          { name: 'web', count: 3 },
          { name: 'worker', count: 2 },
        ],
        h.release,
      );
      const machines = await h.provider.list(h.scope);
      assert.equal(machines.length, 5);
      assert.equal(machines.filter((m) => m.group === 'web').length, 3);
      assert.equal(machines.filter((m) => m.group === 'worker').length, 2);
      assert.equal(new Set(machines.map((m) => m.id)).size, 5, 'ids are unique');
      for (const m of machines) {
        assert.equal(m.app, h.scope.app);
        assert.equal(m.env, h.scope.env);
        assert.equal(m.release, h.release);
        assert.equal(m.state, 'started');
        assert.equal(m.health, 'passing');
        assert.equal(m.role, 'serving');
        assert.equal(m.cordoned, false);
        assert.ok(m.instanceVersion.length > 0);
        const got = await h.provider.get(h.scope, m.id);
        assert.equal(got.id, m.id);
        assert.equal(got.release, m.release);
        assert.equal(got.instanceVersion, m.instanceVersion);
        assert.equal(got.group, m.group);
      }
    });

    it('creates idempotently by launch id', async () => {
      const s = spec();
      const first = await h.provider.create(h.scope, s);
      assert.equal(first.launchId, s.launchId);
      assert.equal(first.release, h.release);
      const second = await h.provider.create(h.scope, s);
      assert.equal(second.id, first.id, 'a second create with the launch id returns the same machine');
      const withLaunch = (await h.provider.list(h.scope)).filter((m) => m.launchId === s.launchId);
      assert.equal(withLaunch.length, 1);
      const ready = await h.provider.waitFor(
        h.scope,
        first.id,
        { state: 'started', release: h.release, healthy: true },
        h.timeouts.readyMs,
      );
      assert.equal(ready.id, first.id);
    });

    it('keeps a machine created cordoned out of traffic, and lists it as an extra machine', async () => {
      await h.seed([{ name: 'web', count: 1 }], h.release);
      const green = await h.provider.create(h.scope, spec({ role: 'green', cordoned: true, release: h.nextRelease }));
      assert.equal(green.cordoned, true);
      const ready = await h.provider.waitFor(h.scope, green.id, healthyOn(green), h.timeouts.readyMs);
      assert.equal(ready.cordoned, true, 'still cordoned once started and healthy');
      const got = await h.provider.get(h.scope, green.id);
      assert.equal(got.cordoned, true);
      assert.equal(got.role, 'green');
      const all = await h.provider.list(h.scope);
      assert.equal(all.length, 2, 'the extra machine is listed');
    });

    it('update changes the release and the instanceVersion', async () => {
      const m = await one();
      const updated = await h.provider.update(h.scope, m.id, { release: h.nextRelease, deployId: 'd-contract' });
      assert.equal(updated.id, m.id);
      assert.equal(updated.release, h.nextRelease);
      assert.notEqual(updated.instanceVersion, m.instanceVersion);
      const got = await h.provider.get(h.scope, m.id);
      assert.equal(got.release, h.nextRelease);
      assert.equal(got.instanceVersion, updated.instanceVersion);
    });

    it('a wait pinned to the new instanceVersion resolves only once the machine is started and healthy on it', async () => {
      const m = await one();
      const events: MachineEvent[] = [];
      const unsubscribe = h.provider.subscribe?.(h.scope, (e) => {
        if (e.machine.id === m.id) events.push(e);
      });
      try {
        const updated = await h.provider.update(h.scope, m.id, { release: h.nextRelease });
        assert.ok(
          !(updated.state === 'started' && updated.health === 'passing'),
          'the update answer does not already claim the new version healthy',
        );
        const ready = await h.provider.waitFor(h.scope, m.id, healthyOn(updated), h.timeouts.readyMs);
        const resolvedAt = h.clock.now();
        assert.equal(ready.state, 'started');
        assert.equal(ready.health, 'passing');
        assert.equal(ready.release, h.nextRelease);
        assert.equal(ready.instanceVersion, updated.instanceVersion);
        if (unsubscribe) {
          const healthy = events.find(
            (e) =>
              e.machine.instanceVersion === updated.instanceVersion &&
              e.machine.state === 'started' &&
              e.machine.health === 'passing',
          );
          assert.ok(healthy, 'an event shows the machine healthy on the new version');
          assert.ok(healthy.atMs <= resolvedAt, 'the wait did not resolve before the machine was healthy');
          const earlier = events.filter((e) => e.atMs < healthy.atMs);
          assert.ok(
            earlier.every(
              (e) => !(e.machine.instanceVersion === updated.instanceVersion && e.machine.health === 'passing'),
            ),
            'no earlier event had it healthy on the new version',
          );
        }
      } finally {
        unsubscribe?.();
      }
    });

    it('a wait fails fast (machine_failed) when the machine exits on boot', async () => {
      const m = await one();
      const updated = await h.provider.update(h.scope, m.id, { release: h.bootFailRelease });
      // machine_failed, not wait_timeout: the wait ended on the exit, not on its timeout.
      await assertRejects(h.provider.waitFor(h.scope, m.id, healthyOn(updated), h.timeouts.readyMs), 'machine_failed');

      const created = await h.provider.create(h.scope, spec({ release: h.bootFailRelease }));
      await assertRejects(
        h.provider.waitFor(h.scope, created.id, healthyOn(created), h.timeouts.readyMs),
        'machine_failed',
      );
    });

    it('a wait for a release that never passes checks times out with wait_timeout', async () => {
      const m = await one();
      const updated = await h.provider.update(h.scope, m.id, { release: h.brokenRelease });
      const t0 = h.clock.now();
      await assertRejects(h.provider.waitFor(h.scope, m.id, healthyOn(updated), h.timeouts.brokenMs), 'wait_timeout');
      const elapsed = h.clock.now() - t0;
      assert.ok(elapsed >= h.timeouts.brokenMs * 0.95, `waited its timeout: ${elapsed} of ${h.timeouts.brokenMs} ms`);
      const got = await h.provider.get(h.scope, m.id);
      assert.equal(got.release, h.brokenRelease);
      assert.notEqual(got.health, 'passing');
    });

    it('a wait honours its abort signal', async () => {
      const m = await one();
      const already = new AbortController();
      already.abort(new Error('stop waiting'));
      await assert.rejects(h.provider.waitFor(h.scope, m.id, { state: 'stopped' }, h.timeouts.readyMs, already.signal));

      const updated = await h.provider.update(h.scope, m.id, { release: h.brokenRelease });
      const controller = new AbortController();
      const t0 = h.clock.now();
      const waiting = h.provider.waitFor(
        h.scope,
        m.id,
        healthyOn(updated),
        h.timeouts.brokenMs * 10,
        controller.signal,
      );
      await h.clock.sleep(Math.min(1000, h.timeouts.brokenMs / 4));
      controller.abort(new Error('deploy aborted'));
      await assert.rejects(waiting);
      assert.ok(h.clock.now() - t0 < h.timeouts.brokenMs * 10, 'rejected on abort, not on timeout');
    });

    it('cordons and uncordons, setting the role on uncordon', async () => {
      const m = await one();
      const cordoned = await h.provider.cordon(h.scope, m.id);
      assert.equal(cordoned.cordoned, true);
      assert.equal((await h.provider.get(h.scope, m.id)).cordoned, true);
      const back = await h.provider.uncordon(h.scope, m.id);
      assert.equal(back.cordoned, false);
      assert.equal(back.role, 'serving');

      const green = await h.provider.create(h.scope, spec({ role: 'green', cordoned: true }));
      await h.provider.waitFor(h.scope, green.id, healthyOn(green), h.timeouts.readyMs);
      const promoted = await h.provider.uncordon(h.scope, green.id, 'serving');
      assert.equal(promoted.cordoned, false);
      assert.equal(promoted.role, 'serving');
      const got = await h.provider.get(h.scope, green.id);
      assert.equal(got.role, 'serving');
      assert.equal(got.cordoned, false);
    });

    it('stops a machine and starts it again', async () => {
      const m = await one();
      await h.provider.stop(h.scope, m.id);
      const stopped = await h.provider.waitFor(h.scope, m.id, { state: 'stopped' }, h.timeouts.readyMs);
      assert.equal(stopped.state, 'stopped');
      assert.equal((await h.provider.get(h.scope, m.id)).state, 'stopped');
      await h.provider.start(h.scope, m.id);
      const started = await h.provider.waitFor(
        h.scope,
        m.id,
        { state: 'started', release: h.release, healthy: true },
        h.timeouts.readyMs,
      );
      assert.equal(started.release, h.release);
    });

    it('destroys a machine: list excludes it, get and waits say not_found', async () => {
      await h.seed([{ name: 'web', count: 2 }], h.release);
      const [victim, survivor] = await h.provider.list(h.scope);
      assert.ok(victim && survivor);
      await h.provider.destroy(h.scope, victim.id);
      const gone = await h.provider.waitFor(h.scope, victim.id, { state: 'destroyed' }, h.timeouts.readyMs);
      assert.equal(gone.state, 'destroyed');
      const left = await h.provider.list(h.scope);
      assert.deepEqual(
        left.map((m) => m.id),
        [survivor.id],
      );
      await assertRejects(h.provider.get(h.scope, victim.id), 'not_found');
      await assertRejects(
        h.provider.waitFor(h.scope, victim.id, { state: 'started' }, h.timeouts.readyMs),
        'not_found',
      );
    });

    it('a wait rejects with not_found when the machine is destroyed while waited on', async () => {
      const m = await one();
      const updated = await h.provider.update(h.scope, m.id, { release: h.brokenRelease });
      const waiting = h.provider.waitFor(h.scope, m.id, healthyOn(updated), h.timeouts.brokenMs * 10);
      const outcome = waiting.then(
        () => undefined,
        (e: unknown) => e,
      );
      await h.provider.destroy(h.scope, m.id);
      const error = await outcome;
      assert.ok(error instanceof ProviderError, `rejected with a ProviderError, got ${String(error)}`);
      assert.equal(error.kind, 'not_found');
    });

    it('get of an unknown machine is not_found', async () => {
      await h.seed([{ name: 'web', count: 1 }], h.release);
      await assertRejects(h.provider.get(h.scope, 'no-such-machine-0000'), 'not_found');
    });

    it('runs a release command machine once: it exits and destroys itself; on a failing release the wait fails', async () => {
      const ok = await h.provider.create(
        h.scope,
        spec({
          role: 'release-command',
          release: h.nextRelease,
          env: { RELEASE_COMMAND: '1' },
          command: 'bin/migrate',
          cordoned: true,
        }),
      );
      const done = await h.provider.waitFor(h.scope, ok.id, { state: 'destroyed' }, h.timeouts.readyMs);
      assert.equal(done.state, 'destroyed');
      assert.ok(!(await h.provider.list(h.scope)).some((m) => m.id === ok.id));

      const bad = await h.provider.create(
        h.scope,
        spec({
          role: 'release-command',
          release: h.bootFailRelease,
          env: { RELEASE_COMMAND: '1' },
          command: 'bin/migrate',
          cordoned: true,
        }),
      );
      await assertRejects(
        h.provider.waitFor(h.scope, bad.id, { state: 'destroyed' }, h.timeouts.readyMs),
        'machine_failed',
      );
    });

    it('tells subscribers about changes, and stops when unsubscribed', async (t) => {
      if (!h.provider.subscribe) {
        t.skip('provider has no events');
        return;
      }
      const m = await one();
      const events: MachineEvent[] = [];
      const unsubscribe = h.provider.subscribe(h.scope, (e) => events.push(e));
      const updated = await h.provider.update(h.scope, m.id, { release: h.nextRelease });
      await h.provider.waitFor(h.scope, m.id, healthyOn(updated), h.timeouts.readyMs);
      await h.provider.cordon(h.scope, m.id);
      const mine = events.filter((e) => e.machine.id === m.id);
      assert.ok(mine.some((e) => e.type === 'updated' && e.machine.instanceVersion === updated.instanceVersion));
      assert.ok(
        mine.some((e) => e.machine.state === 'started' && e.machine.instanceVersion === updated.instanceVersion),
      );
      assert.ok(mine.some((e) => e.type === 'health' && e.machine.health === 'passing'));
      assert.ok(mine.some((e) => e.type === 'cordon' && e.machine.cordoned));
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i]!.atMs >= mine[i - 1]!.atMs, 'events arrive in time order');
      for (const e of mine) {
        assert.equal(e.machine.app, h.scope.app);
        assert.equal(e.machine.env, h.scope.env);
      }
      unsubscribe();
      const seen = events.length;
      await h.provider.uncordon(h.scope, m.id);
      assert.equal(events.length, seen, 'no events after unsubscribe');
    });
  });
}

export async function assertRejects(promise: Promise<unknown>, kind: ProviderErrorKind): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected a ProviderError(${kind}), got ${String(error)}`);
    assert.equal(error.kind, kind, `expected ${kind}, got ${error.kind}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${kind}`);
}
