// A wait whose answers a slow Machines API holds back past its deadline: the machine came up in
// time, so the wait must end on what the machine is when read, not fail the step as "did not run
// the release in time". Over real HTTP against `runway sim serve` with a constant API latency longer
// than the client waits for an answer to a wait request.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScaledClock } from '../../src/domain/clock.js';
import { startSimServer } from '../../src/providers/sim/serve/sim-server.js';
import { flyRig, TOKEN } from './fly-harness.js';

describe('fly provider: a wait on a slow API', () => {
  it('a machine that met the condition before the deadline is returned although every wait answer came too late', async () => {
    // Simulated seconds at 8× (its own server: the API's latency is the point, not the shared server's).
    const speed = 8;
    const server = await startSimServer({
      clock: new ScaledClock(speed),
      token: TOKEN,
      sim: {
        seed: 3,
        rateLimits: false,
        // Every call answers after 40 s; a wait request is given its slice + 15 s, so none is answered.
        latency: {
          api: { kind: 'constant', ms: 40_000 },
          update: { kind: 'constant', ms: 1_000 },
          boot: { kind: 'constant', ms: 1_000 },
          checks: { kind: 'constant', ms: 1_000 },
        },
      },
    });
    const rig = await flyRig({ server, speed, requestTimeoutMs: 60_000 });
    try {
      const [id] = server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const updated = await rig.provider.update(rig.scope, id!, { release: 'v2' });
      // The machine is started and passing ~3 s after the update; the wait allows 5 s, but its
      // first answer would come 40 s after it was sent.
      const machine = await rig.provider.waitFor(
        rig.scope,
        id!,
        { state: 'started', healthy: true, release: 'v2', instanceVersion: updated.instanceVersion },
        5_000,
      );
      assert.ok(rig.provider.stats.retriesByKind.timeout >= 1, 'the wait request went unanswered in time');
      assert.equal(machine.release, 'v2');
      assert.equal(machine.state, 'started');
      assert.equal(machine.health, 'passing');
    } finally {
      await rig.close();
      await server.close();
    }
  });
});
