// A token bucket per key, on injected time. The sim uses it to answer 429s; the resilient provider
// uses the same buckets to throttle itself so a well-behaved runway never sees one.

export interface BucketShape {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens the bucket holds (requests allowed back to back after a quiet spell). */
  burst: number;
}

/** Forgives float rounding, so a client that waited the advertised time is never refused. */
export const EPSILON = 1e-9;

/** Tokens of a bucket of `shape` that held `tokens` at `atMs`, at `nowMs` (never above the burst). */
export function refilled(shape: BucketShape, tokens: number, atMs: number, nowMs: number): number {
  return Math.min(shape.burst, tokens + ((nowMs - atMs) * shape.ratePerSec) / 1000);
}

/** Whole milliseconds until a bucket holding `tokens` has one, rounded up: waiting this long always finds it. */
export function msUntilToken(shape: BucketShape, tokens: number): number {
  return Math.max(1, Math.ceil(((1 - tokens) * 1000) / shape.ratePerSec));
}

interface BucketState {
  tokens: number;
  atMs: number;
}

/** One rate and burst; one bucket per key (machine id, app), created full on first use. */
export class TokenBucket {
  private readonly buckets = new Map<string, BucketState>();
  private sweepAt = 4096;

  constructor(readonly shape: BucketShape) {
    if (!(shape.ratePerSec > 0)) throw new Error(`token bucket rate must be > 0, got ${shape.ratePerSec}`);
    if (!(shape.burst >= 1)) throw new Error(`token bucket burst must be >= 1, got ${shape.burst}`);
  }

  /**
   * Take one token for `key` at `nowMs`: 0 when taken, otherwise how many ms until one is available
   * (nothing is taken then). What a server does.
   */
  take(key: string, nowMs: number): number {
    const state = this.refill(key, nowMs);
    if (state.tokens >= 1 - EPSILON) {
      state.tokens -= 1;
      return 0;
    }
    return msUntilToken(this.shape, state.tokens);
  }

  /**
   * Reserve one token for `key`, even if it is not there yet: returns how many ms the caller must
   * wait before using it (0 = now). Reservations queue in call order, so concurrent callers are
   * served first come first served without polling. What a polite client does.
   */
  reserve(key: string, nowMs: number): number {
    const state = this.refill(key, nowMs);
    const wait = state.tokens >= 1 - EPSILON ? 0 : msUntilToken(this.shape, state.tokens);
    state.tokens -= 1;
    return wait;
  }

  /** Tokens `key` holds at `nowMs` (burst for a key never used). */
  available(key: string, nowMs: number): number {
    const state = this.buckets.get(key);
    if (!state) return this.shape.burst;
    return refilled(this.shape, state.tokens, state.atMs, nowMs);
  }

  /** Keys tracked right now (full buckets are forgotten from time to time). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, nowMs: number): BucketState {
    let state = this.buckets.get(key);
    if (!state) {
      if (this.buckets.size >= this.sweepAt) this.sweep(nowMs);
      state = { tokens: this.shape.burst, atMs: nowMs };
      this.buckets.set(key, state);
      return state;
    }
    if (nowMs > state.atMs) {
      state.tokens = refilled(this.shape, state.tokens, state.atMs, nowMs);
      state.atMs = nowMs;
    }
    return state;
  }

  /** Forget buckets that have refilled: a full bucket is the same as no bucket. Keeps 10,000-machine fleets cheap. */
  private sweep(nowMs: number): void {
    // forEach, not for…of: no entry array per bucket.
    this.buckets.forEach((state, key) => {
      if (state.tokens + ((nowMs - state.atMs) * this.shape.ratePerSec) / 1000 >= this.shape.burst)
        this.buckets.delete(key);
    });
    this.sweepAt = Math.max(4096, this.buckets.size * 2);
  }
}
