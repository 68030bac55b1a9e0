// How long one simulated operation takes (options.ts LatencyModel).

import type { LatencyModel } from './options.js';
import type { SeededRandom } from '../../domain/random.js';

/** z of the 99th percentile of the standard normal. */
export const Z_P99 = 2.3263;

/** Sigma of a lognormal with the given median and p99: ln(p99/median)/z99 (0 when p99 <= median). */
export function lognormalSigma(medianMs: number, p99Ms: number): number {
  if (!(medianMs > 0) || !(p99Ms > medianMs)) return 0;
  return Math.log(p99Ms / medianMs) / Z_P99;
}

/** One draw, in whole milliseconds (>= 0). Constant models draw nothing from `rng`. */
export function sampleLatency(model: LatencyModel, rng: SeededRandom): number {
  if (model.kind === 'constant') return Math.max(0, Math.round(model.ms));
  return latencyAt(model, rng.normal());
}

/** The latency at standard normal `z` (a keyed draw, keyed-draws.ts), in whole milliseconds (>= 0). */
export function latencyAt(model: LatencyModel, z: number): number {
  if (model.kind === 'constant') return Math.max(0, Math.round(model.ms));
  const sigma = lognormalSigma(model.medianMs, model.p99Ms);
  if (sigma === 0) return Math.max(0, Math.round(model.medianMs));
  return Math.max(0, Math.round(model.medianMs * Math.exp(sigma * z)));
}

/** The median of a model (what the benchmark's lower bounds use). */
export function medianLatency(model: LatencyModel): number {
  return model.kind === 'constant' ? model.ms : model.medianMs;
}
