// `runway recover --env E [--dry-run]`: the recovery runbook, automated (src/engine/recovery.ts
// decides). Prints what it found, what it will do, then does it and says what it did.

import { hostname, userInfo } from 'node:os';
import { pc } from '../colors.js';
import { resolveStrategySettings } from '../../config/settings.js';
import { RealClock } from '../../domain/clock.js';
import { assessRecovery, type Recovery, type RecoveryAction } from '../../engine/recovery.js';
import { EXIT } from '../../engine/summary.js';
import { openProviderSession } from '../../providers/open-session.js';
import type { ProviderSession } from '../../providers/session.js';
import { buildPlan } from '../../strategies/index.js';
import { environment, openContext, type Context, type GlobalOptions } from '../context.js';
import { superviseDeploy } from '../deploy-runner.js';
import { formatSpread } from '../fleet-tally.js';
import { printJson, type Io } from '../io.js';
import { newDeployId, ownerAlive, resolveRelease, resumeCommand } from './deploy.js';
import { inspectLock } from './lock.js';
import type { EnvironmentConfig } from '../../config/types.js';

export interface RecoverOptions extends GlobalOptions {
  env?: string;
  dryRun?: boolean;
  json?: boolean;
  as?: string;
}

export async function recoverCommand(options: RecoverOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const ctx = await openContext(options, io);
  let resumeId: string | undefined;
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const scope = { app: config.app.name, env: env.name };
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const fleet = await session.provider.list(scope);
      const deploys = await store.listDeploys({ app: scope.app, env: scope.env, limit: 50 });
      const lock = await inspectLock(store, scope.app, scope.env);
      const recovery = assessRecovery({
        fleet,
        deploys,
        ownerAlive,
        lock: lock.lock,
        lockStale: lock.stale,
        policy: env.deploy.recoverPolicy ?? 'redo',
      });
      if (!options.json) io.stdout.write(describeFindings(recovery, scope) + '\n' + describeActions(recovery.actions) + '\n');
      if (recovery.actions.length === 0) {
        if (options.json) printJson(io, { ...recovery, done: [] });
        return EXIT.ok;
      }
      if (options.dryRun) {
        if (options.json) printJson(io, { ...recovery, done: [] });
        else io.stdout.write(pc.dim('dry run: nothing changed\n'));
        return EXIT.ok;
      }
      const who = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
      const done: string[] = [];
      let code: number = EXIT.ok;
      for (const action of recovery.actions) {
        if (action.kind === 'resume') {
          // Resuming opens its own provider session; this one must be saved and closed first.
          resumeId = action.deployId;
          continue;
        }
        const result = await apply(action, { ctx, env, session, who, io, options, signal });
        done.push(result.said);
        code = Math.max(code, result.code);
      }
      await session.save();
      if (!resumeId) {
        if (options.json) printJson(io, { ...recovery, done });
        else io.stdout.write(`${pc.bold('done')}\n${done.map((d) => `  - ${d}`).join('\n')}\n`);
        return code;
      }
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
  return resumeCommand(resumeId, { ...options, as: options.as ?? 'recover' }, io, signal);
}

interface ApplyContext {
  ctx: Context;
  env: EnvironmentConfig;
  session: ProviderSession;
  who: string;
  io: Io;
  options: RecoverOptions;
  signal?: AbortSignal | undefined;
}

async function apply(action: Exclude<RecoveryAction, { kind: 'resume' }>, a: ApplyContext): Promise<{ said: string; code: number }> {
  const { store, config } = a.ctx;
  const scope = { app: config.app.name, env: a.env.name };
  switch (action.kind) {
    case 'release-lock': {
      await store.releaseLock(scope.app, scope.env, action.holder);
      return { said: `released the lock held by ${action.holder} (${action.why})`, code: EXIT.ok };
    }
    case 'destroy-orphans': {
      const results = await Promise.allSettled(action.machineIds.map((id) => a.session.provider.destroy(scope, id)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      return { said: `destroyed ${action.machineIds.length - failed} orphaned extra machines${failed ? `, ${failed} failed` : ''}`, code: failed ? EXIT.failed : EXIT.ok };
    }
    case 'close-deploy': {
      const now = new RealClock().now();
      await store.updateDeploy(action.deployId, { status: 'failed', error: `closed by recover (${a.who}): ${action.why}`, finishedAtMs: now });
      await store.appendJournal([{ deployId: action.deployId, atMs: now, kind: 'recovered', message: `closed by ${a.who}: ${action.why}` }]);
      await store.releaseLock(scope.app, scope.env, action.deployId);
      return { said: `closed dead deploy ${action.deployId}`, code: EXIT.ok };
    }
    case 'deploy': {
      const release = await resolveRelease(store, scope.app, action.release);
      const settings = resolveStrategySettings(a.env, config.app.processes, action.mode === 'rollback' ? (a.env.deploy.rollbackStrategy ?? 'immediate') : a.env.strategy);
      const fleet = await a.session.provider.list(scope);
      const deployId = newDeployId();
      const plan = buildPlan({ deployId, app: scope.app, env: scope.env, fleet, target: release, groups: config.app.processes, settings });
      const deploy = await store.createDeploy({
        id: deployId,
        ...scope,
        release: release.version,
        previousRelease: plan.previous ?? null,
        strategy: settings.strategy,
        initiator: `cli:${a.who}`,
        responsible: a.who,
        trigger: 'recover',
        reason: `${action.mode}: ${action.why}`,
        plan,
        createdAtMs: Date.now(),
        owner: `${hostname()}:${process.pid}`,
      });
      const code = await superviseDeploy({
        config,
        store,
        session: a.session,
        deploy,
        release,
        settings: action.mode === 'rollback' ? { ...settings, onFailure: 'halt' } : settings,
        fleet,
        waves: plan.waves.length,
        lockWaitMs: 0,
        json: false,
        io: a.options.json ? { ...a.io, stdout: { write: () => {}, isTTY: false } } : a.io,
        ...(a.signal ? { signal: a.signal } : {}),
      });
      return { said: `${action.mode.replace('-', ' ')} to ${release.version}: deploy ${deployId} ${code === 0 ? 'succeeded' : `ended with exit code ${code}`}`, code };
    }
  }
}

function describeFindings(r: Recovery, scope: { app: string; env: string }): string {
  const f = r.findings;
  const lines = [`${pc.bold('found')}  ${scope.app}/${scope.env}`, `  fleet: ${f.serving} serving — ${formatSpread(f.byRelease)}`];
  if (f.deploy) {
    lines.push(
      `  last unfinished deploy: ${f.deploy.id} → ${f.deploy.release} (${f.deploy.dead ? 'its process died' : f.deploy.status}); ${f.onTarget}/${f.serving} machines on ${f.deploy.release}`,
    );
  }
  if (f.orphans.length) lines.push(`  orphaned extra machines: ${f.orphans.length} (${f.orphans.slice(0, 5).map((o) => `${o.id} ${o.role} ${o.release}`).join(', ')}${f.orphans.length > 5 ? ', …' : ''})`);
  if (f.failedMachines.length) lines.push(`  failed machines: ${f.failedMachines.slice(0, 10).join(', ')}`);
  if (f.outOfTraffic.length) lines.push(`  serving machines out of traffic (cordoned or stopped): ${f.outOfTraffic.length} (${f.outOfTraffic.slice(0, 10).join(', ')}${f.outOfTraffic.length > 10 ? ', …' : ''})`);
  if (f.lock) lines.push(`  lock: held by ${f.lock.holder}${f.lock.stale ? ` — stale: ${f.lock.stale}` : ' (alive)'}`);
  return lines.join('\n');
}

function describeActions(actions: RecoveryAction[]): string {
  if (actions.length === 0) return `${pc.bold('nothing to recover')}: the fleet is on one release, nothing is orphaned, no stale lock`;
  const lines = [pc.bold('will do')];
  for (const a of actions) {
    switch (a.kind) {
      case 'release-lock':
        lines.push(`  - release the lock held by ${a.holder} (${a.why})`);
        break;
      case 'destroy-orphans':
        lines.push(`  - destroy ${a.machineIds.length} orphaned extra machines`);
        break;
      case 'resume':
        lines.push(`  - finish deploy ${a.deployId} forward to ${a.release} (${a.why})`);
        break;
      case 'close-deploy':
        lines.push(`  - close deploy ${a.deployId} (${a.why})`);
        break;
      case 'deploy':
        lines.push(`  - ${a.mode.replace('-', ' ')}: deploy ${a.release} (${a.why})`);
        break;
    }
  }
  return lines.join('\n');
}
