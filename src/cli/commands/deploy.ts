// `runway deploy --env E [--release V] [--strategy S] [--dry-run] [--json] [--lock-wait D]`

import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { resolveStrategySettings } from '../../config/settings.js';
import { parseDuration } from '../../domain/clock.js';
import { STRATEGIES, TERMINAL_STATUSES, type Release, type StrategyName } from '../../domain/types.js';
import { LOCK_STALE_AFTER_MS } from '../../engine/environment-lock.js';
import { EXIT } from '../../engine/summary.js';
import { buildPlan } from '../../strategies/index.js';
import { formatPlan } from '../../strategies/format-plan.js';
import { formatGates } from '../format-gates.js';
import type { DeployRecord, Store } from '../../store/contract.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { superviseDeploy } from '../deploy-runner.js';
import { CliError, printJson, type Io } from '../io.js';
import { openProviderSession } from '../../providers/open-session.js';
import type { EnvironmentConfig } from '../../config/types.js';
import { RealClock } from '../../domain/clock.js';
import { appendLedger } from '../../ledger/ledger.js';
import { decidePolicy, EXIT_REFUSED, formatRefusal, type Initiator, type PolicyDecision, type RequestTrigger } from '../../triggers/policy.js';

export { formatSummary } from './deploy-summary.js';

export interface DeployOptions extends GlobalOptions {
  env?: string;
  release?: string;
  strategy?: string;
  dryRun?: boolean;
  json?: boolean;
  lockWait?: string;
  verbose?: boolean;
  /** Who runs it; defaults to the OS user. */
  as?: string;
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

export interface CliPolicyRequest {
  who: string;
  emergency?: boolean | undefined;
  reason?: string | undefined;
  origin?: DeployOrigin | undefined;
  /** Default `cli`; `rollback` for `runway rollback`. */
  trigger?: RequestTrigger;
}

/**
 * The policy of a deploy run from the CLI (docs/policy.md). Refusals are recorded in the ledger and
 * end the command with exit code 5 and what would be allowed; an emergency is recorded and shouted.
 * The CLI is not a security boundary (whoever runs it holds the store and provider credentials);
 * the server is. It keeps honest people inside the policy and leaves a record when they break glass.
 */
export async function enforceCliPolicy(store: Store, app: string, env: EnvironmentConfig, request: CliPolicyRequest, io: Io): Promise<Extract<PolicyDecision, { allowed: true }> & { label: string }> {
  const origin = request.origin;
  const initiator: Initiator = origin?.initiator ?? { kind: 'human', name: request.who };
  const label = origin?.label ?? `cli:${initiator.name}`;
  const trigger = origin?.trigger ?? request.trigger ?? 'cli';
  const decision = decidePolicy(env, { trigger, branch: origin?.branch, initiator, via: 'cli', emergency: request.emergency, reason: request.reason });
  const clock = new RealClock();
  if (!decision.allowed) {
    await appendLedger(store, clock, {
      kind: 'policy.refused',
      app,
      env: env.name,
      responsible: initiator.name || 'unknown',
      initiator: label,
      trigger: trigger === 'push' ? `push:${origin?.branch ?? ''}` : trigger,
      reason: request.reason ?? null,
      emergency: request.emergency ?? false,
      data: { why: decision.why, wouldBeAllowed: decision.wouldBeAllowed, via: 'cli', ...(origin?.context ? { context: origin.context } : {}) },
    });
    throw new CliError(formatRefusal(env.name, decision), EXIT_REFUSED);
  }
  if (decision.emergency) {
    await appendLedger(store, clock, {
      kind: 'emergency.used',
      app,
      env: env.name,
      responsible: decision.responsible,
      initiator: label,
      trigger: decision.trigger,
      reason: request.reason ?? null,
      emergency: true,
      data: { via: 'cli', note: decision.note },
    });
    io.stderr.write(`runway: ${decision.note}\n`);
  }
  return { ...decision, label };
}

export function newDeployId(): string {
  return `dep_${randomBytes(6).toString('hex')}`;
}

export async function resolveRelease(store: Store, app: string, version: string | undefined): Promise<Release> {
  const releases = await store.listReleases(app);
  if (!version) {
    const latest = releases[0];
    if (!latest) throw new CliError(`no releases of ${app} yet; create one with \`runway releases create VERSION\``);
    return latest;
  }
  const release = releases.find((r) => r.version === version);
  if (!release) {
    const known = releases.slice(0, 10).map((r) => r.version).join(', ') || 'none';
    throw new CliError(`release ${version} does not exist for ${app} (known: ${known}); create it with \`runway releases create ${version}\``);
  }
  return release;
}

export function parseStrategy(value: string | undefined): StrategyName | undefined {
  if (value === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(value)) {
    throw new CliError(`--strategy: unknown strategy "${value}" (one of: ${STRATEGIES.join(', ')})`);
  }
  return value as StrategyName;
}

export async function deployCommand(options: DeployOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const strategyOverride = parseStrategy(options.strategy);
  const lockWaitMs = options.lockWait ? parseLockWait(options.lockWait) : 0;
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const settings = resolveStrategySettings(env, config.app.processes, strategyOverride);
    const scope = { app: config.app.name, env: env.name };
    const who = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
    // Policy before any machine is touched (a dry run only says what it would decide).
    const policyRequest: CliPolicyRequest = { who, emergency: options.emergency, reason: options.reason, origin: options.origin };
    let decision: Awaited<ReturnType<typeof enforceCliPolicy>> | undefined;
    if (options.dryRun) {
      const preview = decidePolicy(env, { trigger: options.origin?.trigger ?? 'cli', branch: options.origin?.branch, initiator: options.origin?.initiator ?? { kind: 'human', name: who }, via: 'cli', emergency: options.emergency, reason: options.reason });
      if (!options.json) io.stderr.write(`runway: policy: ${preview.allowed ? preview.note : formatRefusal(env.name, preview)}\n`);
    } else decision = await enforceCliPolicy(store, config.app.name, env, policyRequest, io);
    // Opened first: a new sim fleet registers the release it is seeded on.
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const release = await resolveRelease(store, config.app.name, options.release);
      const deployId = options.dryRun ? 'dry-run' : newDeployId();
      const fleet = await session.provider.list(scope);
      // Plan first: a plan the strategy refuses (PlanError) is bad input, found before anything changes.
      const plan = buildPlan({ deployId, app: scope.app, env: scope.env, fleet, target: release, groups: config.app.processes, settings });
      if (options.dryRun) {
        if (options.json) printJson(io, plan);
        else io.stdout.write(`${formatPlan(plan, { verbose: options.verbose ?? false })}\n${formatGates(config, env, settings)}\n`);
        return 0;
      }
      const secrets = await store.getSecretsState(scope.app, scope.env);
      await store.createDeploy({
        id: deployId,
        app: scope.app,
        env: scope.env,
        release: release.version,
        previousRelease: plan.previous ?? null,
        strategy: settings.strategy,
        initiator: decision!.label,
        responsible: decision!.responsible,
        trigger: decision!.trigger,
        reason: options.reason ?? null,
        plan,
        // Wall-clock time: deploys of successive runs order by it even when the sim runs on virtual time.
        createdAtMs: Date.now(),
        owner: `${hostname()}:${process.pid}`,
        ...(decision!.emergency ? { emergency: true } : {}),
        ...(secrets.stagedVersion > 0 ? { secretsVersion: secrets.stagedVersion } : {}),
      });
      await store.appendJournal([
        { deployId, atMs: Date.now(), kind: 'policy', message: decision!.note, data: { responsible: decision!.responsible, emergency: decision!.emergency, via: 'cli', trigger: decision!.trigger, ...(options.origin?.context ? { context: options.origin.context } : {}) } },
      ]);
      const deploy = await store.getDeploy(deployId);
      return await superviseDeploy({
        config,
        store,
        session,
        deploy: deploy!,
        release,
        settings,
        fleet,
        waves: plan.waves.length,
        lockWaitMs,
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
      throw new CliError(`deploy ${id} already ended (${deploy.status}); nothing to resume — deploy again or \`runway rollback\``);
    }
    if (ownerAlive(deploy)) {
      throw new CliError(`deploy ${id} is still running (owner ${deploy.owner}, heartbeat ${Math.round((Date.now() - (deploy.heartbeatAtMs ?? 0)) / 1000)}s ago); abort it with \`runway abort ${id}\``, EXIT.locked);
    }
    const env = environment(config, deploy.env);
    const settings = resolveStrategySettings(env, config.app.processes, deploy.strategy);
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const release = await resolveRelease(store, config.app.name, deploy.release);
      const fleet = await session.provider.list({ app: deploy.app, env: deploy.env });
      const plan = buildPlan({ deployId: deploy.id, app: deploy.app, env: deploy.env, fleet, target: release, groups: config.app.processes, settings });
      const who = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
      await store.updateDeploy(deploy.id, { owner: `${hostname()}:${process.pid}`, heartbeatAtMs: Date.now() });
      await store.appendJournal([{ deployId: deploy.id, atMs: Date.now(), kind: 'resumed', message: `resumed by ${who}: ${plan.waves.length} waves remain` }]);
      return await superviseDeploy({
        config,
        store,
        session,
        deploy: (await store.getDeploy(deploy.id))!,
        release,
        settings,
        fleet,
        waves: plan.waves.length,
        lockWaitMs,
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

function parseLockWait(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`--lock-wait: ${(err as Error).message}`);
  }
}

