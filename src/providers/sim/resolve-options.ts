// Sim settings given in part (tests, examples) completed from DEFAULT_SIM_OPTIONS.

import {
  DEFAULT_SIM_OPTIONS,
  type LatencyModel,
  type SimFaults,
  type SimLatencyOp,
  type SimOptions,
} from './options.js';

export type SimOptionsInput = Partial<Omit<SimOptions, 'latency' | 'faults'>> & {
  latency?: Partial<Record<SimLatencyOp, LatencyModel>>;
  faults?: Partial<SimFaults>;
};

export function resolveSimOptions(input: SimOptionsInput = {}): SimOptions {
  return {
    ...DEFAULT_SIM_OPTIONS,
    ...input,
    latency: { ...DEFAULT_SIM_OPTIONS.latency, ...input.latency },
    faults: {
      ...DEFAULT_SIM_OPTIONS.faults,
      ...input.faults,
      errorRate: { ...DEFAULT_SIM_OPTIONS.faults.errorRate, ...input.faults?.errorRate },
    },
  };
}

/** Every latency constant `ms` (handy in tests that compute exact times). */
export function constantLatency(
  ms: Partial<Record<SimLatencyOp, number>>,
): Partial<Record<SimLatencyOp, LatencyModel>> {
  const out: Partial<Record<SimLatencyOp, LatencyModel>> = {};
  for (const [op, value] of Object.entries(ms) as [SimLatencyOp, number][]) out[op] = { kind: 'constant', ms: value };
  return out;
}
