// A change of a machine the Machines API applies after runway gave up on its answer (a slow API):
// Fly applies a machine's changes one after another, so a late cordon cannot land after the uncordon
// runway sent later and leave the machine out of traffic once the deploy is over. Over real HTTP
// against `runway sim serve`, whose `actionDelay` fault holds a cordon back past the client's timeout.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScaledClock } from '../../src/domain/clock.js';
import { startSimServer } from '../../src/providers/sim/serve/sim-server.js';
import { until } from '../support/wait.js';
import { flyRig, raw, TOKEN } from './fly-harness.js';

describe('fly provider: a change applied after its answer was lost', () => {
  it('a cordon that lands after the client timed out is applied before the later uncordon: the machine ends in traffic', async () => {
    // Its own, slower server (as the late-create test): simulated seconds stay real enough on a busy machine.
    const speed = 4;
    const server = await startSimServer({ clock: new ScaledClock(speed), token: TOKEN, sim: { seed: 5 } });
    const rig = await flyRig({ server, speed, requestTimeoutMs: 4_000 });
    try {
      const [id] = server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      // The first cordon is held back 20 s, far past the 4 s the client waits; runway sends it again.
      server.backend.setFaults({ actionDelayMs: 20_000, actionDelayCount: 1 });
      await rig.provider.cordon(rig.scope, id!);
      assert.ok(rig.provider.stats.retriesByKind.timeout >= 1, 'the first cordon timed out and was sent again');
      await rig.provider.uncordon(rig.scope, id!);
      // Once the held-back cordon has been applied (with turns, before the uncordon's), the machine must be in traffic.
      await until(() => server.backend.turns.delayedApplied === 1, 'the late cordon was applied');
      const { body } = await raw<{ cordoned?: boolean }>(server, 'GET', `/v1/apps/${rig.app}/machines/${id}`, {
        speed,
      });
      assert.equal(body.cordoned ?? false, false, 'the machine is in traffic');
    } finally {
      await rig.close();
      await server.close();
    }
  });
});
