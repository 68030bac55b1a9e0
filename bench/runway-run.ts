// One measured runway deploy: N machines v1 → v2 with one strategy, the CLI's default settings, on the
// virtual clock with the Fly-like latency model and rate limits; its lower bound from the op log.

import type { Step } from '../src/domain/plan.js';
import type { StrategyName, StrategySettings } from '../src/domain/types.js';
import { runDeploy } from '../src/engine/executor.js';
import type { ProgressEvent } from '../src/engine/progress.js';
import { FLY_RATE_LIMITS } from '../src/providers/rate-limit/fly-limits.js';
import { lowerBound, type ExecutedUnit, type LowerBound } from './lower-bound.js';
import { FleetObserver } from './observer.js';
import { benchSettings, benchStore, newWorld, release, SCOPE, TO } from './setup.js';

export interface RunwayResult {
  kind: 'runway';
  strategy: StrategyName;
  n: number;
  seed: number;
  status: string;
  error: string | null;
  /** Virtual ms from the deploy's start. */
  convergeMs: number | null;
  dispatchMs: number | null;
  boundMs: number;
  /** convergeMs / boundMs. */
  ratio: number | null;
  extraPeak: number;
  /** The same, counted from the sim's own events (a cross-check). */
  extraPeakObserved: number;
  /** Virtual ms from the deploy's start when the fleet itself was converged (sim events). */
  fleetConvergedMs: number | null;
  /** Requests that reached the (simulated) API, retries and wait re-issues included. */
  apiCalls: number;
  apiCallsPerMachine: number;
  apiCallsByOp: Record<string, number>;
  rateLimited: number;
  bound: LowerBound;
  settings: { maxUnavailable: unknown; maxSurge: unknown; maxConcurrency: number };
  /** Wall-clock ms this measurement took. */
  wallMs: number;
}

let deploys = 0;

export interface MeasureOptions {
  seed?: number;
  /** Settings to change from the CLI defaults (experiments only; the benchmark uses none). */
  settings?: Partial<StrategySettings>;
}

export async function measureRunway(
  strategy: StrategyName,
  n: number,
  options: MeasureOptions = {},
): Promise<RunwayResult> {
  const wall0 = performance.now();
  const seed = options.seed ?? 1;
  const resolved = benchSettings(strategy, n);
  const groups = resolved.groups;
  const settings: StrategySettings = { ...resolved.settings, ...options.settings };
  const world = newWorld(n, seed);
  const { clock, sim, provider } = world;
  const deployId = `dep_bench${++deploys}`;
  const store = await benchStore(deployId, strategy, clock.now());
  const observer = new FleetObserver(sim, world.seeded, n, TO);
  const inTraffic = new Set(
    world.seeded.filter((m) => m.role === 'serving' && !m.cordoned && m.state !== 'failed').map((m) => m.id),
  );

  const units: ExecutedUnit[] = [];
  const stepMachine = new Map<Step, string>();
  const launchMachine = new Map<string, string>();
  const onProgress = (e: ProgressEvent) => {
    if (e.type === 'wave-start' && e.phase === 'deploy') units.push({ wave: e.wave, startMs: clock.now() });
    if (e.type === 'step' && e.status === 'succeeded' && e.machineId) {
      stepMachine.set(e.step, e.machineId);
      if (e.step.kind === 'create') launchMachine.set(e.step.launchId, e.machineId);
    }
  };

  const startMs = clock.now();
  const summary = await runDeploy(
    {
      provider,
      store,
      clock,
      apiStats: () => ({ calls: provider.stats.totalCalls, rateLimited: sim.stats.rateLimited }),
      onProgress,
    },
    { deployId, scope: SCOPE, target: release(TO), groups, settings, findRelease: async (v) => release(v) },
  );
  const deployStartMs = summary.startedAtMs;
  const convergedAt = summary.convergedAtMs === null ? clock.now() : deployStartMs + summary.convergedAtMs;
  const bound = lowerBound({
    ops: sim.ops,
    units,
    stepMachine,
    launchMachine,
    inTraffic,
    deployStartMs,
    convergedAtMs: convergedAt,
    maxConcurrency: settings.maxConcurrency,
    createLimit: FLY_RATE_LIMITS.create,
  });
  observer.close();
  const result: RunwayResult = {
    kind: 'runway',
    strategy,
    n,
    seed,
    status: summary.status,
    error: summary.error,
    convergeMs: summary.convergedAtMs,
    dispatchMs: summary.dispatchedAtMs,
    boundMs: bound.totalMs,
    ratio: summary.convergedAtMs === null || bound.totalMs <= 0 ? null : summary.convergedAtMs / bound.totalMs,
    extraPeak: summary.extraMachinesPeak,
    extraPeakObserved: observer.extraPeak,
    fleetConvergedMs: observer.convergedAt === null ? null : observer.convergedAt - startMs,
    apiCalls: sim.stats.totalCalls,
    apiCallsPerMachine: sim.stats.totalCalls / n,
    apiCallsByOp: Object.fromEntries(Object.entries(sim.stats.calls).filter(([, v]) => v > 0)),
    rateLimited: sim.stats.rateLimited,
    bound,
    settings: {
      maxUnavailable: settings.maxUnavailable,
      maxSurge: settings.maxSurge,
      maxConcurrency: settings.maxConcurrency,
    },
    wallMs: 0,
  };
  await sim.close();
  await store.close();
  result.wallMs = performance.now() - wall0;
  return result;
}
