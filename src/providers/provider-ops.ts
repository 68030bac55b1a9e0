// Every provider API operation, for counters kept per op (sim and resilient stats).

import type { ProviderOp } from './contract.js';

export const PROVIDER_OPS: readonly ProviderOp[] = [
  'list',
  'get',
  'create',
  'update',
  'start',
  'stop',
  'destroy',
  'cordon',
  'uncordon',
  'wait',
];

/** A counter per op. */
export type CountsByOp = Record<ProviderOp, number>;

/** The calls a provider (or a layer over one) was asked to make, by op and in all. */
export interface CallCounts {
  calls: CountsByOp;
  totalCalls: number;
}

/** A counter per op, all zero. */
export function zeroByOp(): Record<ProviderOp, number> {
  const out = {} as Record<ProviderOp, number>;
  for (const op of PROVIDER_OPS) out[op] = 0;
  return out;
}
