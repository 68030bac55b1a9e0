// SimOptions layering: DEFAULT_SIM_OPTIONS < [sim] < [environments.NAME.sim]. Latency is merged per
// operation and faults per key (error_rate per operation), so an environment can change one thing.

import {
  DEFAULT_SIM_OPTIONS,
  type LatencyModel,
  type SimFaults,
  type SimLatencyOp,
  type SimOptions,
} from '../providers/sim/options.js';

/** What one `[sim]` table sets; everything optional. */
export interface SimOverrides {
  clock?: SimOptions['clock'];
  speed?: number;
  seed?: number;
  rateLimits?: boolean;
  initialRelease?: string;
  latency?: Partial<Record<SimLatencyOp, LatencyModel>>;
  faults?: Partial<SimFaults>;
}

export function mergeSimOptions(
  base: SimOptions = DEFAULT_SIM_OPTIONS,
  ...layers: (SimOverrides | undefined)[]
): SimOptions {
  // structuredClone: callers (the sim provider) may mutate what they get; the defaults must stay put.
  const out = structuredClone(base);
  for (const layer of layers) {
    if (!layer) continue;
    const { latency, faults, ...scalars } = layer;
    for (const [k, v] of Object.entries(scalars)) if (v !== undefined) Object.assign(out, { [k]: v });
    if (latency)
      for (const [op, model] of Object.entries(latency)) if (model) out.latency[op as SimLatencyOp] = { ...model };
    if (faults) {
      const { errorRate, ...rest } = faults;
      for (const [k, v] of Object.entries(rest))
        if (v !== undefined) Object.assign(out.faults, { [k]: Array.isArray(v) ? [...v] : v });
      if (errorRate) out.faults.errorRate = { ...out.faults.errorRate, ...errorRate };
    }
  }
  return out;
}
