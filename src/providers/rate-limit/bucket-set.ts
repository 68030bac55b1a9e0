// Token buckets of several shapes for many keys, kept per key: one map entry holds the key's bucket of
// every shape (the rate limiter's: each op of the limits table, for one machine). A deploy calls
// cordon, update, wait and uncordon once or twice on each of 10,000 machines, and with a map per op,
// an entry and a state object per (op, machine), each added and later swept, the two limiters that
// see every call (the sim's and the resilient provider's) were 4 % of a deploy's CPU time. The
// arithmetic is TokenBucket's (token-bucket.ts), so both answer alike.

import { EPSILON, msUntilToken, refilled, type BucketShape } from './token-bucket.js';

/** Fewest keys worth sweeping for (full buckets are forgotten then). */
const SWEEP_AT = 4096;

export class BucketSet {
  /**
   * Per key, for the bucket of each shape in turn: its tokens and when it had them. `atMs` is NaN for a
   * bucket that is full as far as anyone knows (never used): the same as a bucket made full now.
   */
  private readonly states = new Map<string, number[]>();
  private sweepAt = SWEEP_AT;

  constructor(readonly shapes: readonly BucketShape[]) {
    for (const shape of shapes) {
      if (!(shape.ratePerSec > 0)) throw new Error(`token bucket rate must be > 0, got ${shape.ratePerSec}`);
      if (!(shape.burst >= 1)) throw new Error(`token bucket burst must be >= 1, got ${shape.burst}`);
    }
  }

  /** TokenBucket.take for the bucket of shape `slot` of `key`. */
  take(slot: number, key: string, nowMs: number): number {
    const state = this.refill(slot, key, nowMs);
    const tokens = state[2 * slot]!;
    if (tokens >= 1 - EPSILON) {
      state[2 * slot] = tokens - 1;
      return 0;
    }
    return msUntilToken(this.shapes[slot]!, tokens);
  }

  /** TokenBucket.reserve for the bucket of shape `slot` of `key`. */
  reserve(slot: number, key: string, nowMs: number): number {
    const state = this.refill(slot, key, nowMs);
    const tokens = state[2 * slot]!;
    state[2 * slot] = tokens - 1;
    return tokens >= 1 - EPSILON ? 0 : msUntilToken(this.shapes[slot]!, tokens);
  }

  /** Keys tracked right now (keys whose buckets are all full are forgotten from time to time). */
  get size(): number {
    return this.states.size;
  }

  private refill(slot: number, key: string, nowMs: number): number[] {
    let state = this.states.get(key);
    if (state === undefined) {
      if (this.states.size >= this.sweepAt) this.sweep(nowMs);
      state = new Array<number>(2 * this.shapes.length).fill(NaN);
      this.states.set(key, state);
    }
    const shape = this.shapes[slot]!;
    const atMs = state[2 * slot + 1]!;
    if (Number.isNaN(atMs)) {
      state[2 * slot] = shape.burst;
      state[2 * slot + 1] = nowMs;
    } else if (nowMs > atMs) {
      state[2 * slot] = refilled(shape, state[2 * slot]!, atMs, nowMs);
      state[2 * slot + 1] = nowMs;
    }
    return state;
  }

  /** Forget the keys whose buckets have all refilled: a full bucket is the same as no bucket. */
  private sweep(nowMs: number): void {
    // forEach, not for…of: no entry array per key.
    this.states.forEach((state, key) => {
      if (this.allFull(state, nowMs)) this.states.delete(key);
    });
    this.sweepAt = Math.max(SWEEP_AT, this.states.size * 2);
  }

  private allFull(state: number[], nowMs: number): boolean {
    for (let slot = 0; slot < this.shapes.length; slot++) {
      const atMs = state[2 * slot + 1]!;
      const shape = this.shapes[slot]!;
      if (!Number.isNaN(atMs) && refilled(shape, state[2 * slot]!, atMs, nowMs) < shape.burst) return false;
    }
    return true;
  }
}
