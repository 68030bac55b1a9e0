// Fly Machines API rate limits, as documented (docs: working-with-machines-api; see
// /work/shared/reference/flyctl-and-machines-api.md): 1 request/s per action per identifier, burst 3,
// where the identifier is the machine id, or the app for app-level actions (create; list is treated
// as app-level too); Get Machine is 5 requests/s, burst 10. One table, used by the sim to answer 429s
// and by the resilient provider to throttle itself.

import type { FleetScope } from '../../domain/types.js';
import type { ProviderOp } from '../contract.js';
import { PROVIDER_OPS } from '../provider-ops.js';
import { BucketSet } from './bucket-set.js';
import type { BucketShape } from './token-bucket.js';

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
 * environment, and within it per machine id (or APP_KEY), a bucket of each op per key (bucket-set.ts),
 * so a call finds its bucket without building a key string: two limiters (the sim's and the resilient
 * provider's) see every call of a deploy.
 */
export class RateLimiter {
  /** Each limited op's bucket within a key's (its slot), and whether it counts per app. */
  private readonly ops = new Map<ProviderOp, { slot: number; perApp: boolean }>();
  private readonly shapes: RateLimit[] = [];
  private readonly scopes = new Map<string, Map<string, BucketSet>>();
  /** The buckets of the last scope object asked about: a client asks about one scope, call after call. */
  private last: { scope: FleetScope; app: string; env: string; buckets: BucketSet } | undefined;

  constructor(readonly table: Readonly<RateLimitTable> = FLY_RATE_LIMITS) {
    for (const op of PROVIDER_OPS) {
      const limit = table[op] as RateLimit | undefined;
      if (!limit) continue;
      this.ops.set(op, { slot: this.shapes.length, perApp: limit.per === 'app' });
      this.shapes.push(limit);
    }
  }

  /** Server side: 0 when the call may go ahead (a token is spent), else ms until it may (Retry-After). */
  take(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const limited = this.ops.get(op);
    if (!limited) return 0;
    return this.buckets(scope).take(limited.slot, key(limited.perApp, machineId), nowMs);
  }

  /** Client side: reserve a slot in call order; returns ms to wait before sending. */
  reserve(op: ProviderOp, scope: FleetScope, machineId: string | undefined, nowMs: number): number {
    const limited = this.ops.get(op);
    if (!limited) return 0;
    return this.buckets(scope).reserve(limited.slot, key(limited.perApp, machineId), nowMs);
  }

  private buckets(scope: FleetScope): BucketSet {
    const last = this.last;
    if (last !== undefined && last.scope === scope && last.app === scope.app && last.env === scope.env)
      return last.buckets;
    let envs = this.scopes.get(scope.app);
    if (!envs) this.scopes.set(scope.app, (envs = new Map()));
    let buckets = envs.get(scope.env);
    if (!buckets) envs.set(scope.env, (buckets = new BucketSet(this.shapes)));
    this.last = { scope, app: scope.app, env: scope.env, buckets };
    return buckets;
  }
}

function key(perApp: boolean, machineId: string | undefined): string {
  return perApp || machineId === undefined ? APP_KEY : machineId;
}
