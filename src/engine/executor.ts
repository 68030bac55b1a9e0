// Size: still ~650 lines after convergence, settle, wave flow and release steps moved out; the deploy
// run's state (DeployRun) is next to split (issue 18).
// The imperative shell around the pure strategies: observe the fleet, build a plan, apply it wave by
// wave, and re-observe until nothing remains (level-triggered). On failure it rolls back or halts per
// `on_failure`; on abort it stops within one in-flight operation per machine; either way it settles
// the fleet (no orphan extra machines, no healthy machine left out of traffic) and says where each
// machine is.

import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { Plan, Wave } from '../domain/plan.js';
import type { Clock } from '../domain/clock.js';
import type { DeployStatus, FleetScope, Machine, ProcessGroup, Release, StrategySettings } from '../domain/types.js';
import { ProviderError, type Provider } from '../providers/contract.js';
import type { Store } from '../store/contract.js';
import { buildPlan } from '../strategies/index.js';
import { plural } from '../strategies/steps.js';
import { JournalWriter } from './journal-writer.js';
import type { DeployPhase, ProgressListener } from './progress.js';
import type { StepContext } from './step-runner.js';
import type { DeploySummary } from './summary.js';
import { describeError } from './errors.js';
import { runWave, type Outcome } from './wave-runner.js';
import { StoreGate } from './store-gate.js';
import type { ReleaseStep } from './release-steps.js';
import { runReleaseSteps } from './release-step-runner.js';
import { trackConvergence } from './convergence.js';
import { mergeWaves, preview } from './wave-flow.js';
import { outOfTraffic, settleFleet } from './settle.js';
import { watchProviderOutages } from './provider-outage.js';
import { watchDeploy } from './deploy-watch.js';

export interface DeployRequest {
  deployId: string;
  scope: FleetScope;
  target: Release;
  groups: ProcessGroup[];
  settings: StrategySettings;
  /** Known when resuming; otherwise taken from the first plan. */
  previousRelease?: string | null;
  /** Release steps to run before any serving machine changes (release command, sidekiq quiet). */
  releaseSteps?: ReleaseStep[];
  /** Look up the release to roll back to. */
  findRelease(version: string): Promise<Release | undefined>;
}

export interface EngineDeps {
  provider: Provider;
  store: Store;
  clock: Clock;
  onProgress?: ProgressListener;
  /** Provider calls made so far (the resilient layer counts retries too). */
  apiStats?: () => { calls: number; rateLimited: number };
  /**
   * Wall-clock time for what other processes read: heartbeats of the deploy and its lock, and the
   * polling for abort and promote requests. Defaults to `clock` (tests and benchmarks on virtual time);
   * the CLI passes a RealClock, since a sim deploy's simulated time runs faster than the wall clock.
   */
  wallClock?: Clock;
  /**
   * The owner this run heart-beats as. When another owner takes the deploy over (this process was
   * presumed dead), the run stops at once and leaves everything to the new owner.
   */
  owner?: string;
  /**
   * The process running this deploy is stopping (a `runway server` sent SIGTERM): no new operation
   * starts, in-flight ones finish, nothing is rolled back or settled, and the deploy is left running
   * and unowned, for another instance (or the restarted one, or `runway deploy resume`) to finish in
   * the same direction.
   */
  stepBack?: AbortSignal;
  /** How often the store is asked whether someone requested an abort or a promote. */
  pollMs?: number;
  heartbeatMs?: number;
}

/** How long the end of a deploy waits for an unreachable store before giving up on recording it. */
const FINAL_WRITE_PATIENCE_MS = 15 * 60_000;

/** Most times the executor re-observes and re-plans before it gives up on converging. */
const MAX_ROUNDS = 4;

/** How long settling keeps trying a provider that does not answer, when it has no outage timeout. */
const SETTLE_PATIENCE_MS = 2 * 60_000;

class Aborted extends Error {
  constructor(readonly by: string) {
    super(`aborted by ${by}`);
    this.name = 'Aborted';
  }
}

/** The provider refused the target release before anything changed. */
class ReleaseRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseRefused';
  }
}


export async function runDeploy(deps: EngineDeps, req: DeployRequest, signal?: AbortSignal): Promise<DeploySummary> {
  return new DeployRun(deps, req, signal).run();
}

class DeployRun {
  private readonly journal: JournalWriter;
  /** Closed while the store cannot be written: no provider operation starts then. */
  private readonly storeGate = new StoreGate();
  private abort = new AbortController();
  /** Set once an abort has been acted on: its rollback is not itself aborted by the same request. */
  private abortHandled = false;
  /** Another owner took the deploy over: stop touching the fleet and the record. */
  private lostOwnership = false;
  /** This process is stopping: leave the deploy as it is, running and unowned. */
  private steppingBack = false;
  private readonly stopBackground = new AbortController();
  private readonly emit: ProgressListener;
  private readonly desiredTotal: number;
  private startedAt = 0;
  private dispatchedAt: number | null = null;
  private lastAccepted: number | null = null;
  private convergedAt: number | null = null;
  private live = 0;
  private extraPeak = 0;
  private readonly failed = new Set<string>();
  private stragglers: string[] = [];
  private promoteRequested = false;
  private phase: DeployPhase = 'deploy';
  /** Releases this run knows by version (target, rollback), so steps can give providers their image. */
  private readonly releases = new Map<string, Release>();
  private unsubscribe: (() => void) | undefined;
  /** The last fleet a listing returned, and when (provider time). */
  private lastFleet: Machine[] | undefined;
  private lastFleetAt = 0;
  /** Serving machines settle could not put back into traffic. */
  private leftOut: string[] = [];

  constructor(
    private readonly deps: EngineDeps,
    private readonly req: DeployRequest,
    signal?: AbortSignal,
  ) {
    this.journal = new JournalWriter(deps.store, this.storeGate);
    this.emit = deps.onProgress ?? (() => {});
    this.desiredTotal = req.groups.reduce((n, g) => n + g.count, 0);
    this.releases.set(req.target.version, req.target);
    // Every in-flight wait listens to the deploy's abort signal: thousands on a large fleet.
    setMaxListeners(0, this.abort.signal);
    if (deps.stepBack) {
      const stepBack = () => {
        this.steppingBack = true;
        // Even a rollback already under way stops: whoever goes on with the deploy goes on with it.
        if (!this.abort.signal.aborted) this.abort.abort(new Aborted('the control plane stopping'));
      };
      if (deps.stepBack.aborted) stepBack();
      else deps.stepBack.addEventListener('abort', stepBack, { once: true });
    }
    if (signal) {
      if (signal.aborted) this.requestAbort('signal');
      else signal.addEventListener('abort', () => this.requestAbort(String(signal.reason ?? 'signal')), { once: true });
    }
  }

  private get clock(): Clock {
    return this.deps.clock;
  }

  private get wall(): Clock {
    return this.deps.wallClock ?? this.deps.clock;
  }

  /** This run leaves the deploy to another (it stepped back, or was taken over): it settles nothing. */
  private get leaving(): boolean {
    return this.steppingBack || this.lostOwnership;
  }

  private requestAbort(by: string): void {
    if (!this.abortHandled && !this.abort.signal.aborted) this.abort.abort(new Aborted(by));
  }

  private note(kind: string, message: string, data?: unknown, machineId?: string | null, wave?: number | null): void {
    this.journal.add({ deployId: this.req.deployId, atMs: this.clock.now(), kind, message, data, machineId: machineId ?? null, wave: wave ?? null });
  }

  async run(): Promise<DeploySummary> {
    const { store } = this.deps;
    const { deployId } = this.req;
    this.startedAt = this.clock.now();
    await store.updateDeploy(deployId, { status: 'running', startedAtMs: this.startedAt, heartbeatAtMs: this.wall.now() });
    this.watchMachines();
    const unwatchOutages = watchProviderOutages(this.deps.provider.gate, this.wall, {
      down: (message, data) => {
        this.emit({ type: 'phase', phase: this.phase, message });
        this.note('provider_waiting', message, data);
      },
      up: (message, data) => {
        this.emit({ type: 'phase', phase: this.phase, message });
        this.note('provider_back', message, data);
      },
    });
    const background = this.background();
    let status: DeployStatus;
    let error: string | null = null;
    let previous = this.req.previousRelease ?? null;
    try {
      // An earlier run of this deploy was rolling back when it stopped: go on in that direction.
      const rollingBack = previous !== null ? (await store.listJournal(deployId)).find((e) => e.kind === 'rollback') : undefined;
      if (rollingBack && previous !== null) return await this.end(...(await this.resumeRollback(previous, rollingBack.data)), previous, background, unwatchOutages);
      await this.checkRelease();
      const fleet = await this.observe();
      this.live = fleet.length;
      this.trackExtras();
      const plan = this.plan(fleet, this.req.target, this.req.settings);
      previous = previous ?? plan.previous ?? null;
      await store.updateDeploy(deployId, { plan, previousRelease: previous });
      // A resumed deploy says what an earlier run of it already did, so the journal tells the whole story.
      const alreadyDone = fleet.filter((m) => m.deployId === deployId && m.release === this.req.target.version).map((m) => m.id);
      this.note('plan', `plan: ${plural(plan.waves.length, 'wave')}${alreadyDone.length ? `; ${alreadyDone.length} machines already on ${this.req.target.version} from an earlier run of this deploy` : ''}`, {
        waves: plan.waves.length,
        estimate: plan.estimate,
        previous,
        alreadyDone,
      });
      // Release steps run before any serving machine changes, and only when there is something to change.
      const stepFailure = plan.waves.length > 0 ? await this.runReleaseSteps() : undefined;
      const outcome: Outcome = stepFailure ? { ok: true } : await this.converge(plan, this.req.target, this.req.settings, this.req.releaseSteps?.length ? undefined : fleet);
      if (stepFailure) {
        error = stepFailure.error;
        status = stepFailure.status;
      } else if (outcome.ok) {
        status = 'succeeded';
      } else if (this.lostOwnership) {
        error = 'another control-plane instance took this deploy over';
        status = 'running';
      } else if (this.steppingBack) {
        error = 'the control plane stopped; the deploy is left to be finished by another instance or a restart';
        status = 'running';
      } else {
        error = outcome.error;
        status = await this.recover(outcome, previous);
      }
    } catch (err) {
      error = describeError(err);
      status = 'failed';
      if (this.steppingBack || this.lostOwnership) {
        status = 'running';
      } else {
        this.note('error', error);
        // A refused release changed nothing: the fleet is left exactly as it was.
        if (!(err instanceof ReleaseRefused)) await this.settle().catch(() => {});
      }
    }
    return this.end(status, error, previous, background, unwatchOutages);
  }

  private async end(status: DeployStatus, error: string | null, previous: string | null, background: Promise<void>, unwatchOutages: () => void): Promise<DeploySummary> {
    this.stopBackground.abort();
    await background;
    const summary = await this.finish(status, error, previous);
    unwatchOutages();
    this.unsubscribe?.();
    return summary;
  }

  /** Finish the rollback an earlier run of this deploy began (it stopped or died during it). */
  private async resumeRollback(previous: string, data: unknown): Promise<[DeployStatus, string | null]> {
    const reason = (data as { reason?: string } | undefined)?.reason ?? 'rolling back';
    this.note('rollback_resumed', `going on with the rollback to ${previous} an earlier run of this deploy began (${reason}); never forward again`, { reason });
    const back = await this.rollBack(previous, reason);
    if (this.leaving) return ['running', 'the control plane stopped during the rollback; it is left to be finished'];
    if (back.ok) return [/on_abort/.test(reason) ? 'aborted' : 'rolled_back', reason];
    this.note('rollback_failed', back.error);
    return ['failed', back.error];
  }

  private runReleaseSteps(): Promise<{ status: DeployStatus; error: string } | undefined> {
    return runReleaseSteps({
      steps: this.req.releaseSteps ?? [],
      store: this.deps.store,
      context: { deployId: this.req.deployId, scope: this.req.scope, target: this.req.target, provider: this.deps.provider, clock: this.clock, signal: this.abort.signal },
      emit: this.emit,
      note: (kind, message, data) => this.note(kind, message, data),
      flush: () => this.journal.flush(),
    });
  }

  /** The provider refuses a release it cannot run (Provider.checkRelease) before any machine changes. */
  private async checkRelease(): Promise<void> {
    const { provider } = this.deps;
    if (!provider.checkRelease) return;
    try {
      await provider.checkRelease(this.req.scope, this.req.target.version, { signal: this.abort.signal });
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'bad_request') {
        throw new ReleaseRefused(`release ${this.req.target.version} cannot run on ${provider.name}, nothing was changed: ${err.message}`);
      }
      throw err;
    }
  }

  /** On failure or abort: roll back, or halt, then settle. Returns the final status. */
  private async recover(outcome: Extract<Outcome, { ok: false }>, previous: string | null): Promise<DeployStatus> {
    const { settings } = this.req;
    const canRollBack = previous !== null && previous !== this.req.target.version;
    if (outcome.aborted) {
      this.abortHandled = true;
      if ((settings.onAbort ?? 'rollback') === 'rollback' && canRollBack) {
        // The abort was acted on (nothing new starts); its policy now runs on a fresh signal.
        this.abort = new AbortController();
        setMaxListeners(0, this.abort.signal);
        await this.rollBack(previous, `${outcome.error}; on_abort = rollback`);
        if (this.leaving) return 'running';
      } else {
        this.emit({ type: 'phase', phase: 'settle', message: `${outcome.error}; leaving the fleet as it is` });
        await this.settle();
      }
      return 'aborted';
    }
    if (settings.onFailure === 'rollback' && canRollBack) {
      const back = await this.rollBack(previous, outcome.error);
      if (back.ok) return 'rolled_back';
      if (this.leaving) return 'running';
      this.note('rollback_failed', back.error);
      return back.aborted ? 'aborted' : 'failed';
    }
    this.emit({ type: 'phase', phase: 'settle', message: `halting: ${outcome.error}` });
    await this.settle();
    return 'halted';
  }

  /** Put what the deploy changed back on `previous`, with the deploy's own strategy (canary: rolling). */
  private async rollBack(previous: string, reason: string): Promise<Outcome> {
    const { settings } = this.req;
    const found = await this.req.findRelease(previous);
    // An unknown release has no image: providers that need one find it on the machines still running it.
    if (found) this.releases.set(found.version, found);
    const release = found ?? { version: previous, image: previous, createdAtMs: 0 };
    this.phase = 'rollback';
    this.emit({ type: 'phase', phase: 'rollback', message: `rolling back to ${previous}: ${reason}` });
    this.note('rollback', `rolling back to ${previous}`, { reason });
    const rollbackSettings: StrategySettings = {
      ...settings,
      strategy: settings.strategy === 'canary' ? 'rolling' : settings.strategy,
      onFailure: 'halt',
      pauseBeforeCutover: false,
    };
    const fleet = await this.observe();
    const back = await this.converge(this.plan(fleet, release, rollbackSettings), release, rollbackSettings, fleet);
    if (!this.leaving) await this.settle();
    return back;
  }

  private plan(fleet: Machine[], target: Release, settings: StrategySettings): Plan {
    return buildPlan({
      deployId: this.req.deployId,
      app: this.req.scope.app,
      env: this.req.scope.env,
      fleet,
      target,
      groups: this.req.groups,
      settings,
    });
  }

  /**
   * Apply `first`, then re-observe and re-plan until the fleet is on `target` (bounded). `fleet` is the
   * listing `first` was built from, when nothing changed since: the plan is applied without listing again.
   */
  private async converge(first: Plan, target: Release, settings: StrategySettings, fleet?: Machine[]): Promise<Outcome> {
    let plan = first;
    let seen = fleet;
    // When the last plan's final step finished: every machine was then checked on the target, so a
    // re-plan that finds nothing left dates convergence there, not at the end of the confirming listing.
    let appliedAt: number | undefined;
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      this.emit({ type: 'plan', plan, round, phase: this.phase });
      if (round > 1) this.note('replan', `round ${round}: ${plural(plan.waves.length, 'wave')} remain`, { waves: plan.waves.map((w) => w.label) });
      if (plan.waves.length === 0) return this.markConverged(appliedAt);
      const outcome = await this.applyPlan(plan, seen);
      if (!outcome.ok) return outcome;
      appliedAt = this.clock.now();
      seen = await this.observe();
      plan = this.plan(seen, target, settings);
    }
    return { ok: false, error: `fleet still not on ${target.version} after ${MAX_ROUNDS} rounds`, aborted: false };
  }

  private markConverged(at?: number): Outcome {
    if (this.phase !== 'deploy') return { ok: true };
    const now = at ?? this.clock.now();
    this.dispatchedAt ??= now;
    this.convergedAt = now;
    this.emit({ type: 'converged', atMs: now - this.startedAt });
    return { ok: true };
  }

  private async applyPlan(plan: Plan, fleet?: Machine[]): Promise<Outcome> {
    const idByLaunch = new Map<string, string>();
    const known = new Map<string, Machine>();
    for (const m of fleet ?? (await this.observe())) {
      known.set(m.id, m);
      if (m.launchId) idByLaunch.set(m.launchId, m.id);
    }
    const dispatched: Machine[] = [];
    const ctx: StepContext = {
      deployId: this.req.deployId,
      storeGate: this.storeGate,
      provider: this.deps.provider,
      scope: this.req.scope,
      clock: this.clock,
      settings: plan.settings,
      limit: pLimit(Math.max(1, plan.settings.maxConcurrency)),
      idByLaunch,
      known,
      outOfTraffic: new Set(),
      awaitPromote: (signal) => this.awaitPromote(signal),
      imageFor: (version) => this.releases.get(version)?.image,
      hooks: {
        accepted: () => {
          this.lastAccepted = this.clock.now();
        },
        created: (_m, isNew) => {
          if (isNew) {
            this.live++;
            this.trackExtras();
          }
        },
        destroyed: () => {
          this.live--;
        },
        failedMachine: (id) => this.failed.add(id),
        dispatched: (m) => dispatched.push(m),
      },
    };
    for (let i = 0; i < plan.waves.length; ) {
      // Consecutive waves with the same window run as one flow (Wave.window); the others one by one.
      // A flow never spans regions rolled in order (Wave.regions): each region is done before the next.
      let j = i + 1;
      const flow = (w: Wave) => JSON.stringify([w.window, w.regions]);
      const window = plan.waves[i]!.window && flow(plan.waves[i]!);
      if (window) while (j < plan.waves.length && flow(plan.waves[j]!) === window) j++;
      const outcome = await this.applyWave(ctx, mergeWaves(plan.waves.slice(i, j)), plan.waves.length);
      if (!outcome.ok) return outcome;
      i = j;
    }
    if (this.phase === 'deploy') {
      // Time-to-dispatch: when the provider accepted the last change of the plan.
      this.dispatchedAt = this.lastAccepted ?? this.clock.now();
      this.emit({ type: 'dispatched', atMs: this.dispatchedAt - this.startedAt });
    }
    if (dispatched.length > 0) return this.trackConvergence(dispatched, plan.settings);
    return { ok: true };
  }

  private applyWave(ctx: StepContext, wave: Wave, waves: number): Promise<Outcome> {
    return runWave(
      {
        signal: this.abort.signal,
        phase: this.phase,
        emit: this.emit,
        note: (kind, message, data, machineId, index) => this.note(kind, message, data, machineId, index),
        flush: () => this.journal.flush(),
      },
      ctx,
      wave,
      waves,
    );
  }

  /** Immediate: updates were only dispatched; follow every machine until it converges or times out. */
  private async trackConvergence(machines: Machine[], settings: StrategySettings): Promise<Outcome> {
    this.phase = 'converge';
    this.emit({ type: 'phase', phase: 'converge', message: `waiting for ${machines.length} machines to converge` });
    const result = await trackConvergence({ provider: this.deps.provider, scope: this.req.scope, clock: this.clock, signal: this.abort.signal }, machines, settings.convergenceTimeoutMs);
    this.phase = 'deploy';
    if (this.abort.signal.aborted) return { ok: false, error: 'aborted while converging', aborted: true };
    if (result.unanswered) return { ok: false, error: `waiting for machines to converge: ${result.unanswered.message}`, aborted: false };
    for (const id of result.failed) this.failed.add(id);
    this.stragglers = result.stragglers;
    if (this.stragglers.length > 0 || result.failed.length > 0) {
      const parts = [];
      if (this.stragglers.length) parts.push(`${this.stragglers.length} stragglers: ${preview(this.stragglers)}`);
      if (result.failed.length) parts.push(`${result.failed.length} failed: ${preview(result.failed)}`);
      this.note('convergence', parts.join('; '), { stragglers: this.stragglers, failed: result.failed });
      return { ok: false, error: `not converged within ${Math.round(settings.convergenceTimeoutMs / 1000)}s: ${parts.join('; ')}`, aborted: false };
    }
    return { ok: true };
  }

  /**
   * Leave a fleet that serves (settle.ts): no orphan extra machines, no serving machine left out of
   * traffic. While the provider does not answer, keep trying for provider_outage_timeout; name what
   * could not be put back (summary, journal, `runway status`).
   */
  private async settle(): Promise<void> {
    const report = await settleFleet({
      provider: this.deps.provider,
      scope: this.req.scope,
      groups: this.req.groups,
      clock: this.clock,
      maxConcurrency: this.req.settings.maxConcurrency,
      waitTimeoutMs: this.req.settings.waitTimeoutMs,
      patienceMs: this.deps.provider.gate?.outageTimeoutMs ?? SETTLE_PATIENCE_MS,
      observe: () => this.observe(),
    });
    this.leftOut = report.leftOut;
    const left = report.leftOut.length ? `; ${report.leftOut.length} serving machines still out of traffic: ${preview(report.leftOut)}${report.error ? ` (${report.error})` : ''}` : '';
    this.note('settled', `settled: ${report.tidied}/${report.attempted} machines tidied${left}`, { tidied: report.tidied, attempted: report.attempted, leftOut: report.leftOut, error: report.error });
  }

  private async awaitPromote(signal: AbortSignal): Promise<void> {
    this.emit({ type: 'phase', phase: this.phase, message: `paused before cutover: run \`runway deploys promote ${this.req.deployId}\`` });
    this.note('paused', 'waiting for promote');
    while (!this.promoteRequested) {
      await this.wall.sleep(this.deps.pollMs ?? 1000, signal);
      this.promoteRequested = await this.deps.store.hasJournalEntry(this.req.deployId, 'promote');
    }
  }

  /** The fleet now. A listing that fails is an error, never an empty fleet. */
  private async observe(): Promise<Machine[]> {
    const machines = await this.deps.provider.list(this.req.scope);
    this.lastFleet = machines.filter((m) => m.state !== 'destroying' && m.state !== 'destroyed' && m.role !== 'release-command');
    this.lastFleetAt = this.clock.now();
    return this.lastFleet;
  }

  private trackExtras(): void {
    this.extraPeak = Math.max(this.extraPeak, this.live - this.desiredTotal);
  }

  private watchMachines(): void {
    const { provider } = this.deps;
    if (!provider.subscribe) return;
    this.unsubscribe = provider.subscribe(this.req.scope, (event) => {
      this.emit({ type: 'machine', event });
      const m = event.machine;
      this.journal.addEvent({
        deployId: this.req.deployId,
        app: m.app,
        env: m.env,
        machineId: m.id,
        atMs: event.atMs,
        type: event.type,
        state: m.state,
        release: m.release,
        health: m.health,
      });
    });
  }

  /** Heartbeat (the deploy and its lock) and watch the store for abort requests (deploy-watch.ts). */
  private background(): Promise<void> {
    return watchDeploy({
      store: this.deps.store,
      deployId: this.req.deployId,
      scope: this.req.scope,
      owner: this.deps.owner ?? null,
      wall: this.wall,
      pollMs: this.deps.pollMs ?? 1000,
      heartbeatMs: this.deps.heartbeatMs ?? 5000,
      stop: this.stopBackground.signal,
      storeGate: this.storeGate,
      journal: this.journal,
      abortRequested: (by) => this.requestAbort(by),
      ownershipLost: () => {
        this.lostOwnership = true;
        this.requestAbort('ownership lost');
      },
      say: (message) => this.emit({ type: 'phase', phase: this.phase, message }),
    });
  }

  private async finish(status: DeployStatus, error: string | null, previous: string | null): Promise<DeploySummary> {
    const { store } = this.deps;
    let fleet: Machine[];
    let fleetSeenAt: number | null = null;
    let listed = true;
    try {
      fleet = await this.observe();
    } catch (err) {
      // Not an empty fleet: the last one seen, said to be that.
      listed = false;
      fleet = this.lastFleet ?? [];
      fleetSeenAt = this.lastFleet ? this.lastFleetAt - this.startedAt : null;
      this.note('fleet_unknown', `the fleet could not be listed at the end (${describeError(err)}); the summary counts the last listing${fleetSeenAt === null ? ' (none)' : ''}`);
    }
    const target = this.req.target.version;
    const serving = fleet.filter((m) => m.role === 'serving');
    const onTarget = serving.filter((m) => m.release === target && m.state === 'started' && m.health === 'passing');
    const now = this.clock.now();
    const stats = this.deps.apiStats?.() ?? { calls: 0, rateLimited: 0 };
    const summary: DeploySummary = {
      deployId: this.req.deployId,
      app: this.req.scope.app,
      env: this.req.scope.env,
      release: target,
      previousRelease: previous,
      strategy: this.req.settings.strategy,
      status,
      startedAtMs: this.startedAt,
      dispatchedAtMs: this.dispatchedAt === null ? null : this.dispatchedAt - this.startedAt,
      convergedAtMs: status === 'succeeded' && this.convergedAt !== null ? this.convergedAt - this.startedAt : null,
      finishedAtMs: now - this.startedAt,
      machines: {
        total: serving.length,
        onTarget: onTarget.length,
        failed: this.failed.size,
        stragglers: this.stragglers.length,
      },
      failedMachineIds: [...this.failed].sort(),
      leftOutOfTraffic: status === 'succeeded' ? [] : outOfTraffic(fleet).map((m) => m.id).sort(),
      ...(listed ? {} : { fleetListedAtMs: fleetSeenAt }),
      stragglerIds: [...this.stragglers].sort(),
      extraMachinesPeak: Math.max(0, this.extraPeak),
      apiCalls: stats.calls,
      rateLimited: stats.rateLimited,
      error,
    };
    if (this.lostOwnership) {
      // The new owner writes the record and the journal's end; this run says only that it stepped back.
      this.note('owner_lost', `${this.deps.owner ?? 'this run'} stopped: ${error ?? 'taken over'}`);
      await this.journal.flush();
      return summary;
    }
    if (this.steppingBack) {
      // Resumable as it is: running, without an owner or a fresh heartbeat, so another instance
      // claims it at once and `runway deploy resume` accepts it. Its lock stays with it.
      this.note('stepped_back', `${this.deps.owner ?? 'this run'} stopped (${error}); nothing was rolled back`);
      await this.journal.flush();
      await store.updateDeploy(this.req.deployId, { owner: null, heartbeatAtMs: 0 }).catch(() => {});
      return summary;
    }
    this.note('status', status, { error });
    this.emit({ type: 'status', status, ...(error ? { message: error } : {}) });
    // The end must be recorded: while the store is down, keep trying (bounded) rather than lose it.
    const deadline = this.wall.now() + FINAL_WRITE_PATIENCE_MS;
    for (;;) {
      await this.journal.flush();
      try {
        if (this.journal.pending > 0) throw new Error(this.storeGate.reason ?? 'journal not written');
        await store.updateDeploy(this.req.deployId, {
          status,
          summary,
          error,
          dispatchedAtMs: this.dispatchedAt,
          convergedAtMs: summary.convergedAtMs === null ? null : this.convergedAt,
          finishedAtMs: now,
        });
        return summary;
      } catch (err) {
        if (this.wall.now() >= deadline) throw err;
        await this.wall.sleep(this.deps.pollMs ?? 1000);
      }
    }
  }
}
