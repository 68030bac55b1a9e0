// Token buckets of several shapes for many keys, kept per key: one map entry holds the key's bucket of
// every shape (the rate limiter's: each op of the limits table, for one machine). A deploy calls
// cordon, update, wait and uncordon once or twice on each of 10,000 machines, and with a map per op,
// an entry and a state object per (op, machine), each added and later swept, the two limiters that
// see every call (the sim's and the resilient provider's) were 4 % of a deploy's CPU time. The
// arithmetic is TokenBucket's (token-bucket.ts), so both answer alike.

import { EPSILON, msUntilToken, refilled, type BucketShape } from './token-bucket.js';

/** Fewest keys worth sweeping for (full buckets are forgotten then). */
const SWEEP_AT = 4096;

/** Keys the state array has room for at first (it doubles as needed). */
const INITIAL_KEYS = 64;

export class BucketSet {
  /**
   * Where each key's buckets are in `state`: from that offset, for the bucket of each shape in turn,
   * its tokens and when it had them. `atMs` is NaN for a bucket that is full as far as anyone knows
   * (never used): the same as a bucket made full now. One typed array for every key, not an array
   * per key: a deploy keeps a key for each machine it works on for the seconds the machine takes, and
   * those arrays were copied out of the young generation by the thousand.
   */
  private readonly offsets = new Map<string, number>();
  private state: Float64Array;
  /** Numbers per key (two per shape). */
  private readonly stride: number;
  /** Offsets handed out so far, and those of forgotten keys (reused first). */
  private used = 0;
  private readonly free: number[] = [];
  private sweepAt = SWEEP_AT;

  constructor(readonly shapes: readonly BucketShape[]) {
    for (const shape of shapes) {
      if (!(shape.ratePerSec > 0)) throw new Error(`token bucket rate must be > 0, got ${shape.ratePerSec}`);
      if (!(shape.burst >= 1)) throw new Error(`token bucket burst must be >= 1, got ${shape.burst}`);
    }
    this.stride = 2 * shapes.length;
    this.state = new Float64Array(INITIAL_KEYS * this.stride);
  }

  /** TokenBucket.take for the bucket of shape `slot` of `key`. */
  take(slot: number, key: string, nowMs: number): number {
    const at = this.refill(slot, key, nowMs);
    const state = this.state;
    const tokens = state[at]!;
    if (tokens >= 1 - EPSILON) {
      state[at] = tokens - 1;
      return 0;
    }
    return msUntilToken(this.shapes[slot]!, tokens);
  }

  /** TokenBucket.reserve for the bucket of shape `slot` of `key`. */
  reserve(slot: number, key: string, nowMs: number): number {
    const at = this.refill(slot, key, nowMs);
    const state = this.state;
    const tokens = state[at]!;
    state[at] = tokens - 1;
    return tokens >= 1 - EPSILON ? 0 : msUntilToken(this.shapes[slot]!, tokens);
  }

  /** Keys tracked right now (keys whose buckets are all full are forgotten from time to time). */
  get size(): number {
    return this.offsets.size;
  }

  /** Refill the bucket of shape `slot` of `key` to `nowMs`; where its tokens are in `state`. */
  private refill(slot: number, key: string, nowMs: number): number {
    let offset = this.offsets.get(key);
    if (offset === undefined) {
      if (this.offsets.size >= this.sweepAt) this.sweep(nowMs);
      offset = this.place();
      this.offsets.set(key, offset);
    }
    const state = this.state;
    const at = offset + 2 * slot;
    const shape = this.shapes[slot]!;
    const atMs = state[at + 1]!;
    if (Number.isNaN(atMs)) {
      state[at] = shape.burst;
      state[at + 1] = nowMs;
    } else if (nowMs > atMs) {
      state[at] = refilled(shape, state[at]!, atMs, nowMs);
      state[at + 1] = nowMs;
    }
    return at;
  }

  /** Room for a new key's buckets, all full (NaN). */
  private place(): number {
    let offset = this.free.pop();
    if (offset === undefined) {
      offset = this.used;
      this.used += this.stride;
      if (this.used > this.state.length) {
        const grown = new Float64Array(this.state.length * 2);
        grown.set(this.state);
        this.state = grown;
      }
    }
    this.state.fill(NaN, offset, offset + this.stride);
    return offset;
  }

  /** Forget the keys whose buckets have all refilled: a full bucket is the same as no bucket. */
  private sweep(nowMs: number): void {
    // forEach, not for…of: no entry array per key.
    this.offsets.forEach((offset, key) => {
      if (this.allFull(offset, nowMs)) {
        this.offsets.delete(key);
        this.free.push(offset);
      }
    });
    this.sweepAt = Math.max(SWEEP_AT, this.offsets.size * 2);
  }

  private allFull(offset: number, nowMs: number): boolean {
    const state = this.state;
    for (let slot = 0; slot < this.shapes.length; slot++) {
      const atMs = state[offset + 2 * slot + 1]!;
      const shape = this.shapes[slot]!;
      if (!Number.isNaN(atMs) && refilled(shape, state[offset + 2 * slot]!, atMs, nowMs) < shape.burst) return false;
    }
    return true;
  }
}
