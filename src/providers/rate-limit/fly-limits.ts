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

/** A bucket's key for app-level calls (machine ids are never empty). */
const APP_KEY = '';

/**
 * Token buckets for every op of a limits table. A call is counted by its machine, or by its app for
 * app-level ops; an app is app+environment: on Fly every environment of an app is its own Fly app
 * (`mechanic-staging`, `mechanic-production`), with its own limits. Buckets are kept per app and
 * environment, keyed by machine id (or APP_KEY) within, so a call finds its bucket without building a
 * key string: two limiters (the sim's and the resilient provider's) see every call of a deploy.
 */
export class RateLimiter {
  private readonly scopes = new Map<string, Map<string, Map<ProviderOp, TokenBucket>>>();

  constructor(readonly table: Readonly<RateLimitTable> = FLY_RATE_LIMITS) {}

  /** Server side: 0 when the call may go ahead (a token is spent), else ms until it may (Retry-After). */
  take(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const bucket = this.bucket(op, scope);
    if (!bucket) return 0;
    return bucket.take(this.key(op, machineId), nowMs);
  }

  /** Client side: reserve a slot in call order; returns ms to wait before sending. */
  reserve(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const bucket = this.bucket(op, scope);
    if (!bucket) return 0;
    return bucket.reserve(this.key(op, machineId), nowMs);
  }

  private key(op: ProviderOp, machineId: string | undefined): string {
    return this.table[op].per === 'app' || machineId === undefined ? APP_KEY : machineId;
  }

  private bucket(op: ProviderOp, scope: FleetScope): TokenBucket | undefined {
    const limit = this.table[op] as RateLimit | undefined;
    if (!limit) return undefined;
    let envs = this.scopes.get(scope.app);
    if (!envs) this.scopes.set(scope.app, (envs = new Map()));
    let buckets = envs.get(scope.env);
    if (!buckets) envs.set(scope.env, (buckets = new Map()));
    let bucket = buckets.get(op);
    if (!bucket) buckets.set(op, (bucket = new TokenBucket(limit)));
    return bucket;
  }
}
