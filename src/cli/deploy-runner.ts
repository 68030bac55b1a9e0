// What every command that runs a deploy does around the engine (deploy, resume, rollback, recover):
// take the environment's lock, show progress, run, release the lock, save provider state, print the
// summary and map its status to an exit code.

import { hostname } from 'node:os';
import { pc } from './colors.js';
import type { RunwayConfig } from '../config/types.js';
import { RealClock } from '../domain/clock.js';
import type { Machine, Release, StrategySettings } from '../domain/types.js';
import { acquireEnvironmentLock, LOCK_STALE_AFTER_MS } from '../engine/environment-lock.js';
import { runDeploy } from '../engine/executor.js';
import { exitCodeFor, type DeploySummary } from '../engine/summary.js';
import type { ProviderSession } from '../providers/session.js';
import type { DeployRecord, Lock, Store } from '../store/contract.js';
import { appendLedger, ledgerDeployStarted, recordDeployEnd } from '../ledger/ledger.js';
import { formatSummary } from './commands/deploy-summary.js';
import { getEnvironment } from '../config/environment.js';
import { releaseStepsFor } from '../release/steps-for-environment.js';
import { plural } from '../strategies/steps.js';
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
  const lockBefore = await store.getLock(scope.app, scope.env);
  // A lock held by another holder that is already dead or stale is taken over (not waited for).
  const takingOver = lockBefore && lockBefore.holder !== deploy.id && (wall.now() - lockBefore.heartbeatAtMs > LOCK_STALE_AFTER_MS || processGone(lockBefore));
  try {
    await acquireEnvironmentLock(store, wall, { app: scope.app, env: scope.env, holder: deploy.id, reason: `deploy ${release.version}`, waitMs: run.lockWaitMs });
  } catch (err) {
    await store.updateDeploy(deploy.id, { status: 'failed', error: (err as Error).message, finishedAtMs: wall.now() });
    throw err;
  }
  // The ledger: who is responsible, before any machine changes (resumed deploys say so).
  if (lockBefore && takingOver) {
    await appendLedger(store, wall, {
      kind: 'lock.taken_over',
      app: scope.app,
      env: scope.env,
      deployId: deploy.id,
      responsible: deploy.responsible,
      initiator: deploy.initiator,
      trigger: deploy.trigger,
      reason: `stale lock of ${lockBefore.holder} taken over`,
      emergency: deploy.emergency ?? false,
      data: { previousHolder: lockBefore.holder, previousHeartbeatAtMs: lockBefore.heartbeatAtMs },
    });
  }
  await ledgerDeployStarted(store, wall, deploy);
  const view = run.json
    ? undefined
    : new ProgressView(
        io.stderr,
        session.clock,
        `${pc.bold(`deploy ${deploy.id}`)}  ${scope.app}/${scope.env}  ${deploy.previousRelease ?? '∅'} → ${pc.bold(release.version)}  ${settings.strategy}  (${plural(run.fleet.length, 'machine')}, ${plural(run.waves, 'wave')})`,
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
  } catch (err) {
    const failed = (await store.getDeploy(deploy.id)) ?? deploy;
    await recordDeployEnd(store, wall, failed, undefined, (err as Error).message).catch((e: Error) => io.stderr.write(`runway: ledger: ${e.message}\n`));
    throw err;
  } finally {
    view?.stop();
    await store.releaseLock(scope.app, scope.env, deploy.id);
    await session.save();
  }
  try {
    await recordDeployEnd(store, wall, (await store.getDeploy(deploy.id)) ?? deploy, summary);
  } catch (err) {
    io.stderr.write(`runway: could not record the end of deploy ${deploy.id} in the ledger: ${(err as Error).message}\n`);
  }
  if (run.json) printJson(io, summary);
  else {
    io.stdout.write(formatSummary(summary) + '\n');
    // Anything but success: say exactly which machine is where.
    if (summary.status !== 'succeeded') io.stdout.write(formatFleet(await session.provider.list(scope), release.version) + '\n');
  }
  return exitCodeFor(summary.status);
}

/** The lock's holder process is known to be gone (same host, no such pid). */
function processGone(lock: Lock): boolean {
  if (lock.host !== hostname() || !lock.pid || lock.pid === process.pid) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
