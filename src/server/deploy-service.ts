// The control plane's deploy runner: starts deploys in this process, owns them with a heart-beating
// lease in the store, resumes deploys whose owner died (on start, and whenever a lease lapses), and
// keeps each running deploy's live progress for the API and the dashboard. Several `runway server`
// instances on one PostgreSQL store share the work: a deploy has one owner at a time.

import { openMetricSources } from '../analysis/sources.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  DeployRequestError,
  startDeploy,
  type DeployDeps,
  type StartedDeploy,
  type StartOutcome,
} from '../deploys/start.js';
import type { DeployRequest } from '../deploys/request.js';
import { SimulatedTimeline } from '../deploys/simulated-time.js';
import { resolveStrategySettings } from '../config/settings.js';
import { getEnvironment } from '../config/environment.js';
import type { RunwayConfig } from '../config/types.js';
import { RealClock, type Clock } from '../domain/clock.js';
import type { Release, StrategySettings } from '../domain/types.js';
import { TERMINAL_STATUSES } from '../domain/types.js';
import { acquireEnvironmentLock } from '../engine/environment-lock.js';
import { runDeploy } from '../engine/executor.js';
import type { ProgressEvent } from '../engine/progress.js';
import type { DeploySummary } from '../engine/summary.js';
import { openProviderSession } from '../providers/open-session.js';
import type { ProviderSession } from '../providers/session.js';
import { releaseStepsFor } from '../release/steps-for-environment.js';
import type { DeployRecord, Store } from '../store/contract.js';

/**
 * Optional callbacks at the points the control plane records (the ledger) once a deploy runs here:
 * it ended (finished, aborted, rolled back), or was taken over from a dead instance. (Its start is
 * recorded by src/deploys/start.ts, the one way every deploy starts.) A hook that fails is logged
 * and never affects the deploy.
 */
export interface DeployHooks {
  ended?(deploy: DeployRecord, summary: DeploySummary | undefined, error: string | undefined): Promise<void>;
  takenOver?(deploy: DeployRecord, from: string | null): Promise<void>;
}

export { DeployRequestError };

export interface LiveDeploy {
  deploy: DeployRecord;
  /** Every progress event so far, in order (the dashboard replays them, then follows). */
  events: ProgressEvent[];
  /** The clock the deploy runs on (its provider session's; simulated time on the sim). */
  clock: Clock;
  done: Promise<DeploySummary | undefined>;
}

export interface DeployServiceOptions {
  config: RunwayConfig;
  store: Store;
  /** This instance's name in deploy ownership (default host:pid:random). */
  instanceId?: string;
  wallClock?: Clock;
  /** How often to look for deploys whose owner stopped heart-beating. */
  pollMs?: number;
  /** A deploy whose heartbeat is older than this is taken over. */
  leaseTtlMs?: number;
  /** Opens the provider of an environment (tests inject clocks). */
  openSession?: (env: string) => Promise<ProviderSession>;
  processEnv?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  hooks?: DeployHooks;
  /** Wraps every provider session this service opens (metrics count provider requests). */
  instrumentSession?: (env: string, session: ProviderSession) => ProviderSession;
}

type Listener = (deployId: string, event: ProgressEvent) => void;

export class DeployService {
  readonly instanceId: string;
  private readonly wall: Clock;
  private readonly live = new Map<string, LiveDeploy & { controller: AbortController; stepBack: AbortController }>();
  private readonly listeners = new Set<Listener>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  /**
   * Requests between recording their deploy (owned by this instance) and running it: the takeover
   * check must not claim such a deploy, or this instance would run it twice (found by test:soak on a
   * busy machine, where the store writes between the two take longer than a takeover poll).
   */
  private starting = 0;

  constructor(private readonly options: DeployServiceOptions) {
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.wall = options.wallClock ?? new RealClock();
  }

  private get store(): Store {
    return this.options.store;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private async hook<K extends keyof DeployHooks>(
    name: K,
    ...args: Parameters<NonNullable<DeployHooks[K]>>
  ): Promise<void> {
    const fn = this.options.hooks?.[name] as ((...a: unknown[]) => Promise<void>) | undefined;
    if (!fn) return;
    try {
      await fn.apply(this.options.hooks, args);
    } catch (err) {
      this.log(`${name} hook failed: ${(err as Error).message}`);
    }
  }

  /** Resume orphaned deploys now, then keep watching for lapsed leases. */
  start(): void {
    if (this.loop) return;
    this.loop = this.watch();
  }

  /**
   * Stop watching, and step back from every deploy this instance runs: no new operation starts,
   * in-flight ones finish, nothing is rolled back; each deploy is left running and unowned (its lock
   * kept), for another instance or this one restarted to finish in the same direction.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    for (const d of this.live.values()) d.stepBack.abort();
    await Promise.allSettled([...this.live.values()].map((d) => d.done));
  }

  /** Live progress of deploys this instance runs. */
  running(): LiveDeploy[] {
    return [...this.live.values()];
  }

  get(deployId: string): LiveDeploy | undefined {
    return this.live.get(deployId);
  }

  /** Follow progress events of every deploy this instance runs; returns an unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What src/deploys/start.ts needs to start deploys that this instance owns and runs. */
  get startDeps(): DeployDeps {
    const { config, store } = this.options;
    return {
      config,
      store,
      wall: this.wall,
      owner: this.instanceId,
      openSession: (env) => this.openSession(env.name),
      log: (line) => this.log(line),
    };
  }

  /**
   * A request through the one way to start a deploy (src/deploys/start.ts); an allowed, locked and
   * recorded deploy then runs here in the background.
   */
  async request(request: DeployRequest): Promise<StartOutcome<void>> {
    this.starting++;
    try {
      return await startDeploy(this.startDeps, request, { run: (started) => this.launch(started) });
    } finally {
      this.starting--;
    }
  }

  /** Run a started deploy in the background (its lock is already held; the run releases it). */
  launch(started: StartedDeploy): void {
    this.run(started.deploy, started.release, started.session, started.settings);
  }

  /** Record an abort request; whichever instance owns the deploy stops it within one poll. */
  async abort(deployId: string, by: string): Promise<DeployRecord> {
    const deploy = await this.store.getDeploy(deployId);
    if (!deploy) throw new DeployRequestError(`no deploy ${deployId}`, 404);
    if (TERMINAL_STATUSES.includes(deploy.status))
      throw new DeployRequestError(`deploy ${deployId} already ended (${deploy.status})`, 409);
    await this.store.requestAbort(deployId, by, this.wall.now());
    await this.store.appendJournal([
      { deployId, atMs: this.wall.now(), kind: 'abort_requested', message: `abort requested by ${by}` },
    ]);
    return (await this.store.getDeploy(deployId))!;
  }

  /** Let a bluegreen deploy paused before cutover go on. */
  async promote(deployId: string, by: string): Promise<void> {
    const deploy = await this.store.getDeploy(deployId);
    if (!deploy) throw new DeployRequestError(`no deploy ${deployId}`, 404);
    if (deploy.status !== 'running')
      throw new DeployRequestError(
        `deploy ${deployId} is ${deploy.status}; only a running deploy can be promoted`,
        409,
      );
    await this.store.appendJournal([
      { deployId, atMs: this.wall.now(), kind: 'promote', message: `promoted by ${by}` },
    ]);
  }

  /** A provider session of `env`, opened as deploys open theirs (the dashboard reads fleets with it). */
  async openSession(env: string): Promise<ProviderSession> {
    const { config, store } = this.options;
    const session = this.options.openSession
      ? await this.options.openSession(env)
      : await openProviderSession({
          config,
          env: getEnvironment(config, env),
          store,
          processEnv: this.options.processEnv ?? process.env,
        });
    return this.options.instrumentSession ? this.options.instrumentSession(env, session) : session;
  }

  private run(
    deploy: DeployRecord,
    release: Release,
    session: ProviderSession,
    startSettings?: StrategySettings,
  ): void {
    const { config, store } = this.options;
    const env = getEnvironment(config, deploy.env);
    const settings = startSettings ?? resolveStrategySettings(env, config.app.processes, deploy.strategy);
    const controller = new AbortController();
    const stepBack = new AbortController();
    let leftRunning = false;
    const entry = {
      deploy,
      events: [] as ProgressEvent[],
      clock: session.clock,
      controller,
      stepBack,
      done: Promise.resolve<DeploySummary | undefined>(undefined),
    };
    const onProgress = (event: ProgressEvent) => {
      entry.events.push(event);
      for (const l of this.listeners) l(deploy.id, event);
    };
    // A simulated clock's instants are not wall-clock ones: the record gets wall-clock instants.
    const timeline = session.simulated ? new SimulatedTimeline(this.wall) : undefined;
    const metrics = openMetricSources(env.analysis, session.provider, { app: deploy.app, env: deploy.env });
    entry.done = (async () => {
      try {
        const ran = await runDeploy(
          {
            provider: session.provider,
            store: timeline ? timeline.wrap(store) : store,
            clock: session.clock,
            wallClock: this.wall,
            onProgress,
            apiStats: session.apiStats,
            metricSources: metrics.sources,
            owner: this.instanceId,
            stepBack: stepBack.signal,
            // Three heartbeats per lease: one late beat never loses the deploy to another instance.
            heartbeatMs: Math.max(200, Math.round((this.options.leaseTtlMs ?? 15_000) / 3)),
            pollMs: Math.min(1_000, Math.max(100, Math.round((this.options.leaseTtlMs ?? 15_000) / 6))),
          },
          {
            deployId: deploy.id,
            scope: { app: deploy.app, env: deploy.env },
            target: release,
            groups: config.app.processes,
            settings,
            previousRelease: deploy.previousRelease,
            releaseSteps: releaseStepsFor(config, env),
            analysis: env.analysis,
            findRelease: (v) => store.getRelease(deploy.app, v),
          },
          controller.signal,
        );
        const summary = timeline ? timeline.label(deploy.id, ran) : ran;
        leftRunning = summary.status === 'running';
        this.log(
          `deploy ${deploy.id} ${deploy.app}/${deploy.env} ${release.version}: ${leftRunning ? `left running (${summary.error})` : summary.status}`,
        );
        if (!leftRunning)
          await this.hook(
            'ended',
            (await store.getDeploy(deploy.id).catch(() => undefined)) ?? deploy,
            summary,
            undefined,
          );
        return summary;
      } catch (err) {
        this.log(`deploy ${deploy.id}: ${(err as Error).message}`);
        await this.hook(
          'ended',
          (await store.getDeploy(deploy.id).catch(() => undefined)) ?? deploy,
          undefined,
          (err as Error).message,
        );
        return undefined;
      } finally {
        // A deploy left running (stepped back, taken over) keeps its lock: whoever goes on with it holds it.
        if (!leftRunning) await store.releaseLock(deploy.app, deploy.env, deploy.id).catch(() => false);
        await session.save().catch(() => {});
        await session.close().catch(() => {});
        await metrics.close().catch(() => {});
        this.live.delete(deploy.id);
      }
    })();
    this.live.set(deploy.id, entry);
  }

  /** Take over deploys whose owner's lease lapsed (or that nobody owns), and run them to the end. */
  private async watch(): Promise<void> {
    const pollMs = this.options.pollMs ?? 2_000;
    while (!this.stopping.signal.aborted) {
      try {
        await this.takeOver();
      } catch (err) {
        this.log(`takeover check failed: ${(err as Error).message}`);
      }
      try {
        await this.wall.sleep(pollMs, this.stopping.signal);
      } catch {
        return;
      }
    }
  }

  private async takeOver(): Promise<void> {
    const ttl = this.options.leaseTtlMs ?? 15_000;
    const candidates = await this.store.listDeploys({
      app: this.options.config.app.name,
      status: ['running', 'pending'],
    });
    for (const deploy of candidates) {
      if (this.live.has(deploy.id) || !this.options.config.environments[deploy.env]) continue;
      // Ours and maybe still being started here (not yet live): looked at again at the next poll. A
      // deploy of this instance id that no request here is starting (a restart under the same id) is
      // claimed as any other.
      if (deploy.owner === this.instanceId && this.starting > 0) continue;
      const claimed = await this.store.claimDeploy(deploy.id, this.instanceId, this.wall.now(), ttl);
      if (!claimed) continue;
      this.log(`taking over deploy ${deploy.id} (${deploy.env}) from ${deploy.owner ?? 'nobody'}`);
      await this.store.appendJournal([
        {
          deployId: deploy.id,
          atMs: this.wall.now(),
          kind: 'taken_over',
          message: `taken over by ${this.instanceId} from ${deploy.owner ?? 'nobody'}`,
        },
      ]);
      await this.hook('takenOver', deploy, deploy.owner);
      const release = await this.store.getRelease(deploy.app, deploy.release);
      if (!release) {
        await this.store.updateDeploy(deploy.id, {
          status: 'failed',
          error: `release ${deploy.release} no longer exists`,
          finishedAtMs: this.wall.now(),
        });
        continue;
      }
      const session = await this.openSession(deploy.env);
      // Same holder: the lock passes to this instance with the deploy.
      await acquireEnvironmentLock(this.store, this.wall, {
        app: deploy.app,
        env: deploy.env,
        holder: deploy.id,
        reason: `deploy ${deploy.release}`,
        waitMs: 0,
      }).catch(() => undefined);
      this.run((await this.store.getDeploy(deploy.id))!, release, session);
    }
  }
}
