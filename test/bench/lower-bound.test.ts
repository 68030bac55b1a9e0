// The lower bound's promotion staircase (bench/lower-bound.ts): the earliest moment by which m promoted
// creates can be in, against every way of sending the same creates, for small cases.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promotionReleases } from '../../bench/lower-bound.js';
import { SeededRandom } from '../../src/domain/random.js';

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

/** Every order of sending the creates at the limit's earliest moments: the m-th machine in, at its soonest. */
function bruteForce(chains: readonly number[], limit: { ratePerSec: number; burst: number }): number[] {
  const send = chains.map((_, i) => (Math.max(0, i + 1 - limit.burst) * 1000) / limit.ratePerSec);
  const best = chains.map(() => Infinity);
  for (const order of permutations(chains)) {
    const inAt = order.map((chain, i) => send[i]! + chain).sort((a, b) => a - b);
    inAt.forEach((at, m) => (best[m] = Math.min(best[m]!, at)));
  }
  return best;
}

describe('promotionReleases', () => {
  it('is the soonest the m-th create can be in, over every order of sending them', () => {
    const rng = SeededRandom.fromSeed(15);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rng.float() * 6);
      const limit = { ratePerSec: 1 + Math.floor(rng.float() * 2), burst: 1 + Math.floor(rng.float() * 3) };
      const chains = Array.from({ length: n }, () => Math.round(500 + rng.float() * 20_000));
      assert.deepEqual(promotionReleases(chains, limit), bruteForce(chains, limit), JSON.stringify({ chains, limit }));
    }
  });

  it('pairs the longest chains with the earliest sends, not only the shortest with the last', () => {
    // Sends at 0, 1 and 2 s (burst 1, 1/s). Three machines in: two take 5 s, so one of them was sent
    // at 1 s or later: 6 s, where "the shortest chain after the last send" gives 3 s and "the longest
    // chain" 5 s.
    assert.deepEqual(promotionReleases([5_000, 1_000, 5_000], { ratePerSec: 1, burst: 1 }), [1_000, 5_000, 6_000]);
  });
});
