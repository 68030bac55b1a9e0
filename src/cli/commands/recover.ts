// `runway recover --env E [--dry-run]`: the recovery runbook, automated (src/engine/recovery.ts
// decides). Prints what it found, what it will do, then does it and says what it did.

import { pc } from '../colors.js';
import { RealClock } from '../../domain/clock.js';
import { decide, refusalEntry, type DeployRequest } from '../../deploys/request.js';
import { appendLedger } from '../../ledger/ledger.js';
import { EXIT_REFUSED, formatRefusal } from '../../deploys/policy.js';
import { TERMINAL_STATUSES } from '../../domain/types.js';
import { assessRecovery, type Recovery, type RecoveryAction } from '../../engine/recovery.js';
import { EXIT } from '../../engine/summary.js';
import { openProviderSession } from '../../providers/open-session.js';
import type { LeftLease, ProviderSession } from '../../providers/session.js';
import { environment, openContext, type Context, type GlobalOptions, whoIsAsking } from '../context.js';
import { runCliDeploy } from '../deploy-runner.js';
import { formatSpread } from '../fleet-tally.js';
import { CliError, printJson, type Io } from '../io.js';
import { cliRequest, ownerAlive, resumeCommand } from './deploy.js';
import { inspectLock } from './lock.js';
import type { EnvironmentConfig } from '../../config/types.js';

export interface RecoverOptions extends GlobalOptions {
  env?: string;
  dryRun?: boolean;
  json?: boolean;
  as?: string;
  /** Break glass where policy refuses the recovery's deploy (an automatic environment); needs `reason`. */
  emergency?: boolean;
  reason?: string;
}

export async function recoverCommand(options: RecoverOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const ctx = await openContext(options, io);
  let resumeId: string | undefined;
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const scope = { app: config.app.name, env: env.name };
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    let closed = false;
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
      // Leases runway's own crashed runs left (fly): released first, so what follows does not wait them out.
      // Not while a live deploy owns the environment: they may be its.
      const live = deploys.some((d) => !TERMINAL_STATUSES.includes(d.status) && ownerAlive(d));
      const leftLeases =
        !live && session.leftLeases
          ? await session.leftLeases(
              scope,
              fleet.map((m) => m.id),
            )
          : [];
      const report = { ...recovery, leftLeases: leftLeases.map(({ machineId, holder }) => ({ machineId, holder })) };
      if (!options.json)
        io.stdout.write(
          describeFindings(recovery, scope) +
            describeLeftLeases(leftLeases) +
            '\n' +
            describeActions(recovery.actions, leftLeases) +
            '\n',
        );
      if (recovery.actions.length === 0 && leftLeases.length === 0) {
        if (options.json) printJson(io, { ...report, done: [] });
        return EXIT.ok;
      }
      const who = whoIsAsking(options, io);
      // A recovery that deploys is a deploy by this person: the policy decides before anything is done.
      const deployAction = recovery.actions.find((a) => a.kind === 'deploy');
      const request =
        deployAction?.kind === 'deploy'
          ? recoveryRequest(env.name, who, deployAction.release, deployAction.mode, deployAction.why, options)
          : undefined;
      const decision = request ? decide(env, request) : undefined;
      if (options.dryRun) {
        if (options.json)
          printJson(io, {
            ...report,
            done: [],
            ...(decision && !decision.allowed
              ? {
                  policy: {
                    allowed: false,
                    why: decision.why,
                    wouldBeAllowed: decision.wouldBeAllowed,
                    exitCode: EXIT_REFUSED,
                  },
                }
              : {}),
          });
        else {
          if (decision && !decision.allowed)
            io.stdout.write(
              `${pc.bold('A REAL RUN WOULD BE REFUSED')} (exit ${EXIT_REFUSED}): ${formatRefusal(env.name, decision)}\n`,
            );
          io.stdout.write(pc.dim('dry run: nothing changed\n'));
        }
        return decision && !decision.allowed ? EXIT_REFUSED : EXIT.ok;
      }
      if (request && decision && !decision.allowed) {
        await appendLedger(store, new RealClock(), refusalEntry(scope.app, request, decision));
        throw new CliError(`${formatRefusal(env.name, decision)}\nnothing was changed`, EXIT_REFUSED);
      }
      const done: string[] = [];
      let code: number = EXIT.ok;
      const deploysToRun: Extract<RecoveryAction, { kind: 'deploy' }>[] = [];
      if (leftLeases.length > 0 && session.releaseLeftLeases) {
        const { released, failed } = await session.releaseLeftLeases(scope, leftLeases);
        done.push(
          `released ${released.length} machine lease${released.length === 1 ? '' : 's'} left by an earlier runway run${failed.length ? `; ${failed.length} failed: ${failed.join('; ')}` : ''}`,
        );
        if (failed.length) code = Math.max(code, EXIT.failed);
      }
      for (const action of recovery.actions) {
        if (action.kind === 'resume') {
          // Resuming opens its own provider session; this one must be saved and closed first.
          resumeId = action.deployId;
          continue;
        }
        if (action.kind === 'deploy') {
          // A deploy opens its own provider session too (src/deploys/start.ts).
          deploysToRun.push(action);
          continue;
        }
        const result = await apply(action, { ctx, env, session, who, io, options, signal });
        done.push(result.said);
        code = Math.max(code, result.code);
      }
      await session.save();
      await session.close();
      closed = true;
      for (const action of deploysToRun) {
        const result = await recoveryDeploy(action, { ctx, env, who, io, options, signal });
        done.push(result.said);
        code = Math.max(code, result.code);
      }
      if (!resumeId) {
        if (options.json) printJson(io, { ...report, done });
        else io.stdout.write(`${pc.bold('done')}\n${done.map((d) => `  - ${d}`).join('\n')}\n`);
        return code;
      }
    } finally {
      if (!closed) await session.close();
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

async function apply(
  action: Exclude<RecoveryAction, { kind: 'resume' | 'deploy' }>,
  a: ApplyContext,
): Promise<{ said: string; code: number }> {
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
      return {
        said: `destroyed ${action.machineIds.length - failed} orphaned extra machines${failed ? `, ${failed} failed` : ''}`,
        code: failed ? EXIT.failed : EXIT.ok,
      };
    }
    case 'close-deploy': {
      const now = new RealClock().now();
      await store.updateDeploy(action.deployId, {
        status: 'failed',
        error: `closed by recover (${a.who}): ${action.why}`,
        finishedAtMs: now,
      });
      await store.appendJournal([
        { deployId: action.deployId, atMs: now, kind: 'recovered', message: `closed by ${a.who}: ${action.why}` },
      ]);
      await store.releaseLock(scope.app, scope.env, action.deployId);
      return { said: `closed dead deploy ${action.deployId}`, code: EXIT.ok };
    }
  }
}

async function recoveryDeploy(
  action: Extract<RecoveryAction, { kind: 'deploy' }>,
  a: Omit<ApplyContext, 'session'>,
): Promise<{ said: string; code: number }> {
  const { store, config } = a.ctx;
  const request = recoveryRequest(a.env.name, a.who, action.release, action.mode, action.why, a.options);
  const { code, deploy } = await runCliDeploy({
    config,
    store,
    request,
    recoverMode: action.mode,
    json: false,
    io: a.options.json ? { ...a.io, stdout: { write: () => {}, isTTY: false } } : a.io,
    signal: a.signal,
  });
  return {
    said: `${action.mode.replace('-', ' ')} to ${action.release}: deploy ${deploy.id} ${code === 0 ? 'succeeded' : `ended with exit code ${code}`}`,
    code,
  };
}

/** The deploy a recovery starts, as a request of the person recovering. */
function recoveryRequest(
  env: string,
  who: string,
  release: string,
  mode: string,
  why: string,
  options: RecoverOptions,
): DeployRequest {
  return {
    ...cliRequest(env, who, {
      kind: 'recover',
      trigger: 'recover',
      emergency: options.emergency,
      reason: options.reason,
      release,
    }),
    context: { recovery: mode, why },
  };
}

function describeFindings(r: Recovery, scope: { app: string; env: string }): string {
  const f = r.findings;
  const lines = [
    `${pc.bold('found')}  ${scope.app}/${scope.env}`,
    `  fleet: ${f.serving} serving — ${formatSpread(f.byRelease)}`,
  ];
  if (f.deploy) {
    lines.push(
      `  last unfinished deploy: ${f.deploy.id} → ${f.deploy.release} (${f.deploy.dead ? 'its process died' : f.deploy.status}); ${f.onTarget}/${f.serving} machines on ${f.deploy.release}`,
    );
  }
  if (f.orphans.length)
    lines.push(
      `  orphaned extra machines: ${f.orphans.length} (${f.orphans
        .slice(0, 5)
        .map((o) => `${o.id} ${o.role} ${o.release}`)
        .join(', ')}${f.orphans.length > 5 ? ', …' : ''})`,
    );
  if (f.failedMachines.length) lines.push(`  failed machines: ${f.failedMachines.slice(0, 10).join(', ')}`);
  if (f.outOfTraffic.length)
    lines.push(
      `  serving machines out of traffic (cordoned or stopped): ${f.outOfTraffic.length} (${f.outOfTraffic.slice(0, 10).join(', ')}${f.outOfTraffic.length > 10 ? ', …' : ''})`,
    );
  if (f.lock) lines.push(`  lock: held by ${f.lock.holder}${f.lock.stale ? ` — stale: ${f.lock.stale}` : ' (alive)'}`);
  return lines.join('\n');
}

function describeLeftLeases(leases: LeftLease[]): string {
  if (leases.length === 0) return '';
  const shown = leases
    .slice(0, 5)
    .map((l) => `${l.machineId} (${l.holder})`)
    .join(', ');
  return `\n  machine leases left by an earlier runway run: ${leases.length} (${shown}${leases.length > 5 ? ', …' : ''})`;
}

function describeActions(actions: RecoveryAction[], leases: LeftLease[] = []): string {
  if (actions.length === 0 && leases.length > 0)
    return `${pc.bold('will do')}\n  - release ${leases.length} machine leases left by an earlier runway run`;
  if (actions.length === 0)
    return `${pc.bold('nothing to recover')}: the fleet is on one release, nothing is orphaned, no stale lock`;
  const lines = [pc.bold('will do')];
  if (leases.length > 0) lines.push(`  - release ${leases.length} machine leases left by an earlier runway run`);
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
