// The one retry loop and backoff schedule (issue 18): exponential delays, with "equal jitter" for the
// providers (Retry-After honoured, slept on the injected Clock with the caller's seeded random, so
// benchmarks on a VirtualClock repeat to the millisecond) and the same schedule for the outbox's stored
// next attempts (outbox/pump.ts). What to retry, and what to count on the way, stays with the caller:
// it decides after each failure.

import type { Clock } from './clock.js';

export interface BackoffSchedule {
  /** The first delay; doubles with each attempt. */
  baseDelayMs: number;
  /** The longest delay. */
  maxDelayMs: number;
}

/** Something that draws floats in [0, 1): SeededRandom where runs must repeat. */
export interface JitterSource {
  float(): number;
}

/** The delay before attempt `attempt + 1` without jitter: base · 2^(attempt−1), capped. */
export function nominalDelay(schedule: BackoffSchedule, attempt: number): number {
  return Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/**
 * The delay before attempt `attempt + 1`, with "equal jitter": half fixed, half random, so retries of
 * many callers that failed together spread out but never come sooner than half the nominal delay.
 */
export function backoffDelay(schedule: BackoffSchedule, attempt: number, jitter: JitterSource): number {
  const nominal = nominalDelay(schedule, attempt);
  return Math.round(nominal / 2 + jitter.float() * (nominal / 2));
}

/** A 429's wait: its Retry-After when it gave one, else the schedule's longest delay. */
export function retryAfterDelay(schedule: BackoffSchedule, retryAfterMs: number | undefined): number {
  return retryAfterMs !== undefined ? Math.max(0, retryAfterMs) : schedule.maxDelayMs;
}

/**
 * What to do after a failed attempt: sleep this many ms and try again (0 included: a turn of the
 * clock), `AGAIN_AT_ONCE` to try again without sleeping, or `GIVE_UP` to throw the error.
 */
export type RetryDecision = number | typeof AGAIN_AT_ONCE | typeof GIVE_UP;
export const AGAIN_AT_ONCE = 'again-at-once';
export const GIVE_UP = 'give-up';

/**
 * Run `attempt` (numbered from 1) until it answers or `decide` gives up, sleeping on `clock` as
 * decided between attempts. `decide` may throw an error of its own instead of the attempt's; it is
 * awaited only when it returns a promise, so a synchronous decision adds no turn of the event loop.
 */
export function retrying<T>(
  clock: Clock,
  attempt: (attempt: number) => Promise<T>,
  decide: (error: unknown, attempt: number) => RetryDecision | Promise<RetryDecision>,
  signal?: AbortSignal,
): Promise<T> {
  // Not async: a first attempt that answers (most of them) costs no frame of the loop.
  let first: Promise<T>;
  try {
    first = attempt(1);
  } catch (error) {
    first = Promise.reject(error);
  }
  return first.catch((error: unknown) => retryingAfter(clock, error, 1, attempt, decide, signal));
}

/** `retrying`, once attempt `failed` has thrown `error`: decide on it, then go on from there. */
export async function retryingAfter<T>(
  clock: Clock,
  error: unknown,
  failed: number,
  attempt: (attempt: number) => Promise<T>,
  decide: (error: unknown, attempt: number) => RetryDecision | Promise<RetryDecision>,
  signal?: AbortSignal,
): Promise<T> {
  for (let n = failed; ;) {
    const decided = decide(error, n);
    const decision = decided instanceof Promise ? await decided : decided;
    if (decision === GIVE_UP) throw error;
    if (decision !== AGAIN_AT_ONCE) await clock.sleep(decision, signal);
    n++;
    try {
      return await attempt(n);
    } catch (next) {
      error = next;
    }
  }
}
