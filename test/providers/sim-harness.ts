// Contract-suite harnesses for the sim provider (bare, and behind the resilient provider).

import { VirtualClock } from '../../src/domain/clock.js';
import { ResilientProvider, type RetryPolicy } from '../../src/providers/resilient-provider.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import type { SimOptionsInput } from '../../src/providers/sim/resolve-options.js';
import type { Harness } from './contract-suite.js';

export const RELEASES = {
  release: 'v1',
  nextRelease: 'v2',
  brokenRelease: 'v-broken',
  bootFailRelease: 'v-bootfail',
} as const;

let harnesses = 0;

export function simOptions(overrides: SimOptionsInput = {}): SimOptionsInput {
  return {
    clock: 'virtual',
    seed: 7,
    rateLimits: true,
    ...overrides,
    faults: {
      bootFailureReleases: [RELEASES.bootFailRelease],
      unhealthyReleases: [RELEASES.brokenRelease],
      ...overrides.faults,
    },
  };
}

export function simHarness(
  overrides: SimOptionsInput = {},
  resilient?: { retry?: Partial<RetryPolicy>; throttle?: boolean },
): () => Promise<Harness> {
  return async () => {
    const n = ++harnesses;
    const clock = new VirtualClock();
    const sim = new SimProvider(clock, simOptions({ seed: 7 + n, ...overrides }));
    const provider = resilient
      ? new ResilientProvider(sim, {
          clock,
          seed: n,
          retry: resilient.retry,
          limits: resilient.throttle === false ? false : undefined,
        })
      : sim;
    const scope = { app: `contract${n}`, env: 'staging' };
    return {
      provider,
      scope,
      clock,
      ...RELEASES,
      async seed(groups, release) {
        sim.seed(scope, groups, release);
      },
      timeouts: { readyMs: 120_000, brokenMs: 90_000 },
      async cleanup() {
        await provider.close?.();
      },
    };
  };
}
