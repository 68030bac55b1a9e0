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

/** A counter per op, all zero. */
export function zeroByOp(): Record<ProviderOp, number> {
  const out = {} as Record<ProviderOp, number>;
  for (const op of PROVIDER_OPS) out[op] = 0;
  return out;
}
