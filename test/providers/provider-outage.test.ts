// Outages ridden out by the resilient provider: one gate, one probe, retries until
// provider_outage_timeout, waits stretched by the outage, and changes whose answer was lost never
// sent blindly again.

import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../src/domain/clock.js';
import type { FleetScope } from '../../src/domain/types.js';
import { ProviderError, type Provider } from '../../src/providers/contract.js';
import { ResilientProvider } from '../../src/providers/resilient-provider.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import { assertRejects } from './contract-suite.js';
import { simOptions } from './sim-harness.js';
import { until } from '../support/wait.js';
import { CONSTANT } from './sim-fixtures.js';

const scope: FleetScope = { app: 'mechanic', env: 'production' };

/** Every call fails with ECONNREFUSED between `from` and `to` (virtual ms); records the sends. */
function withOutage(inner: Provider, clock: VirtualClock, from: number, to: number) {
  const sends: { op: string; at: number }[] = [];
  const stub: Provider = Object.create(inner) as Provider;
  const down = () => clock.now() >= from && clock.now() < to;
  for (const op of ['list', 'get', 'update', 'cordon', 'uncordon', 'destroy', 'create'] as const) {
    const real = (inner[op] as (...args: unknown[]) => Promise<unknown>).bind(inner);
    (stub as unknown as Record<string, unknown>)[op] = async (...args: unknown[]) => {
      sends.push({ op, at: clock.now() });
      if (down()) throw new ProviderError('unavailable', `cannot reach the API: ECONNREFUSED`, { op });
      return real(...args);
    };
  }
  const realWait = inner.waitFor.bind(inner);
  stub.waitFor = async (s, id, c, t, signal) => {
    sends.push({ op: 'wait', at: clock.now() });
    if (down()) throw new ProviderError('unavailable', 'cannot reach the API: ECONNREFUSED', { op: 'wait' });
    return realWait(s, id, c, t, signal);
  };
  return { stub, sends };
}

describe('resilient provider: outages', () => {
  it('pauses every call while the provider is away, probes with one call, and goes on when it answers', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const machines = sim.seed(scope, [{ name: 'web', count: 20 }], 'v1');
    const { stub, sends } = withOutage(sim, clock, 0, 10_000);
    const provider = new ResilientProvider(stub, { clock, limits: false, seed: 5, outageTimeoutMs: 120_000 });
    const seen: string[] = [];
    provider.gate!.onChange((e) => seen.push(e.type));
    const got = await Promise.all(machines.map((m) => provider.get(scope, m.id)));
    assert.equal(got.length, 20);
    assert.ok(clock.now() >= 10_000, 'nothing answered before the provider came back');
    assert.deepEqual(seen, ['down', 'up']);
    // During the outage only the probe sent (plus each call's first try): far fewer than 20 calls × retries.
    const during = sends.filter((s) => s.at < 10_000);
    const probes = during.length - 20;
    assert.ok(probes >= 3 && probes <= 12, `${probes} probe sends during the outage`);
    assert.equal(provider.gate!.down, undefined);
  });

  it('gives up after provider_outage_timeout with an error that says so', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const { stub } = withOutage(sim, clock, 0, Number.MAX_SAFE_INTEGER);
    const provider = new ResilientProvider(stub, { clock, limits: false, outageTimeoutMs: 30_000 });
    const error = await assertRejects(provider.get(scope, m!.id), 'unavailable');
    assert.match(error.message, /has not answered for \d+ s \(provider_outage_timeout 30 s\)/);
    assert.ok(clock.now() >= 30_000 && clock.now() < 45_000, `gave up at ${clock.now()}`);
    assert.equal(provider.stats.gaveUp, 1);
  });

  it('does not count the outage against a wait', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const updated = await sim.update(scope, m!.id, { release: 'v2' });
    // The machine needs ~7 s to boot and pass checks; the API is away from 1 s to 40 s; the wait allows 20 s.
    const { stub } = withOutage(sim, clock, 1_000, 40_000);
    const provider = new ResilientProvider(stub, {
      clock,
      limits: false,
      maxWaitChunkMs: 500,
      outageTimeoutMs: 120_000,
    });
    const ready = await provider.waitFor(
      scope,
      m!.id,
      { state: 'started', healthy: true, instanceVersion: updated.instanceVersion },
      20_000,
    );
    assert.equal(ready.release, 'v2');
    assert.ok(clock.now() >= 40_000);
  });

  it('reads the machine before resending an update whose answer was lost: applied once', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    let updates = 0;
    const stub: Provider = Object.create(sim) as Provider;
    stub.update = async (s, id, u) => {
      updates++;
      await sim.update(s, id, u); // applied…
      throw new ProviderError('timeout', 'no answer within 30000 ms (the change may have happened)', {
        op: 'update',
        status: 504,
      }); // …answer lost
    };
    const provider = new ResilientProvider(stub, { clock, limits: false, outageTimeoutMs: 120_000 });
    const answer = await provider.update(scope, m!.id, { release: 'v2', deployId: 'd1', role: 'serving' });
    assert.equal(updates, 1, 'sent once');
    assert.equal(answer.release, 'v2');
    assert.equal(answer.deployId, 'd1');
    assert.equal(provider.stats.changesRecovered, 1);
  });

  it('resends an update that did not happen (the read shows the old release)', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    let updates = 0;
    const stub: Provider = Object.create(sim) as Provider;
    stub.update = async (s, id, u) => {
      if (++updates === 1)
        throw new ProviderError('unavailable', '503 service unavailable', { op: 'update', status: 503 });
      return sim.update(s, id, u);
    };
    const provider = new ResilientProvider(stub, { clock, limits: false, outageTimeoutMs: 120_000 });
    const answer = await provider.update(scope, m!.id, { release: 'v2', deployId: 'd1' });
    assert.equal(updates, 2);
    assert.equal(answer.release, 'v2');
    assert.equal(provider.stats.changesRecovered, 0);
  });

  it('an abort while waiting at the gate ends the call at once', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const machines = sim.seed(scope, [{ name: 'web', count: 3 }], 'v1');
    const { stub } = withOutage(sim, clock, 0, 60_000);
    const provider = new ResilientProvider(stub, { clock, limits: false, outageTimeoutMs: 120_000 });
    const abort = new AbortController();
    const calls = machines.map((m) => provider.cordon(scope, m.id, { signal: abort.signal }));
    await clock.sleep(5_000);
    abort.abort(new Error('aborted by test'));
    const results = await Promise.allSettled(calls);
    assert.ok(results.every((r) => r.status === 'rejected' && /aborted by test/.test(String(r.reason))));
    assert.ok(clock.now() < 60_000);
  });

  it('twenty calls waiting at the gate with one signal put one abort listener on it (no leak warning), and an abort ends them all', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, rateLimits: false }));
    const machines = sim.seed(scope, [{ name: 'web', count: 20 }], 'v1');
    const { stub, sends } = withOutage(sim, clock, 0, Infinity);
    const provider = new ResilientProvider(stub, { clock, limits: false, outageTimeoutMs: Number.MAX_SAFE_INTEGER });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    // One step's signal for all: a bluegreen cutover sends its changes so.
    const abort = new AbortController();
    const calls = machines.map((m) => provider.cordon(scope, m.id, { signal: abort.signal }));
    let listeners = -1;
    try {
      await until(() => sends.length > machines.length, 'every call tried once and the probe tried again');
      listeners = getEventListeners(abort.signal, 'abort').length;
    } finally {
      // Always: the outage never ends, so nothing else would end the calls.
      abort.abort(new Error('aborted by test'));
    }
    const results = await Promise.allSettled(calls);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    assert.ok(listeners >= 1 && listeners <= 2, `${listeners} abort listeners on the shared signal`);
    assert.ok(results.every((r) => r.status === 'rejected' && /aborted by test/.test(String(r.reason))));
    assert.deepEqual(
      warnings.filter((w) => w === 'MaxListenersExceededWarning'),
      [],
    );
  });
});
