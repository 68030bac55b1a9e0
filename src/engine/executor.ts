// The imperative shell around the pure strategies: observe the fleet, build a plan, apply it wave by
// wave, and re-observe until nothing remains (level-triggered). On failure it rolls back or halts per
// `on_failure`; on abort it stops within one in-flight operation per machine; either way it settles
// the fleet (no orphan extra machines, no healthy machine left out of traffic) and says where each
// machine is. Its parts: deploy-request.ts (what a run is given), run-control.ts (abort, step-back,
// ownership), deploy-watch.ts (heartbeat), plan-applier.ts (waves and convergence), deploy-tally.ts
// (what it measures), machine-event-log.ts (machine events stored), settle.ts, deploy-end.ts (summary and
// record).

import type { AnalysisSpec } from '../domain/analysis.js';
import { AnalysisGate } from './analysis-gate.js';
import type { Plan } from '../domain/plan.js';
import type { Clock } from '../domain/clock.js';
import type { DeployStatus, Machine, Release, StrategySettings } from '../domain/types.js';
import { ProviderError } from '../providers/contract.js';
import { buildPlan } from '../strategies/index.js';
import { plural } from '../strategies/steps.js';
import { JournalWriter } from './journal-writer.js';
import type { DeployPhase, ProgressListener } from './progress.js';
import type { DeploySummary } from './summary.js';
import { describeError } from './errors.js';
import type { Outcome } from './wave-runner.js';
import { StoreGate } from './store-gate.js';
import { runReleaseSteps } from './release-step-runner.js';
import { preview } from './wave-flow.js';
import { settleFleet } from './settle.js';
import { watchProviderOutages } from './provider-outage.js';
import { watchDeploy } from './deploy-watch.js';
import { ReleaseRefused, type DeployRequest, type EngineDeps } from './deploy-request.js';
import { RunControl } from './run-control.js';
import { DeployTally } from './deploy-tally.js';
import { convergeOn, type PlanHost } from './plan-applier.js';
import { finishDeploy, type EndHost } from './deploy-end.js';
import { recordMachineEvents } from './machine-event-log.js';

export type { DeployRequest, EngineDeps } from './deploy-request.js';

/** How long settling keeps trying a provider that does not answer, when it has no outage timeout. */
const SETTLE_PATIENCE_MS = 2 * 60_000;

export async function runDeploy(deps: EngineDeps, req: DeployRequest, signal?: AbortSignal): Promise<DeploySummary> {
  return new DeployRun(deps, req, signal).run();
}

class DeployRun implements PlanHost, EndHost {
  readonly journal: JournalWriter;
  /** Closed while the store cannot be written: no provider operation starts then. */
  readonly storeGate = new StoreGate();
  readonly control: RunControl;
  readonly tally: DeployTally;
  private readonly stopBackground = new AbortController();
  readonly emit: ProgressListener;
  private promoteRequested = false;
  phase: DeployPhase = 'deploy';
  /** Releases this run knows by version (target, rollback), so steps can give providers their image. */
  private readonly releases = new Map<string, Release>();
  private unsubscribe: (() => void) | undefined;
  /** The last fleet a listing returned, and when (provider time). */
  private lastListing: { machines: Machine[]; atMs: number } | undefined;
  /** Serving machines settle could not put back into traffic. */
  private leftOut: string[] = [];

  constructor(
    readonly deps: EngineDeps,
    readonly req: DeployRequest,
    signal?: AbortSignal,
  ) {
    this.journal = new JournalWriter(deps.store, this.storeGate);
    this.emit = deps.onProgress ?? (() => {});
    this.tally = new DeployTally(
      deps.clock,
      req.groups.reduce((n, g) => n + g.count, 0),
    );
    this.releases.set(req.target.version, req.target);
    this.control = new RunControl(signal, deps.stepBack);
    this.analysis = req.analysis?.entries.length ? this.analysisGate(req.analysis) : undefined;
  }

  readonly analysis: AnalysisGate | undefined;

  private analysisGate(spec: AnalysisSpec): AnalysisGate {
    const { provider } = this.deps;
    const { scope } = this.req;
    return new AnalysisGate(spec, this.deps.metricSources ?? {}, {
      provider,
      scope,
      clock: this.clock,
      target: this.req.target.version,
      note: (kind, message, data, wave) => this.note(kind, message, data, null, wave ?? null),
      emit: this.emit,
    });
  }

  private get clock(): Clock {
    return this.deps.clock;
  }

  private get wall(): Clock {
    return this.deps.wallClock ?? this.deps.clock;
  }

  /** The run's abort signal (renewed for a rollback after an abort: read it each time). */
  get signal(): AbortSignal {
    return this.control.signal;
  }

  private get leaving(): boolean {
    return this.control.leaving;
  }

  note(kind: string, message: string, data?: unknown, machineId?: string | null, wave?: number | null): void {
    this.journal.add({
      deployId: this.req.deployId,
      atMs: this.clock.now(),
      kind,
      message,
      data,
      machineId: machineId ?? null,
      wave: wave ?? null,
    });
  }

  async run(): Promise<DeploySummary> {
    const { store } = this.deps;
    const { deployId } = this.req;
    this.deps.provider.workingFor?.(deployId);
    this.tally.start();
    await store.updateDeploy(deployId, {
      status: 'running',
      startedAtMs: this.tally.startedAt,
      heartbeatAtMs: this.wall.now(),
    });
    this.unsubscribe = recordMachineEvents(
      this.deps.provider,
      this.req.scope,
      this.req.deployId,
      this.journal,
      this.emit,
    );
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
      const rollingBack =
        previous !== null
          ? (await this.storeGate.call(() => store.listJournal(deployId), this.control.signal)).find(
              (e) => e.kind === 'rollback',
            )
          : undefined;
      if (rollingBack && previous !== null)
        return await this.end(
          ...(await this.resumeRollback(previous, rollingBack.data)),
          previous,
          background,
          unwatchOutages,
        );
      await this.checkRelease();
      const fleet = await this.observe();
      this.tally.seen(fleet.length);
      const plan = this.plan(fleet, this.req.target, this.req.settings);
      previous = previous ?? plan.previous ?? null;
      const planned = previous;
      await this.storeGate.call(
        () => store.updateDeploy(deployId, { plan, previousRelease: planned }),
        this.control.signal,
      );
      // A resumed deploy says what an earlier run of it already did, so the journal tells the whole story.
      const alreadyDone = fleet
        .filter((m) => m.deployId === deployId && m.release === this.req.target.version)
        .map((m) => m.id);
      this.note(
        'plan',
        `plan: ${plural(plan.waves.length, 'wave')}${alreadyDone.length ? `; ${alreadyDone.length} machines already on ${this.req.target.version} from an earlier run of this deploy` : ''}`,
        {
          waves: plan.waves.length,
          estimate: plan.estimate,
          previous,
          alreadyDone,
        },
      );
      // Release steps run before any serving machine changes, and only when there is something to change.
      const stepFailure = plan.waves.length > 0 ? await this.runReleaseSteps() : undefined;
      const outcome: Outcome = stepFailure
        ? { ok: true }
        : await convergeOn(
            this,
            plan,
            this.req.target,
            this.req.settings,
            this.req.releaseSteps?.length ? undefined : fleet,
          );
      if (stepFailure) {
        error = stepFailure.error;
        status = stepFailure.status;
      } else if (outcome.ok) {
        status = 'succeeded';
      } else if (this.control.lostOwnership) {
        error = 'another control-plane instance took this deploy over';
        status = 'running';
      } else if (this.control.steppingBack) {
        error = 'the control plane stopped; the deploy is left to be finished by another instance or a restart';
        status = 'running';
      } else {
        error = outcome.error;
        status = await this.recover(outcome, previous);
      }
    } catch (err) {
      error = describeError(err);
      status = 'failed';
      if (this.control.leaving) {
        status = 'running';
      } else {
        this.note('error', error);
        // A refused release changed nothing: the fleet is left exactly as it was.
        if (!(err instanceof ReleaseRefused)) await this.settle(previous).catch(() => {});
      }
    }
    return this.end(status, error, previous, background, unwatchOutages);
  }

  private async end(
    status: DeployStatus,
    error: string | null,
    previous: string | null,
    background: Promise<void>,
    unwatchOutages: () => void,
  ): Promise<DeploySummary> {
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
    this.note(
      'rollback_resumed',
      `going on with the rollback to ${previous} an earlier run of this deploy began (${reason}); never forward again`,
      { reason },
    );
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
      context: {
        deployId: this.req.deployId,
        scope: this.req.scope,
        target: this.req.target,
        provider: this.deps.provider,
        clock: this.clock,
        signal: this.signal,
      },
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
      await provider.checkRelease(this.req.scope, this.req.target.version, { signal: this.signal });
    } catch (err) {
      if (err instanceof ProviderError && err.kind === 'bad_request') {
        throw new ReleaseRefused(
          `release ${this.req.target.version} cannot run on ${provider.name}, nothing was changed: ${err.message}`,
        );
      }
      throw err;
    }
  }

  /** On failure or abort: roll back, or halt, then settle. Returns the final status. */
  private async recover(outcome: Extract<Outcome, { ok: false }>, previous: string | null): Promise<DeployStatus> {
    const { settings } = this.req;
    const canRollBack = previous !== null && previous !== this.req.target.version;
    if (outcome.aborted) {
      const rollBack = (settings.onAbort ?? 'rollback') === 'rollback' && canRollBack;
      // The abort was acted on (nothing new starts); its policy now runs on a fresh signal.
      this.control.handleAbort(rollBack);
      if (rollBack) {
        await this.rollBack(previous, `${outcome.error}; on_abort = rollback`);
        if (this.leaving) return 'running';
      } else {
        this.emit({ type: 'phase', phase: 'settle', message: `${outcome.error}; leaving the fleet as it is` });
        await this.settle(previous);
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
    await this.settle(previous);
    return 'halted';
  }

  /** Put what the deploy changed back on `previous`, with the deploy's own strategy (canary: rolling). */
  private async rollBack(previous: string, reason: string): Promise<Outcome> {
    const { settings } = this.req;
    // The store may be down as the deploy turns back (its failure may be why): waited for at the gate.
    const found = await this.storeGate.call(() => this.req.findRelease(previous), this.control.signal);
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
    const back = await convergeOn(this, this.plan(fleet, release, rollbackSettings), release, rollbackSettings, fleet);
    if (!this.leaving) await this.settle(previous);
    return back;
  }

  plan(fleet: Machine[], target: Release, settings: StrategySettings): Plan {
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
   * Leave a fleet that serves (settle.ts): no orphan extra machines, no serving machine left out of
   * traffic. While the provider does not answer, keep trying for provider_outage_timeout; name what
   * could not be put back (summary, journal, `runway status`).
   */
  private async settle(previous: string | null): Promise<void> {
    const report = await settleFleet({
      provider: this.deps.provider,
      scope: this.req.scope,
      groups: this.req.groups,
      previous,
      clock: this.clock,
      maxConcurrency: this.req.settings.maxConcurrency,
      waitTimeoutMs: this.req.settings.waitTimeoutMs,
      patienceMs: this.deps.provider.gate?.outageTimeoutMs ?? SETTLE_PATIENCE_MS,
      observe: () => this.observe(),
    });
    this.leftOut = report.leftOut;
    const left = report.leftOut.length
      ? `; ${report.leftOut.length} serving machines still out of traffic: ${preview(report.leftOut)}${report.error ? ` (${report.error})` : ''}`
      : '';
    this.note('settled', `settled: ${report.tidied}/${report.attempted} machines tidied${left}`, {
      tidied: report.tidied,
      attempted: report.attempted,
      leftOut: report.leftOut,
      error: report.error,
    });
  }

  async awaitPromote(signal: AbortSignal): Promise<void> {
    this.emit({
      type: 'phase',
      phase: this.phase,
      message: `paused before cutover: run \`runway deploys promote ${this.req.deployId}\``,
    });
    this.note('paused', 'waiting for promote');
    while (!this.promoteRequested) {
      await this.wall.sleep(this.deps.pollMs ?? 1000, signal);
      this.promoteRequested = await this.deps.store.hasJournalEntry(this.req.deployId, 'promote');
    }
  }

  imageFor(version: string): string | undefined {
    return this.releases.get(version)?.image;
  }

  flush(): Promise<void> {
    return this.journal.flush();
  }

  /** The fleet now. A listing that fails is an error, never an empty fleet. */
  async observe(): Promise<Machine[]> {
    const machines = await this.deps.provider.list(this.req.scope);
    const fleet = machines.filter(
      (m) => m.state !== 'destroying' && m.state !== 'destroyed' && m.role !== 'release-command',
    );
    this.lastListing = { machines: fleet, atMs: this.clock.now() };
    return fleet;
  }

  lastFleet(): { machines: Machine[]; atMs: number } | undefined {
    return this.lastListing;
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
      abortRequested: (by) => this.control.requestAbort(by),
      ownershipLost: () => this.control.ownershipLost(),
      say: (message) => this.emit({ type: 'phase', phase: this.phase, message }),
    });
  }

  private finish(status: DeployStatus, error: string | null, previous: string | null): Promise<DeploySummary> {
    return finishDeploy(this, status, error, previous);
  }
}
