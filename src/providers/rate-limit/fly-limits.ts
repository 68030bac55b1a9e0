// Fly Machines API rate limits, as documented (docs: working-with-machines-api; see
// /work/shared/reference/flyctl-and-machines-api.md): 1 request/s per action per identifier, burst 3,
// where the identifier is the machine id, or the app for app-level actions (create; list is treated
// as app-level too); Get Machine is 5 requests/s, burst 10. One table, used by the sim to answer 429s
// and by the resilient provider to throttle itself.

import type { FleetScope } from '../../domain/types.js';
import type { ProviderOp } from '../contract.js';
import { TokenBucket, type BucketShape } from './token-bucket.js';

export interface RateLimit extends BucketShape {
  /** What the limit is counted by: each machine, or the whole app. */
  per: 'machine' | 'app';
}

export type RateLimitTable = Record<ProviderOp, RateLimit>;

const perMachine: RateLimit = { per: 'machine', ratePerSec: 1, burst: 3 };
const perApp: RateLimit = { per: 'app', ratePerSec: 1, burst: 3 };

export const FLY_RATE_LIMITS: Readonly<RateLimitTable> = Object.freeze({
  list: perApp,
  create: perApp,
  get: { per: 'machine', ratePerSec: 5, burst: 10 },
  update: perMachine,
  start: perMachine,
  stop: perMachine,
  destroy: perMachine,
  cordon: perMachine,
  uncordon: perMachine,
  wait: perMachine,
});

/**
 * The identifier a call is counted by. An app is app+environment: on Fly every environment of an
 * app is its own Fly app (`mechanic-staging`, `mechanic-production`), with its own limits.
 */
export function rateLimitKey(limit: RateLimit, scope: FleetScope, machineId: string | undefined): string {
  const app = `${scope.app}/${scope.env}`;
  return limit.per === 'app' || machineId === undefined ? app : `${app}/${machineId}`;
}

/** Token buckets for every op of a limits table. */
export class RateLimiter {
  private readonly buckets = new Map<ProviderOp, TokenBucket>();

  constructor(readonly table: Readonly<RateLimitTable> = FLY_RATE_LIMITS) {
    for (const [op, limit] of Object.entries(table) as [ProviderOp, RateLimit][]) {
      this.buckets.set(op, new TokenBucket(limit));
    }
  }

  /** Server side: 0 when the call may go ahead (a token is spent), else ms until it may (Retry-After). */
  take(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const bucket = this.buckets.get(op);
    if (!bucket) return 0;
    return bucket.take(rateLimitKey(this.table[op], scope, machineId), nowMs);
  }

  /** Client side: reserve a slot in call order; returns ms to wait before sending. */
  reserve(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const bucket = this.buckets.get(op);
    if (!bucket) return 0;
    return bucket.reserve(rateLimitKey(this.table[op], scope, machineId), nowMs);
  }
}
