// What a ResilientProvider is given (retry policy, outage timeout, limits) and what it counts: the
// settings and stats that sessions, the live view and benchmarks read, apart from the call path.

import type { Clock } from '../domain/clock.js';
import type { BackoffSchedule } from '../domain/backoff.js';
import type { ProviderErrorKind } from './contract.js';
import { zeroByOp, type CallCounts, type CountsByOp } from './provider-ops.js';
import type { RateLimitTable } from './rate-limit/fly-limits.js';

/** Fly answers a wait after at most 60 s; longer waits are re-issued. */
export const MAX_WAIT_CHUNK_MS = 60_000;

/** The backoff schedule (domain/backoff.ts): first delay after a 503/timeout, doubling; the longest (also a 429's without Retry-After). */
export interface RetryPolicy extends BackoffSchedule {
  /** Attempts in all, the first included (1 = never retry). */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 10_000 };

export interface ResilientOptions {
  clock: Clock;
  /** Limits to throttle by (default Fly's documented ones); `false` sends without throttling. */
  limits?: Readonly<RateLimitTable> | false;
  retry?: Partial<RetryPolicy>;
  /** Seed of the backoff jitter, so runs repeat. */
  seed?: number;
  /** Longest single wait call (default 60 s). */
  maxWaitChunkMs?: number;
  /**
   * Ride out outages: retry until the provider has not answered for this long (the environment's
   * provider_outage_timeout), behind one ProviderGate, instead of `retry.maxAttempts` attempts.
   */
  outageTimeoutMs?: number;
}

/** provider_outage_timeout's default. */
export const DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS = 2 * 60_000;

export type RetryableKind = Extract<ProviderErrorKind, 'rate_limited' | 'unavailable' | 'timeout'>;

/** `calls`: calls made by the caller, by op (each may take several attempts), and in all. */
export interface ResilientStats extends CallCounts {
  /** Requests sent to the inner provider, by op (attempts and wait chunks). */
  attempts: CountsByOp;
  /** 429s received. */
  rateLimited: number;
  /** Retries made, in all and by the error kind that caused them. */
  retries: number;
  retriesByKind: Record<RetryableKind, number>;
  /** Calls that failed after `maxAttempts` retryable errors. */
  gaveUp: number;
  /** Calls that waited for a client-side token, and how long in all (ms). */
  throttled: number;
  throttledMs: number;
  /** Extra wait calls made because a wait was longer than one chunk. */
  waitChunks: number;
  /** Changes whose answer was lost and that a read showed had happened (not sent again). */
  changesRecovered: number;
}

export function emptyResilientStats(): ResilientStats {
  return {
    calls: zeroByOp(),
    totalCalls: 0,
    attempts: zeroByOp(),
    rateLimited: 0,
    retries: 0,
    retriesByKind: { rate_limited: 0, unavailable: 0, timeout: 0 },
    gaveUp: 0,
    throttled: 0,
    throttledMs: 0,
    waitChunks: 0,
    changesRecovered: 0,
  };
}
