// The outage gate under scattered 5xx (issue 19's `5xx` chaos scenario: 15 % of API calls answered
// 503, 5 % timing out), over real HTTP against `runway sim serve`: the provider answers most requests,
// so the gate must never call it an outage. A wait is many requests (slices, GETs); each answer the
// provider gives, inside a call that fails in the end or not, says it is there. Then the same on a
// virtual clock, with the answers reported by a stub (any provider with `onAnswer`).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ScaledClock, VirtualClock } from '../../src/domain/clock.js';
import { ProviderError, type Provider } from '../../src/providers/contract.js';
import { ResilientProvider } from '../../src/providers/resilient-provider.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import { startSimServer, type SimServer } from '../../src/providers/sim/serve/sim-server.js';
import { flyRig, TOKEN } from './fly-harness.js';
import { simOptions } from './sim-harness.js';

const scope = { app: 'mechanic', env: 'production' };

/** Faster than the shared server: the wait below is minutes of simulated time. */
const SPEED = 50;

let server: SimServer | undefined;
after(async () => server?.close());

async function faultyServer(): Promise<SimServer> {
  server ??= await startSimServer({
    clock: new ScaledClock(SPEED),
    token: TOKEN,
    sim: { seed: 11, rateLimits: false, faults: { errorRate: { all: 0.15 }, timeoutRate: 0.05 } },
  });
  return server;
}

describe('provider gate under 15 % 503 and 5 % timeouts (fly over HTTP)', () => {
  it('a long wait whose requests mostly answer ends on its own deadline, never as an outage', async () => {
    const rig = await flyRig({ server: await faultyServer(), speed: SPEED, resilient: { outageTimeoutMs: 60_000 } });
    try {
      const [id] = rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const seen = await rig.provider.get(rig.scope, id!);
      // The machine runs and nobody stops it: the wait can only run out, after 24 slices and their GETs
      // (~50 requests, about ten of them 503 or 504), each failure retried.
      const error = await rig.provider
        .waitFor(rig.scope, id!, { state: 'stopped', instanceVersion: seen.instanceVersion }, 240_000)
        .then(
          () => assert.fail('the machine never stops'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof ProviderError, String(error));
      assert.doesNotMatch(error.message, /has not answered/);
      assert.equal(error.kind, 'wait_timeout', error.message);
      assert.ok(rig.provider.stats.retries > 0, 'the faults were met and retried');
      assert.equal(rig.provider.stats.gaveUp, 0);
    } finally {
      await rig.close();
    }
  });
});

describe('provider gate: answers reported by the inner provider', () => {
  it('a call that keeps failing while its requests are answered is no outage', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const listeners = new Set<() => void>();
    let attempts = 0;
    const stub: Provider = Object.create(sim) as Provider;
    stub.onAnswer = (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    // Each attempt is two requests: the first answered (the sim's own latency), the second a 503
    // at once (until the 200th attempt). The gate stays open only between the two, so this call is
    // neither an outage nor, for the per-call bound, failing while others are answered.
    stub.get = async (s, id) => {
      await sim.get(s, id);
      for (const l of listeners) l();
      if (++attempts < 200) throw new ProviderError('unavailable', '503 service unavailable', { status: 503 });
      return sim.get(s, id);
    };
    const provider = new ResilientProvider(stub, { clock, limits: false, seed: 3, outageTimeoutMs: 30_000 });
    const got = await provider.get(scope, m!.id);
    assert.equal(got.id, m!.id);
    assert.equal(attempts, 200);
    assert.ok(clock.now() > 30_000, `failed for ${clock.now()} ms in all, longer than the outage timeout`);
    assert.equal(provider.stats.gaveUp, 0);
    assert.equal(provider.gate!.down, undefined);
  });

  it('a call that fails every time while the provider answers others ends after the outage timeout', async () => {
    const clock = new VirtualClock(0);
    const sim = new SimProvider(clock, simOptions({ rateLimits: false }));
    const [m] = sim.seed(scope, [{ name: 'web', count: 1 }], 'v1');
    const listeners = new Set<() => void>();
    const stub: Provider = Object.create(sim) as Provider;
    stub.onAnswer = (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    // This machine's host is down: its calls fail, always; the rest of the fleet is answered.
    let attempts = 0;
    stub.update = async () => {
      attempts++;
      await sim.get(scope, m!.id); // the request's latency, as the sim draws it
      throw new ProviderError('unavailable', '503 service unavailable', { status: 503 });
    };
    let others = true;
    void (async () => {
      while (others) {
        await sim.get(scope, m!.id);
        for (const l of listeners) l();
      }
    })();
    const provider = new ResilientProvider(stub, { clock, limits: false, seed: 4, outageTimeoutMs: 30_000 });
    await assert.rejects(
      provider.update(scope, m!.id, { release: 'v2', image: 'mechanic:v2' }),
      (e: ProviderError) =>
        e.kind === 'unavailable' && /failed for \d+ s while the provider answered other calls/.test(e.message),
    );
    others = false;
    assert.ok(attempts > 10, `${attempts} attempts`);
    assert.ok(clock.now() >= 30_000, `gave up at ${clock.now()} ms of virtual time, before the outage timeout`);
    assert.equal(provider.stats.gaveUp, 1);
  });
});
