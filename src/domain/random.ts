// The one source of randomness of the sim and of retry jitter: seeded, so a run repeats exactly,
// and with a state that can be saved and restored (toJSON/fromJSON of the sim fleet).

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

const WARM_UP = 16;

/** MurmurHash3's finaliser: a bijection on 32-bit integers that spreads every input bit (unsigned result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SeededRandom {
  private constructor(private readonly rng: JumpableRandomGenerator) {}

  /**
   * xoroshiro128+ seeded from a 32-bit integer puts the seed almost as is in its state, so its first
   * outputs are poorly mixed (the first float of seeds 1, 2, 3… is ~1.0). Scramble the seed and
   * discard a few outputs first.
   */
  static fromSeed(seed: number): SeededRandom {
    const rng = xoroshiro128plus(fmix32(seed | 0) | 0);
    for (let i = 0; i < WARM_UP; i++) rng.next();
    return new SeededRandom(rng);
  }

  static fromState(state: readonly number[]): SeededRandom {
    return new SeededRandom(xoroshiro128plusFromState(state));
  }

  /** Uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.rng);
  }

  /** True with probability `p` (always false for p <= 0, always true for p >= 1, and then no draw). */
  chance(p: number | undefined): boolean {
    if (p === undefined || !(p > 0)) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    // 1 - u is in (0, 1], so the log is finite.
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The generator's state, to save. */
  state(): number[] {
    return [...this.rng.getState()];
  }
}
