// What every command that runs a deploy in the foreground does around the engine (deploy, resume,
// rollback, recover, release publish), once the deploy holds the environment's lock: show progress,
// run, release the lock, save provider state, print the summary and map its status to an exit code.

import { openMetricSources } from '../analysis/sources.js';
import { hostname } from 'node:os';
import { pc } from './colors.js';
import { startDeploy } from '../deploys/start.js';
import { SimulatedTimeline } from '../deploys/simulated-time.js';
import type { DeployRequest } from '../deploys/request.js';
import { openProviderSession } from '../providers/open-session.js';
import { EXIT_REFUSED, formatRefusal } from '../deploys/policy.js';
import type { RunwayConfig } from '../config/types.js';
import { RealClock } from '../domain/clock.js';
import type { Machine, Release, StrategySettings } from '../domain/types.js';
import { runDeploy } from '../engine/executor.js';
import { EXIT, exitCodeFor, type DeploySummary } from '../engine/summary.js';
import type { ProviderSession } from '../providers/session.js';
import type { DeployRecord, Store } from '../store/contract.js';
import { recordDeployEnd } from '../ledger/ledger.js';
import { formatSummary } from './commands/deploy-summary.js';
import { getEnvironment } from '../config/environment.js';
import { releaseStepsFor } from '../release/steps-for-environment.js';
import { plural } from '../strategies/steps.js';
import { formatFleet } from './commands/status.js';
import { CliError, printJson, type Io } from './io.js';
import { ProgressView } from './progress-view.js';

export interface SupervisedDeploy {
  config: RunwayConfig;
  store: Store;
  session: ProviderSession;
  deploy: DeployRecord;
  release: Release;
  settings: StrategySettings;
  /** The fleet as observed just before (for the progress view). */
  fleet: Machine[];
  waves: number;
  json: boolean;
  /** Print nothing at the end (the caller reports the summary). */
  quiet?: boolean;
  io: Io;
  signal?: AbortSignal;
}

/**
 * Run a deploy that src/deploys/start.ts started (or `deploy resume` locked) in the foreground: the
 * environment's lock is already this deploy's; it is released when the run ends.
 */
export async function superviseDeploy(run: SupervisedDeploy): Promise<number> {
  return (await superviseDeployWithSummary(run)).code;
}

/** As superviseDeploy, also handing back the summary (release publish reports it per environment). */
export async function superviseDeployWithSummary(
  run: SupervisedDeploy,
): Promise<{ code: number; summary: DeploySummary }> {
  const { config, store, session, deploy, release, settings, io } = run;
  const scope = { app: deploy.app, env: deploy.env };
  const wall = new RealClock();
  const view = run.json
    ? undefined
    : new ProgressView(
        io.stderr,
        session.clock,
        `${pc.bold(`deploy ${deploy.id}`)}  ${scope.app}/${scope.env}  ${deploy.previousRelease ?? '∅'} → ${pc.bold(release.version)}  ${settings.strategy}  (${plural(run.fleet.length, 'machine')}, ${plural(run.waves, 'wave')})`,
        run.fleet,
      );
  // A simulated clock's instants are not wall-clock ones: the record gets wall-clock instants.
  const timeline = session.simulated ? new SimulatedTimeline(wall) : undefined;
  let summary: DeploySummary;
  const analysis = getEnvironment(config, deploy.env).analysis;
  const metrics = openMetricSources(analysis, session.provider, scope, io.env);
  try {
    summary = await runDeploy(
      {
        provider: session.provider,
        store: timeline ? timeline.wrap(store) : store,
        clock: session.clock,
        wallClock: wall,
        onProgress: view?.listener,
        apiStats: session.apiStats,
        metricSources: metrics.sources,
        ...(deploy.owner ? { owner: deploy.owner } : {}),
      },
      {
        deployId: deploy.id,
        scope,
        target: release,
        groups: config.app.processes,
        settings,
        previousRelease: deploy.previousRelease,
        releaseSteps: releaseStepsFor(config, getEnvironment(config, deploy.env)),
        analysis,
        findRelease: (v) => store.getRelease(scope.app, v),
      },
      run.signal,
    );
    if (timeline) summary = timeline.label(deploy.id, summary);
  } catch (err) {
    const failed = (await store.getDeploy(deploy.id)) ?? deploy;
    await recordDeployEnd(store, wall, failed, undefined, (err as Error).message).catch((e: Error) =>
      io.stderr.write(`runway: ledger: ${e.message}\n`),
    );
    throw err;
  } finally {
    view?.stop();
    await metrics.close();
    await store.releaseLock(scope.app, scope.env, deploy.id);
    await session.save();
  }
  try {
    await recordDeployEnd(store, wall, (await store.getDeploy(deploy.id)) ?? deploy, summary);
  } catch (err) {
    io.stderr.write(
      `runway: could not record the end of deploy ${deploy.id} in the ledger: ${(err as Error).message}\n`,
    );
  }
  if (run.quiet) {
    // The caller reports (release publish: one JSON object for every environment).
  } else if (run.json) printJson(io, summary);
  else {
    io.stdout.write(formatSummary(summary) + '\n');
    // Anything but success: say exactly which machine is where.
    if (summary.status !== 'succeeded')
      io.stdout.write(formatFleet(await session.provider.list(scope), release.version) + '\n');
  }
  return { code: exitCodeFor(summary.status), summary };
}

export interface CliDeployRun {
  config: RunwayConfig;
  store: Store;
  request: DeployRequest;
  io: Io;
  json: boolean;
  quiet?: boolean;
  lockWaitMs?: number;
  recoverMode?: string;
  signal?: AbortSignal | undefined;
}

/**
 * A deploy the CLI starts (deploy, rollback, recover, release publish): through the one way to start
 * a deploy (src/deploys/start.ts), then run here in the foreground. A policy refusal is exit 5 with
 * what would be allowed; a locked environment exit 4; an unknown release or a refused plan exit 2.
 */
export async function runCliDeploy(
  run: CliDeployRun,
): Promise<{ code: number; summary: DeploySummary; deploy: DeployRecord }> {
  const { config, store, io } = run;
  const outcome = await startDeploy(
    {
      config,
      store,
      wall: new RealClock(),
      owner: `${hostname()}:${process.pid}`,
      openSession: (env) => openProviderSession({ config, env, store, processEnv: io.env }),
    },
    run.request,
    {
      lockWaitMs: run.lockWaitMs ?? 0,
      ...(run.recoverMode ? { recoverMode: run.recoverMode } : {}),
      run: (started) => {
        if (started.decision.emergency) io.stderr.write(`runway: ${started.decision.note}\n`);
        return superviseDeployWithSummary({
          config,
          store,
          session: started.session,
          deploy: started.deploy,
          release: started.release,
          settings: started.settings,
          fleet: started.fleet,
          waves: started.plan.waves.length,
          json: run.json,
          ...(run.quiet ? { quiet: true } : {}),
          io,
          ...(run.signal ? { signal: run.signal } : {}),
        }).finally(() => started.session.close());
      },
    },
  );
  if (outcome.outcome === 'refused') throw new CliError(formatRefusal(outcome.env, outcome), EXIT_REFUSED);
  if (outcome.outcome === 'error') throw new CliError(outcome.error, outcome.locked ? EXIT.locked : EXIT.badInput);
  return { ...(await outcome.run), deploy: outcome.deploy };
}
