// Token buckets and the Fly limits table.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLY_RATE_LIMITS, RateLimiter } from '../../src/providers/rate-limit/fly-limits.js';
import { TokenBucket } from '../../src/providers/rate-limit/token-bucket.js';
import { BucketSet } from '../../src/providers/rate-limit/bucket-set.js';
import { SeededRandom } from '../../src/domain/random.js';

describe('token bucket', () => {
  it('allows a burst, then one per 1/rate, and says how long to wait', () => {
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 3 });
    assert.deepEqual(
      [0, 0, 0].map(() => bucket.take('m', 0)),
      [0, 0, 0],
    );
    assert.equal(bucket.take('m', 0), 1000);
    assert.equal(bucket.take('m', 400), 600, 'nothing taken on refusal; the wait shrinks');
    assert.equal(bucket.take('m', 1000), 0);
    assert.equal(bucket.take('other', 1000), 0, 'keys are independent');
    assert.equal(bucket.available('m', 10_000), 3, 'refills to the burst, no more');
  });

  it('reserves in call order without polling', () => {
    const bucket = new TokenBucket({ ratePerSec: 5, burst: 10 });
    const waits = Array.from({ length: 13 }, () => bucket.reserve('m', 0));
    assert.deepEqual(waits, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 400, 600]);
    // a server bucket seeing each request when its reservation comes due accepts every one
    const server = new TokenBucket({ ratePerSec: 5, burst: 10 });
    assert.ok(waits.every((w) => server.take('m', w) === 0));
  });

  it('forgets full buckets so a huge fleet stays cheap', () => {
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 3 });
    for (let i = 0; i < 10_000; i++) bucket.take(`a${i}`, 0);
    // a minute later the first 10,000 buckets are full again: tracking them is pointless
    for (let i = 0; i < 10_000; i++) bucket.take(`b${i}`, 60_000);
    assert.ok(bucket.size < 20_000, `kept ${bucket.size}`);
    assert.equal(bucket.available('a1', 60_000), 3);
  });
});

describe('bucket set (a bucket of each shape per key)', () => {
  it('answers every take and reserve as a token bucket per shape would', () => {
    const shapes = [
      { ratePerSec: 1, burst: 3 },
      { ratePerSec: 5, burst: 10 },
    ];
    const set = new BucketSet(shapes);
    const single = shapes.map((shape) => new TokenBucket(shape));
    const rng = SeededRandom.fromSeed(7);
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      now += rng.between(0, 40);
      const slot = rng.chance(0.5) ? 0 : 1;
      // Many keys, so both forget full buckets on the way.
      const key = `m${rng.between(0, 6_000)}`;
      if (rng.chance(0.5)) assert.equal(set.take(slot, key, now), single[slot]!.take(key, now), `take ${i}`);
      else assert.equal(set.reserve(slot, key, now), single[slot]!.reserve(key, now), `reserve ${i}`);
    }
    assert.ok(set.size < 6_000, `kept ${set.size} keys`);
  });
});

describe('Fly limits', () => {
  it('counts create and list per app (environment), the rest per machine', () => {
    const scope = { app: 'mechanic', env: 'production' };
    assert.deepEqual(FLY_RATE_LIMITS.get, { per: 'machine', ratePerSec: 5, burst: 10 });
    for (const op of ['update', 'start', 'stop', 'destroy', 'cordon', 'uncordon', 'wait'] as const) {
      assert.deepEqual(FLY_RATE_LIMITS[op], { per: 'machine', ratePerSec: 1, burst: 3 });
    }
    const limiter = new RateLimiter();
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('create', scope, `m${i}`, 0), 0);
    assert.equal(limiter.take('create', scope, 'm9', 0), 1000, 'a create on any machine id counts against the app');
    assert.equal(limiter.take('create', { app: 'mechanic', env: 'staging' }, undefined, 0), 0);
    assert.equal(limiter.take('list', scope, undefined, 0), 0, 'each op has buckets of its own');
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('update', scope, 'm1', 0), 0);
    assert.equal(limiter.take('update', scope, 'm1', 0), 1000, 'updates count per machine');
    assert.equal(limiter.take('update', scope, 'm2', 0), 0);
    assert.equal(limiter.take('update', { app: 'mechanic', env: 'staging' }, 'm1', 0), 0);
    assert.equal(limiter.take('update', { app: 'other', env: 'production' }, 'm1', 0), 0);
  });
});
