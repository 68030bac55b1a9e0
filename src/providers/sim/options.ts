// Settings of the in-process simulated fleet. Parsed from `[sim]` in runway.toml (src/config) and
// used by the sim provider (src/providers/sim).

/** How long one simulated operation takes. Lognormal is the shape real API and boot latencies have. */
export type LatencyModel = { kind: 'constant'; ms: number } | { kind: 'lognormal'; medianMs: number; p99Ms: number };

export type SimLatencyOp = 'api' | 'create' | 'update' | 'boot' | 'checks' | 'stop' | 'destroy';

export interface SimFaults {
  /** Probability that an API call answers 503 (per call, per op; 'all' for every op). */
  errorRate: Partial<Record<string, number>>;
  /** Probability that an API call times out (the change may or may not have happened). */
  timeoutRate: number;
  /** Machines on these releases exit shortly after starting (boot failure). */
  bootFailureReleases: string[];
  /** Machines on these releases start but never pass checks. */
  unhealthyReleases: string[];
  /** Probability that a started machine later exits on its own. */
  exitRate: number;
  /** Probability that a machine's checks flap (passing -> critical -> passing) once after passing. */
  flapRate: number;
  /** Probability that an updated machine silently comes back on its previous release. */
  revertRate: number;
}

export interface SimOptions {
  /** `virtual`: discrete-event time (tests, benchmarks); `scaled`: real time sped up by `speed`. */
  clock: 'virtual' | 'scaled';
  speed: number;
  /** Seed of every random choice (latency draws, faults), so runs repeat exactly. */
  seed: number;
  /** Enforce Fly's documented rate limits with 429 + Retry-After. */
  rateLimits: boolean;
  /** Release the fleet is seeded on the first time the environment is used (counts from the app's processes). */
  initialRelease?: string;
  latency: Record<SimLatencyOp, LatencyModel>;
  faults: SimFaults;
}

/**
 * Fly-like defaults, documented in docs/benchmarks.md: API calls ~150 ms median; a machine update
 * (stop, swap image, start) ~2 s; boot ~3 s; checks pass ~4 s after start (grace + first interval).
 */
export const DEFAULT_SIM_OPTIONS: SimOptions = {
  clock: 'scaled',
  speed: 50,
  seed: 1,
  rateLimits: true,
  latency: {
    api: { kind: 'lognormal', medianMs: 150, p99Ms: 600 },
    create: { kind: 'lognormal', medianMs: 1500, p99Ms: 4000 },
    update: { kind: 'lognormal', medianMs: 2000, p99Ms: 5000 },
    boot: { kind: 'lognormal', medianMs: 3000, p99Ms: 8000 },
    checks: { kind: 'lognormal', medianMs: 4000, p99Ms: 9000 },
    stop: { kind: 'lognormal', medianMs: 2000, p99Ms: 6000 },
    destroy: { kind: 'lognormal', medianMs: 800, p99Ms: 2500 },
  },
  faults: {
    errorRate: {},
    timeoutRate: 0,
    bootFailureReleases: [],
    unhealthyReleases: [],
    exitRate: 0,
    flapRate: 0,
    revertRate: 0,
  },
};
