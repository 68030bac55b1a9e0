// `runway deploy --env E [--release V] [--strategy S] [--dry-run] [--json] [--lock-wait D]`

import { hostname } from 'node:os';
import { resolveStrategySettings } from '../../config/settings.js';
import type { RunwayConfig } from '../../config/types.js';
import { parseDuration, RealClock } from '../../domain/clock.js';
import { STRATEGIES, TERMINAL_STATUSES, type Release, type StrategyName } from '../../domain/types.js';
import { LOCK_STALE_AFTER_MS } from '../../engine/environment-lock.js';
import { EXIT } from '../../engine/summary.js';
import { ledgerLockTakenOver, takeLock } from '../../deploys/lock.js';
import { ReleaseLookupError, resolveRequestRelease } from '../../deploys/releases.js';
import type { DeployRequest } from '../../deploys/request.js';
import { DeployRequestError, previewDeploy, type DeployDeps } from '../../deploys/start.js';
import { ledgerDeployStarted } from '../../ledger/ledger.js';
import { openProviderSession } from '../../providers/open-session.js';
import { buildPlan } from '../../strategies/index.js';
import { formatPlan } from '../../strategies/format-plan.js';
import { formatGates, gatesJson } from '../format-gates.js';
import type { DeployRecord, Store } from '../../store/contract.js';
import { EXIT_REFUSED, formatRefusal, type Initiator, type RequestTrigger } from '../../deploys/policy.js';
import { pc } from '../colors.js';
import { environment, openContext, type GlobalOptions, whoIsAsking } from '../context.js';
import { runCliDeploy, superviseDeploy } from '../deploy-runner.js';
import { CliError, printJson, type Io } from '../io.js';

export { formatSummary } from './deploy-summary.js';

export interface DeployOptions extends CliDeployFlags {
  release?: string;
  /** The break-glass: a human deploys where policy would refuse, and is responsible (needs `reason`). */
  emergency?: boolean;
  /** Why (required with `emergency`; recorded with the deploy either way). */
  reason?: string;
  /** Set by commands that act as a trigger (release publish, the demo, CI); default: a person's CLI deploy. */
  origin?: DeployOrigin;
}

/** What started a CLI-run deploy that is not a person typing `runway deploy`. */
export interface DeployOrigin {
  trigger: RequestTrigger;
  branch?: string;
  initiator: Initiator;
  /** How the initiator is recorded (default `cli:<name>`). */
  label?: string;
  context?: Record<string, unknown>;
}

/** A CLI request as the one way to start a deploy takes it (src/deploys/request.ts). */
export function cliRequest(
  env: string,
  who: string,
  o: {
    kind?: DeployRequest['kind'];
    trigger?: RequestTrigger;
    emergency?: boolean | undefined;
    reason?: string | undefined;
    release?: string | undefined;
    strategy?: StrategyName | undefined;
    origin?: DeployOrigin | undefined;
  },
): DeployRequest {
  const origin = o.origin;
  const initiator: Initiator = origin?.initiator ?? { kind: 'human', name: who };
  return {
    env,
    kind: o.kind ?? 'deploy',
    release: o.release,
    strategy: o.strategy,
    trigger: origin?.trigger ?? o.trigger ?? 'cli',
    branch: origin?.branch,
    initiator,
    label: origin?.label ?? `cli:${initiator.name}`,
    via: 'cli',
    emergency: o.emergency,
    reason: o.reason,
    context: origin?.context,
  };
}

export function cliDeployDeps(config: RunwayConfig, store: Store, io: Io): DeployDeps {
  return {
    config,
    store,
    wall: new RealClock(),
    owner: `${hostname()}:${process.pid}`,
    openSession: (env) => openProviderSession({ config, env, store, processEnv: io.env }),
  };
}

/**
 * A dry run: the plan, and above it what the policy would decide. When a real run would be refused,
 * that is said first, plainly, and the command exits 5 (as the real run would); nothing is recorded.
 */
export async function dryRun(
  config: RunwayConfig,
  store: Store,
  request: DeployRequest,
  io: Io,
  o: { json: boolean; verbose: boolean },
): Promise<number> {
  let preview;
  try {
    preview = await previewDeploy(cliDeployDeps(config, store, io), request);
  } catch (err) {
    if (err instanceof DeployRequestError) throw new CliError(err.message, err.locked ? EXIT.locked : EXIT.badInput);
    throw err;
  }
  const { decision, plan, settings } = preview;
  if (o.json) {
    printJson(io, {
      ...plan,
      policy: decision.allowed
        ? { allowed: true, responsible: decision.responsible, emergency: decision.emergency, note: decision.note }
        : { allowed: false, why: decision.why, wouldBeAllowed: decision.wouldBeAllowed, exitCode: EXIT_REFUSED },
      gates: gatesJson(config, environment(config, request.env), settings),
    });
  } else {
    if (decision.allowed) io.stderr.write(`runway: policy: ${decision.note}\n`);
    else
      io.stdout.write(
        `${pc.bold('A REAL RUN WOULD BE REFUSED')} (exit ${EXIT_REFUSED}): ${formatRefusal(request.env, decision)}\n\nthe plan it would have run:\n`,
      );
    io.stdout.write(
      `${formatPlan(plan, { verbose: o.verbose })}\n${formatGates(config, environment(config, request.env), settings)}\n`,
    );
  }
  return decision.allowed ? EXIT.ok : EXIT_REFUSED;
}

/** A release by version (default the newest), or a CliError naming what exists. */
export async function resolveRelease(store: Store, app: string, version: string | undefined): Promise<Release> {
  try {
    return await resolveRequestRelease(store, app, '', 'deploy', version);
  } catch (err) {
    if (err instanceof ReleaseLookupError) throw new CliError(err.message);
    throw err;
  }
}

export function parseStrategy(value: string | undefined): StrategyName | undefined {
  if (value === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(value)) {
    throw new CliError(`--strategy: unknown strategy "${value}" (one of: ${STRATEGIES.join(', ')})`);
  }
  return value as StrategyName;
}

export async function deployCommand(options: DeployOptions, io: Io, signal?: AbortSignal): Promise<number> {
  return requestFromCli(options, io, signal, {
    emergency: options.emergency,
    reason: options.reason,
    release: options.release,
    origin: options.origin,
  });
}

/** The flags `runway deploy` and `runway rollback` share; each maps its own into the request's fields. */
export interface CliDeployFlags extends GlobalOptions {
  env?: string;
  strategy?: string;
  dryRun?: boolean;
  json?: boolean;
  lockWait?: string;
  verbose?: boolean;
  /** Who runs it; defaults to the OS user. */
  as?: string;
}

/**
 * Deploy and rollback from the CLI, one path: flags checked before the store opens (a bad one is exit 2
 * and changes nothing), then the request goes through the one door (deploys/), as a dry run or for real.
 */
export async function requestFromCli(
  options: CliDeployFlags,
  io: Io,
  signal: AbortSignal | undefined,
  fields: Omit<Parameters<typeof cliRequest>[2], 'strategy'>,
): Promise<number> {
  const strategy = parseStrategy(options.strategy);
  const lockWaitMs = options.lockWait ? parseLockWait(options.lockWait) : 0;
  const json = options.json ?? false;
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const request = cliRequest(env.name, whoIsAsking(options, io), { ...fields, strategy });
    if (options.dryRun) return await dryRun(config, store, request, io, { json, verbose: options.verbose ?? false });
    return (await runCliDeploy({ config, store, request, io, json, lockWaitMs, signal })).code;
  } finally {
    await ctx.close();
  }
}

export interface ResumeOptions extends GlobalOptions {
  json?: boolean;
  lockWait?: string;
  as?: string;
}

/**
 * `runway deploy resume ID`: go on with a deploy whose process died. The engine re-observes the fleet
 * and plans only what remains, so no machine is updated twice and this deploy's extra machines are
 * promoted or cleaned up.
 */
export async function resumeCommand(id: string, options: ResumeOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const lockWaitMs = options.lockWait ? parseLockWait(options.lockWait) : 0;
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const deploy = await store.getDeploy(id);
    if (!deploy) throw new CliError(`no deploy ${id}; see \`runway deploys list\``);
    if (TERMINAL_STATUSES.includes(deploy.status)) {
      throw new CliError(
        `deploy ${id} already ended (${deploy.status}); nothing to resume — deploy again or \`runway rollback\``,
      );
    }
    if (ownerAlive(deploy)) {
      throw new CliError(
        `deploy ${id} is still running (owner ${deploy.owner}, heartbeat ${Math.round((Date.now() - (deploy.heartbeatAtMs ?? 0)) / 1000)}s ago); abort it with \`runway abort ${id}\``,
        EXIT.locked,
      );
    }
    const env = environment(config, deploy.env);
    const settings = resolveStrategySettings(env, config.app.processes, deploy.strategy);
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const release = await resolveRelease(store, config.app.name, deploy.release);
      const fleet = await session.provider.list({ app: deploy.app, env: deploy.env });
      const plan = buildPlan({
        deployId: deploy.id,
        app: deploy.app,
        env: deploy.env,
        fleet,
        target: release,
        groups: config.app.processes,
        settings,
      });
      const who = whoIsAsking(options, io);
      const wall = new RealClock();
      const { replaced } = await takeLock(store, wall, {
        app: deploy.app,
        env: deploy.env,
        holder: deploy.id,
        reason: `deploy ${release.version}`,
        waitMs: lockWaitMs,
      });
      await store.updateDeploy(deploy.id, { owner: `${hostname()}:${process.pid}`, heartbeatAtMs: wall.now() });
      await store.appendJournal([
        {
          deployId: deploy.id,
          atMs: wall.now(),
          kind: 'resumed',
          message: `resumed by ${who}: ${plan.waves.length} waves remain`,
        },
      ]);
      const resumed = (await store.getDeploy(deploy.id))!;
      if (replaced) await ledgerLockTakenOver(store, wall, resumed, replaced);
      await ledgerDeployStarted(store, wall, resumed);
      return await superviseDeploy({
        config,
        store,
        session,
        deploy: resumed,
        release,
        settings,
        fleet,
        waves: plan.waves.length,
        json: options.json ?? false,
        io,
        ...(signal ? { signal } : {}),
      });
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
}

/** A deploy's owner is alive if it heart-beat recently and, on this host, its process exists. */
export function ownerAlive(deploy: DeployRecord): boolean {
  if (deploy.heartbeatAtMs === null || Date.now() - deploy.heartbeatAtMs > LOCK_STALE_AFTER_MS) return false;
  const [host, pid] = (deploy.owner ?? '').split(':');
  if (host !== hostname() || !pid) return true;
  try {
    process.kill(Number(pid), 0);
    return Number(pid) !== process.pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** `--lock-wait` as milliseconds; a bad duration is the user's error (exit 2), named by its flag. */
export function parseLockWait(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`--lock-wait: ${(err as Error).message}`);
  }
}
