// What every command that runs a deploy does around the engine (deploy, resume, rollback, recover):
// take the environment's lock, show progress, run, release the lock, save provider state, print the
// summary and map its status to an exit code.

import pc from 'picocolors';
import type { RunwayConfig } from '../config/types.js';
import { RealClock } from '../domain/clock.js';
import type { Machine, Release, StrategySettings } from '../domain/types.js';
import { acquireEnvironmentLock } from '../engine/environment-lock.js';
import { runDeploy } from '../engine/executor.js';
import { exitCodeFor, type DeploySummary } from '../engine/summary.js';
import type { ProviderSession } from '../providers/session.js';
import type { DeployRecord, Store } from '../store/contract.js';
import { formatSummary } from './commands/deploy-summary.js';
import { getEnvironment } from '../config/environment.js';
import { releaseStepsFor } from '../release/steps-for-environment.js';
import { formatFleet } from './commands/status.js';
import { printJson, type Io } from './io.js';
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
  lockWaitMs: number;
  json: boolean;
  io: Io;
  signal?: AbortSignal;
}

export async function superviseDeploy(run: SupervisedDeploy): Promise<number> {
  const { config, store, session, deploy, release, settings, io } = run;
  const scope = { app: deploy.app, env: deploy.env };
  const wall = new RealClock();
  try {
    await acquireEnvironmentLock(store, wall, { app: scope.app, env: scope.env, holder: deploy.id, reason: `deploy ${release.version}`, waitMs: run.lockWaitMs });
  } catch (err) {
    await store.updateDeploy(deploy.id, { status: 'failed', error: (err as Error).message, finishedAtMs: wall.now() });
    throw err;
  }
  const view = run.json
    ? undefined
    : new ProgressView(
        io.stderr,
        session.clock,
        `${pc.bold(`deploy ${deploy.id}`)}  ${scope.app}/${scope.env}  ${deploy.previousRelease ?? '∅'} → ${pc.bold(release.version)}  ${settings.strategy}  (${run.fleet.length} machines, ${run.waves} waves)`,
        run.fleet,
      );
  let summary: DeploySummary;
  try {
    summary = await runDeploy(
      { provider: session.provider, store, clock: session.clock, wallClock: wall, onProgress: view?.listener, apiStats: session.apiStats, ...(deploy.owner ? { owner: deploy.owner } : {}) },
      {
        deployId: deploy.id,
        scope,
        target: release,
        groups: config.app.processes,
        settings,
        previousRelease: deploy.previousRelease,
        releaseSteps: releaseStepsFor(config, getEnvironment(config, deploy.env)),
        findRelease: (v) => store.getRelease(scope.app, v),
      },
      run.signal,
    );
  } finally {
    view?.stop();
    await store.releaseLock(scope.app, scope.env, deploy.id);
    await session.save();
  }
  if (run.json) printJson(io, summary);
  else {
    io.stdout.write(formatSummary(summary) + '\n');
    // Anything but success: say exactly which machine is where.
    if (summary.status !== 'succeeded') io.stdout.write(formatFleet(await session.provider.list(scope), release.version) + '\n');
  }
  return exitCodeFor(summary.status);
}
