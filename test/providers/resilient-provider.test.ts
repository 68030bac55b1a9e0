// The resilient provider: the one place of rate limits and retries.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/domain/clock.js';
import type { FleetScope, Machine } from '../../src/domain/types.js';
import { ProviderError, type Provider, type ProviderErrorKind } from '../../src/providers/contract.js';
import { MAX_WAIT_CHUNK_MS, ResilientProvider } from '../../src/providers/resilient-provider.js';
import type { SimOptionsInput } from '../../src/providers/sim/resolve-options.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import { assertRejects, runProviderContract } from './contract-suite.js';
import { RELEASES, simHarness, simOptions } from './sim-harness.js';
import { CONSTANT } from './sim-fixtures.js';

runProviderContract('sim behind resilient', simHarness({}, {}));
runProviderContract(
  'sim with 5xx and timeouts behind resilient',
  simHarness(
    { faults: { errorRate: { all: 0.15 }, timeoutRate: 0.05 } },
    { retry: { maxAttempts: 12, baseDelayMs: 200, maxDelayMs: 5_000 } },
  ),
);

const scope: FleetScope = { app: 'mechanic', env: 'production' };

function setup(
  overrides: SimOptionsInput = {},
  resilient: Partial<ConstructorParameters<typeof ResilientProvider>[1]> = {},
) {
  const clock = new VirtualClock(0);
  const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, ...overrides }));
  const provider = new ResilientProvider(sim, { clock, seed: 3, ...resilient });
  return { clock, sim, provider };
}

/** Fails the first `failures` calls of `get` with errors of `kind`, then delegates; records call times. */
function flaky(inner: Provider, clock: VirtualClock, failures: number, kind: ProviderErrorKind, status?: number) {
  const times: number[] = [];
  let n = 0;
  const stub: Provider = Object.create(inner) as Provider;
  stub.get = async (s, id) => {
    times.push(clock.now());
    n++;
    if (n <= failures) throw new ProviderError(kind, `${kind} #${n}`, { status, op: 'get', machineId: id });
    return inner.get(s, id);
  };
  return { stub, times };
}

let launch = 0;
const spec = (release: string = RELEASES.release) => ({
  group: 'web',
  release,
  role: 'serving' as const,
  cordoned: false,
  launchId: `r:${++launch}`,
});

describe('resilient provider: retries', () => {
  it('retries a 429 after its Retry-After (virtual time)', async () => {
    // No client throttle, so the sim's limits are hit.
    const { clock, sim, provider } = setup({}, { limits: false });
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const t0 = clock.now();
    const answers = await Promise.all(Array.from({ length: 4 }, () => provider.cordon(scope, m!.id)));
    assert.equal(answers.length, 4);
    assert.equal(sim.stats.rateLimited, 1);
    assert.equal(provider.stats.rateLimited, 1);
    assert.equal(provider.stats.retries, 1);
    assert.equal(provider.stats.retriesByKind.rate_limited, 1);
    // The 4th call came in with an empty bucket: Retry-After 1000 ms, then another API round trip.
    assert.equal(clock.now() - t0, 100 + 1000 + 100);
    assert.equal(provider.stats.calls.cordon, 4);
    assert.equal(provider.stats.attempts.cordon, 5);
  });

  it('retries 503s with exponential backoff and jitter, then succeeds', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const { stub, times } = flaky(sim, clock, 3, 'unavailable', 503);
    const provider = new ResilientProvider(stub, {
      clock,
      seed: 9,
      retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 },
    });
    const got = await provider.get(scope, m!.id);
    assert.equal(got.id, m!.id);
    assert.equal(times.length, 4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // nominal 1000, 2000, 4000: each gap in [nominal/2, nominal]
    [1000, 2000, 4000].forEach((nominal, i) => {
      assert.ok(gaps[i]! >= nominal / 2 && gaps[i]! <= nominal, `gap ${i} = ${gaps[i]} for nominal ${nominal}`);
    });
    assert.equal(provider.stats.retries, 3);
    assert.equal(provider.stats.retriesByKind.unavailable, 3);
    assert.equal(provider.stats.attempts.get, 4);
    assert.equal(provider.stats.calls.get, 1);
  });

  it('caps the backoff at maxDelayMs and retries timeouts too', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const { stub, times } = flaky(sim, clock, 5, 'timeout');
    const provider = new ResilientProvider(stub, {
      clock,
      retry: { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 3000 },
    });
    await provider.get(scope, m!.id);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(
      gaps.every((g) => g <= 3000),
      `gaps ${gaps.join(',')}`,
    );
    assert.equal(provider.stats.retriesByKind.timeout, 5);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const { stub, times } = flaky(sim, clock, 100, 'unavailable', 503);
    const provider = new ResilientProvider(stub, {
      clock,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100 },
    });
    const error = await assertRejects(provider.get(scope, m!.id), 'unavailable');
    assert.equal(error.message, 'unavailable #4');
    assert.equal(times.length, 4);
    assert.equal(provider.stats.gaveUp, 1);
    assert.equal(provider.stats.retries, 3);
  });

  for (const [kind, status] of [
    ['not_found', 404],
    ['conflict', 409],
    ['unauthorized', 401],
    ['bad_request', 400],
    ['machine_failed', undefined],
    ['wait_timeout', undefined],
  ] as const) {
    it(`never retries ${kind}`, async () => {
      const clock = new VirtualClock(0);
      const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
      const { stub, times } = flaky(sim, clock, 100, kind, status);
      const provider = new ResilientProvider(stub, { clock });
      await assertRejects(provider.get(scope, 'x'), kind);
      assert.equal(times.length, 1);
      assert.equal(provider.stats.retries, 0);
    });
  }

  it('never retries what is not a ProviderError (an abort)', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    let calls = 0;
    const stub: Provider = Object.create(sim) as Provider;
    stub.list = async () => {
      calls++;
      throw new Error('boom');
    };
    const provider = new ResilientProvider(stub, { clock });
    await assert.rejects(provider.list(scope), /boom/);
    assert.equal(calls, 1);
  });

  it('get of an unknown machine against the sim is not_found, at once', async () => {
    const { provider } = setup();
    await assertRejects(provider.get(scope, 'nope'), 'not_found');
    assert.equal(provider.stats.attempts.get, 1);
  });

  it('retries a create that timed out without making a second machine (idempotent by launch id)', async () => {
    const { sim, provider } = setup(
      { rateLimits: false, faults: { timeoutRate: 0.5 } },
      { retry: { maxAttempts: 30 } },
    );
    const specs = Array.from({ length: 30 }, () => spec());
    const made = await Promise.all(specs.map((s) => provider.create(scope, s)));
    assert.ok(sim.stats.timeoutsApplied > 0, 'some timed-out creates did happen');
    sim.options.faults.timeoutRate = 0;
    const listed = await provider.list(scope);
    assert.equal(listed.length, 30);
    assert.deepEqual(new Set(made.map((m) => m.id)), new Set(listed.map((m) => m.id)));
  });

  /** Machines not destroyed nor being destroyed. */
  const serving = async (provider: Provider) =>
    (await provider.list(scope)).filter((m) => m.state !== 'destroyed' && m.state !== 'destroying').map((m) => m.id);

  it('after a timed-out destroy that happened, reads the machine and sends nothing again', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    let n = 0;
    const stub: Provider = Object.create(sim) as Provider;
    stub.destroy = async (s, id) => {
      n++;
      await sim.destroy(s, id); // it happened…
      throw new ProviderError('timeout', 'destroy timed out'); // …but the answer was lost
    };
    const provider = new ResilientProvider(stub, { clock });
    await provider.destroy(scope, m!.id);
    assert.equal(n, 1, 'one destroy sent: the read found the machine gone');
    assert.deepEqual(await serving(provider), []);
    // a plain not_found (no earlier timeout) is still an error
    await assertRejects(provider.destroy(scope, 'nope'), 'not_found');
  });

  it('a timed-out destroy applied late: the resend is refused as a conflict (the lease went with the machine), a read settles it', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    let n = 0;
    let lateApplied: Promise<void> | undefined;
    const stub: Provider = Object.create(sim) as Provider;
    stub.destroy = async (s, id) => {
      if (++n === 1) {
        // The API applies it after the client gave up: the read before the resend still finds the machine.
        lateApplied = clock.sleep(10_000).then(() => sim.destroy(s, id));
        throw new ProviderError('timeout', 'destroy timed out');
      }
      await lateApplied; // by the time the resend arrives, the late one has destroyed the machine
      throw new ProviderError('conflict', `lease nonce is not the lease of machine ${id}: expired or released`);
    };
    const provider = new ResilientProvider(stub, { clock });
    await provider.destroy(scope, m!.id);
    assert.equal(n, 2, 'sent again, since the machine was still there when read');
    assert.deepEqual(await serving(provider), []);
  });
});

describe('resilient provider: client-side throttle', () => {
  it('keeps a busy runway under every documented limit: no 429s from the sim', async () => {
    const { clock, sim, provider } = setup({ rateLimits: true });
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const t0 = clock.now();
    const creates = Array.from({ length: 30 }, () => provider.create(scope, spec()));
    const gets = Array.from({ length: 40 }, () => provider.get(scope, m!.id));
    const lists = Array.from({ length: 10 }, () => provider.list(scope));
    const cordons = Array.from({ length: 8 }, (_, i) =>
      i % 2 ? provider.uncordon(scope, m!.id) : provider.cordon(scope, m!.id),
    );
    const made = await Promise.all(creates);
    await Promise.all([...gets, ...lists, ...cordons]);
    const waits = await Promise.all(
      made.map((c) => provider.waitFor(scope, c.id, { state: 'started', healthy: true }, 120_000)),
    );
    assert.equal(waits.length, 30);
    assert.equal(sim.stats.rateLimited, 0, 'no 429s');
    assert.equal(provider.stats.rateLimited, 0);
    assert.ok(provider.stats.throttled > 0);
    // 30 creates at 1/s after a burst of 3 take at least 27 s.
    assert.ok(clock.now() - t0 >= 27_000, `took ${clock.now() - t0} ms`);
    assert.equal(provider.stats.calls.create, 30);
    assert.equal(provider.stats.calls.get, 40);
    assert.equal(provider.stats.calls.list, 10);
    assert.equal(provider.stats.calls.wait, 30);
    assert.equal(provider.stats.totalCalls, 30 + 40 + 10 + 8 + 30);
    assert.equal(sim.stats.calls.create, 30);
  });

  it('updates a 1,000-machine fleet with rolling-like batches and no 429s', async () => {
    const { sim, provider } = setup({ rateLimits: true, latency: undefined });
    sim.seed(scope, [{ name: 'web', count: 1000 }], 'v1');
    const machines = await provider.list(scope);
    const done: Machine[] = [];
    for (let i = 0; i < machines.length; i += 250) {
      const batch = machines.slice(i, i + 250);
      done.push(
        ...(await Promise.all(
          batch.map(async (m) => {
            const u = await provider.update(scope, m.id, { release: 'v2' });
            const first = await provider.get(scope, m.id);
            assert.equal(first.instanceVersion, u.instanceVersion);
            return provider.waitFor(
              scope,
              m.id,
              { state: 'started', healthy: true, instanceVersion: u.instanceVersion },
              300_000,
            );
          }),
        )),
      );
    }
    assert.equal(done.length, 1000);
    assert.equal(sim.stats.rateLimited, 0);
  });
});

describe('resilient provider: waits', () => {
  it('re-issues a wait in chunks of at most 60 s until the caller’s timeout', async () => {
    const { clock, sim, provider } = setup();
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const u = await provider.update(scope, m!.id, { release: RELEASES.brokenRelease });
    const t0 = clock.now();
    const error = await assertRejects(
      provider.waitFor(scope, m!.id, { state: 'started', healthy: true, instanceVersion: u.instanceVersion }, 150_000),
      'wait_timeout',
    );
    assert.match(error.message, /150000 ms/);
    const elapsed = clock.now() - t0;
    assert.ok(elapsed >= 150_000 && elapsed < 151_000, `elapsed ${elapsed}`);
    assert.equal(sim.stats.calls.wait, 3, '60 + 60 + 30 s');
    assert.equal(provider.stats.waitChunks, 2);
    assert.equal(provider.stats.calls.wait, 1);
    assert.equal(MAX_WAIT_CHUNK_MS, 60_000);
  });

  it('resolves in a later chunk when the machine gets there after 60 s', async () => {
    const { clock, sim, provider } = setup({ latency: { ...CONSTANT, boot: { kind: 'constant', ms: 100_000 } } });
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const u = await provider.update(scope, m!.id, { release: 'v2' });
    const ready = await provider.waitFor(
      scope,
      m!.id,
      { state: 'started', healthy: true, instanceVersion: u.instanceVersion },
      300_000,
    );
    assert.equal(ready.release, 'v2');
    assert.equal(clock.now(), 100 + 2000 + 100_000 + 4000);
    assert.equal(provider.stats.waitChunks, 1);
  });

  it('still fails fast inside a chunk (machine exits)', async () => {
    const { clock, sim, provider } = setup();
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const u = await provider.update(scope, m!.id, { release: RELEASES.bootFailRelease });
    const t0 = clock.now();
    await assertRejects(
      provider.waitFor(scope, m!.id, { state: 'started', healthy: true, instanceVersion: u.instanceVersion }, 300_000),
      'machine_failed',
    );
    assert.ok(clock.now() - t0 < 10_000);
    assert.equal(provider.stats.retries, 0);
  });

  it('passes events through from the inner provider, and only when it has them', async () => {
    const { sim, provider } = setup();
    assert.ok(provider.subscribe);
    let seen = 0;
    const off = provider.subscribe(scope, () => seen++);
    sim.seed(scope, [{ name: 'web', count: 2 }], 'v1');
    off();
    assert.equal(seen, 2);
    assert.equal(provider.drain, undefined, 'the sim has no drain, so neither does its wrapper');
    const draining: Provider = Object.create(sim) as Provider;
    const drained: string[] = [];
    draining.drain = async (_s, id) => {
      drained.push(id);
    };
    await new ResilientProvider(draining, { clock: new VirtualClock() }).drain!(scope, 'm1', 1000);
    assert.deepEqual(drained, ['m1']);
    const bare: Provider = Object.create(sim) as Provider;
    Object.defineProperty(bare, 'subscribe', { value: undefined });
    assert.equal(new ResilientProvider(bare, { clock: new VirtualClock() }).subscribe, undefined);
  });
});
