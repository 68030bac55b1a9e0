// Applying plans to the fleet: a plan's waves in order (windowed waves as one flow, wave-runner.ts),
// then immediate's convergence tracking (convergence.ts), then re-observe and re-plan until nothing
// remains (level-triggered, bounded by MAX_ROUNDS).

import type { Plan, Wave } from '../domain/plan.js';
import type { Machine, Release, StrategySettings } from '../domain/types.js';
import { plural } from '../strategies/steps.js';
import type { AnalysisGate } from './analysis-gate.js';
import type { DeployRequest, EngineDeps } from './deploy-request.js';
import type { DeployTally } from './deploy-tally.js';
import type { DeployPhase, ProgressListener } from './progress.js';
import type { StepContext } from './step-runner.js';
import type { StoreGate } from './store-gate.js';
import { trackConvergence } from './convergence.js';
import { opLimit } from './op-limit.js';
import { runWave, type Outcome } from './wave-runner.js';
import { mergeWaves, preview } from './wave-flow.js';

/** Most times the executor re-observes and re-plans before it gives up on converging. */
const MAX_ROUNDS = 4;

/** What applying plans needs of the deploy run. */
export interface PlanHost {
  readonly deps: EngineDeps;
  readonly req: DeployRequest;
  readonly storeGate: StoreGate;
  readonly tally: DeployTally;
  /** The run's abort signal (renewed for a rollback after an abort: read it each time). */
  readonly signal: AbortSignal;
  phase: DeployPhase;
  emit: ProgressListener;
  note(kind: string, message: string, data?: unknown, machineId?: string | null, wave?: number | null): void;
  flush(): Promise<void>;
  observe(): Promise<Machine[]>;
  plan(fleet: Machine[], target: Release, settings: StrategySettings): Plan;
  awaitPromote(signal: AbortSignal): Promise<void>;
  imageFor(version: string): string | undefined;
  /** Analysis between steps, when the environment has any (forward direction only). */
  readonly analysis?: AnalysisGate | undefined;
}

/**
 * Apply `first`, then re-observe and re-plan until the fleet is on `target` (bounded). `fleet` is the
 * listing `first` was built from, when nothing changed since: the plan is applied without listing again.
 */
export async function convergeOn(
  host: PlanHost,
  first: Plan,
  target: Release,
  settings: StrategySettings,
  fleet?: Machine[],
): Promise<Outcome> {
  let plan = first;
  let seen = fleet;
  // When the last plan's final step finished: every machine was then checked on the target, so a
  // re-plan that finds nothing left dates convergence there, not at the end of the confirming listing.
  let appliedAt: number | undefined;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    host.emit({ type: 'plan', plan, round, phase: host.phase });
    if (round > 1)
      host.note('replan', `round ${round}: ${plural(plan.waves.length, 'wave')} remain`, {
        waves: plan.waves.map((w) => w.label),
      });
    if (plan.waves.length === 0) return markConverged(host, appliedAt);
    const outcome = await applyPlan(host, plan, seen);
    if (!outcome.ok) return outcome;
    appliedAt = host.deps.clock.now();
    seen = await host.observe();
    plan = host.plan(seen, target, settings);
  }
  return { ok: false, error: `fleet still not on ${target.version} after ${MAX_ROUNDS} rounds`, aborted: false };
}

function markConverged(host: PlanHost, at?: number): Outcome {
  if (host.phase !== 'deploy') return { ok: true };
  host.emit({ type: 'converged', atMs: host.tally.converged(at) });
  return { ok: true };
}

async function applyPlan(host: PlanHost, plan: Plan, fleet?: Machine[]): Promise<Outcome> {
  const { tally } = host;
  const idByLaunch = new Map<string, string>();
  const known = new Map<string, Machine>();
  for (const m of fleet ?? (await host.observe())) {
    known.set(m.id, m);
    if (m.launchId) idByLaunch.set(m.launchId, m.id);
  }
  const dispatched: Machine[] = [];
  const ctx: StepContext = {
    deployId: host.req.deployId,
    storeGate: host.storeGate,
    provider: host.deps.provider,
    scope: host.req.scope,
    clock: host.deps.clock,
    settings: plan.settings,
    limit: opLimit(Math.max(1, plan.settings.maxConcurrency)),
    idByLaunch,
    known,
    outOfTraffic: new Set(),
    awaitPromote: (signal) => host.awaitPromote(signal),
    imageFor: (version) => host.imageFor(version),
    hooks: {
      accepted: () => tally.accepted(),
      created: (_m, isNew) => {
        if (isNew) tally.created();
      },
      destroyed: () => tally.destroyed(),
      failedMachine: (id) => tally.failed.add(id),
      dispatched: (m) => dispatched.push(m),
    },
  };
  for (let i = 0; i < plan.waves.length;) {
    // Consecutive waves with the same window run as one flow (Wave.window); the others one by one.
    // A flow never spans regions rolled in order (Wave.regions): each region is done before the next.
    let j = i + 1;
    const flow = (w: Wave) => JSON.stringify([w.window, w.regions]);
    const window = plan.waves[i]!.window && flow(plan.waves[i]!);
    if (window) while (j < plan.waves.length && flow(plan.waves[j]!) === window) j++;
    const outcome = await applyAnalysedWave(host, ctx, mergeWaves(plan.waves.slice(i, j)), plan.waves.length);
    if (!outcome.ok) return outcome;
    i = j;
  }
  if (host.phase === 'deploy') {
    // Time-to-dispatch: when the provider accepted the last change of the plan.
    host.emit({ type: 'dispatched', atMs: tally.dispatched() });
  }
  if (dispatched.length > 0) return followConvergence(host, dispatched, plan.settings);
  return { ok: true };
}

/** A wave, with analysis beside it (a flow) and after it, while deploying (a rollback is not analysed). */
async function applyAnalysedWave(host: PlanHost, ctx: StepContext, wave: Wave, waves: number): Promise<Outcome> {
  const analysis = host.phase === 'deploy' ? host.analysis : undefined;
  if (!analysis) return applyWave(host, ctx, wave, waves, host.signal);
  const outcome = await analysis.during(wave, host.signal, (signal) => applyWave(host, ctx, wave, waves, signal));
  if (!outcome.ok) return outcome;
  return analysis.after(wave, host.signal);
}

function applyWave(host: PlanHost, ctx: StepContext, wave: Wave, waves: number, signal: AbortSignal): Promise<Outcome> {
  return runWave(
    {
      signal,
      phase: host.phase,
      emit: host.emit,
      note: (kind, message, data, machineId, index) => host.note(kind, message, data, machineId, index),
      flush: () => host.flush(),
    },
    ctx,
    wave,
    waves,
  );
}

/** Immediate: updates were only dispatched; follow every machine until it converges or times out. */
async function followConvergence(host: PlanHost, machines: Machine[], settings: StrategySettings): Promise<Outcome> {
  const { tally } = host;
  host.phase = 'converge';
  host.emit({ type: 'phase', phase: 'converge', message: `waiting for ${machines.length} machines to converge` });
  const signal = host.signal;
  const result = await trackConvergence(
    { provider: host.deps.provider, scope: host.req.scope, clock: host.deps.clock, signal },
    machines,
    settings.convergenceTimeoutMs,
  );
  host.phase = 'deploy';
  if (signal.aborted) return { ok: false, error: 'aborted while converging', aborted: true };
  if (result.unanswered)
    return { ok: false, error: `waiting for machines to converge: ${result.unanswered.message}`, aborted: false };
  for (const id of result.failed) tally.failed.add(id);
  tally.stragglers = result.stragglers;
  if (tally.stragglers.length > 0 || result.failed.length > 0) {
    const parts = [];
    if (tally.stragglers.length) parts.push(`${tally.stragglers.length} stragglers: ${preview(tally.stragglers)}`);
    if (result.failed.length) parts.push(`${result.failed.length} failed: ${preview(result.failed)}`);
    host.note('convergence', parts.join('; '), { stragglers: tally.stragglers, failed: result.failed });
    return {
      ok: false,
      error: `not converged within ${Math.round(settings.convergenceTimeoutMs / 1000)}s: ${parts.join('; ')}`,
      aborted: false,
    };
  }
  return { ok: true };
}
