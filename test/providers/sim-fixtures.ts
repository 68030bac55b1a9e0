// What the sim provider's own tests share: a scope, constant latencies, a sim on a virtual clock, and
// a machine spec with a fresh launch id.

import { VirtualClock } from '../../src/domain/clock.js';
import type { FleetScope } from '../../src/domain/types.js';
import { constantLatency, type SimOptionsInput } from '../../src/providers/sim/resolve-options.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import { RELEASES, simOptions } from './sim-harness.js';

export const scope: FleetScope = { app: 'mechanic', env: 'staging' };

/** Every latency constant: API 100 ms, create 1 s, update 2 s, boot 3 s, checks 4 s, stop 2 s, destroy 1 s. */
export const CONSTANT = constantLatency({
  api: 100,
  create: 1000,
  update: 2000,
  boot: 3000,
  checks: 4000,
  stop: 2000,
  destroy: 1000,
});

export function makeSim(overrides: SimOptionsInput = {}, recordOps = false) {
  const clock = new VirtualClock(0);
  const sim = new SimProvider(clock, simOptions({ latency: CONSTANT, ...overrides }), { recordOps });
  return { clock, sim };
}

let launch = 0;
export const spec = (release: string = RELEASES.release) => ({
  group: 'web',
  release,
  role: 'serving' as const,
  cordoned: false,
  launchId: `t:${++launch}`,
});
