// The part of starting a deploy that acts (the pure part is ./request.ts): decide policy, and on a
// refusal store nothing but the refusal in the ledger; resolve the release and build the plan; take
// the environment's lock — a request that finds it locked stores nothing but that in the ledger —
// then store the deploy record, record who is responsible (and any emergency) in the journal and the
// ledger, and hand the deploy to a runner: the CLI runs it in the foreground, the control plane in
// the background. Every entry point goes through `startDeploy`; dry runs through `previewDeploy`.

import { randomBytes } from 'node:crypto';
import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import { checkFreeText, FreeTextError } from '../domain/free-text.js';
import type { Plan } from '../domain/plan.js';
import type { Machine, Release, StrategySettings } from '../domain/types.js';
import { LockHeldError } from '../engine/environment-lock.js';
import { appendLedger, ledgerDeployStarted } from '../ledger/ledger.js';
import type { ProviderSession } from '../providers/session.js';
import { buildPlan } from '../strategies/index.js';
import { PlanError } from '../strategies/plan-error.js';
import { StoreError, type DeployRecord, type Store } from '../store/contract.js';
import { ledgerLockTakenOver, takeLock } from './lock.js';
import { ReleaseLookupError, resolveRequestRelease } from './releases.js';
import {
  decide,
  deployRecord,
  lockedOutEntry,
  refusalEntry,
  settingsFor,
  type AllowedDecision,
  type DeployRequest,
} from './request.js';

export interface DeployDeps {
  config: RunwayConfig;
  store: Store;
  /** Wall-clock time: records, the lock, the ledger. */
  wall: Clock;
  /** This process in deploy ownership (`host:pid`, the server instance id). */
  owner: string;
  openSession(env: EnvironmentConfig): Promise<ProviderSession>;
  log?: ((line: string) => void) | undefined;
}

/** A deploy that is allowed, locked and recorded: what a runner needs. The session is the runner's to close. */
export interface StartedDeploy {
  deploy: DeployRecord;
  release: Release;
  settings: StrategySettings;
  plan: Plan;
  fleet: Machine[];
  session: ProviderSession;
  decision: AllowedDecision;
  request: DeployRequest;
}

export type RequestStatus = 400 | 404 | 409 | 422;

export type StartOutcome<T> =
  | { outcome: 'started'; env: string; deploy: DeployRecord; decision: AllowedDecision; run: T }
  | { outcome: 'refused'; env: string; why: string; wouldBeAllowed: string[] }
  | { outcome: 'error'; env: string; status: RequestStatus; error: string; locked: boolean };

/** A request that cannot become a deploy (nothing was stored): 400 bad text, 404 unknown, 409 locked or nothing to go back to, 422 plan refused. */
export class DeployRequestError extends Error {
  constructor(
    message: string,
    readonly status: RequestStatus,
    readonly locked = false,
  ) {
    super(message);
    this.name = 'DeployRequestError';
  }
}

export function newDeployId(): string {
  return `dep_${randomBytes(6).toString('hex')}`;
}

function environmentOf(config: RunwayConfig, name: string): EnvironmentConfig {
  const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
  if (!env)
    throw new DeployRequestError(
      `unknown environment "${name}" (known: ${Object.keys(config.environments).join(', ')})`,
      404,
    );
  return env;
}

function checkText(request: DeployRequest): void {
  try {
    checkFreeText('reason', request.reason);
    checkFreeText('release', request.release);
  } catch (err) {
    if (err instanceof FreeTextError) throw new DeployRequestError(err.message, 400);
    throw err;
  }
}

interface Prepared {
  env: EnvironmentConfig;
  release: Release;
  settings: StrategySettings;
  plan: Plan;
  fleet: Machine[];
  session: ProviderSession;
}

/** Release, settings, fleet and plan; the session is open on success and closed on failure. */
async function prepare(
  deps: DeployDeps,
  env: EnvironmentConfig,
  request: DeployRequest,
  deployId: string,
  recoverMode?: string,
): Promise<Prepared> {
  const app = deps.config.app.name;
  let settings: StrategySettings;
  try {
    settings = settingsFor(env, deps.config.app.processes, request, recoverMode);
  } catch (err) {
    throw new DeployRequestError((err as Error).message, 422);
  }
  // Opened first: a new sim fleet registers the release it is seeded on.
  const session = await deps.openSession(env);
  try {
    let release: Release;
    try {
      release = await resolveRequestRelease(deps.store, app, env.name, request.kind, request.release);
    } catch (err) {
      if (err instanceof ReleaseLookupError) throw new DeployRequestError(err.message, err.status);
      throw err;
    }
    const fleet = await session.provider.list({ app, env: env.name });
    let plan: Plan;
    try {
      // A plan the strategy refuses is bad input, found before anything changes.
      plan = buildPlan({
        deployId,
        app,
        env: env.name,
        fleet,
        target: release,
        groups: deps.config.app.processes,
        settings,
      });
    } catch (err) {
      if (err instanceof PlanError) throw new DeployRequestError(err.message, 422);
      throw err;
    }
    return { env, release, settings, plan, fleet, session };
  } catch (err) {
    await session.close().catch(() => {});
    throw err;
  }
}

/** What a dry run shows: the policy's decision (not enforced, not recorded) and the plan. Nothing is stored. */
export async function previewDeploy(
  deps: DeployDeps,
  request: DeployRequest,
): Promise<{ decision: ReturnType<typeof decide>; release: Release; settings: StrategySettings; plan: Plan }> {
  const env = environmentOf(deps.config, request.env);
  checkText(request);
  const decision = decide(env, request);
  const p = await prepare(deps, env, request, 'dry-run');
  await p.session.close();
  return { decision, release: p.release, settings: p.settings, plan: p.plan };
}

export interface StartOptions<T> {
  /** How long to wait for another deploy's lock (CLI --lock-wait); default 0. */
  lockWaitMs?: number;
  /** A recovery's deploy: `redo`, `rollback`, `finish-forward`... (a rollback halts on failure). */
  recoverMode?: string;
  /** Runs the started deploy (foreground or background); owns the session from here on. */
  run(started: StartedDeploy): T;
}

export async function startDeploy<T>(
  deps: DeployDeps,
  request: DeployRequest,
  options: StartOptions<T>,
): Promise<StartOutcome<T>> {
  try {
    return await start(deps, request, options);
  } catch (err) {
    if (err instanceof DeployRequestError)
      return { outcome: 'error', env: request.env, status: err.status, error: err.message, locked: err.locked };
    throw err;
  }
}

async function start<T>(deps: DeployDeps, request: DeployRequest, options: StartOptions<T>): Promise<StartOutcome<T>> {
  const { store, wall, config } = deps;
  const app = config.app.name;
  const env = environmentOf(config, request.env);
  checkText(request);

  // A ledger without its head refuses every write (fail closed): find that out before anything is stored.
  await store.ledgerHead();
  // Policy before anything else: a refusal leaves its refusal in the ledger, and nothing more.
  const decision = decide(env, request);
  if (!decision.allowed) {
    await appendLedger(store, wall, refusalEntry(app, request, decision));
    deps.log?.(`refused ${request.kind} of ${env.name} for ${request.label}: ${decision.why}`);
    return { outcome: 'refused', env: env.name, why: decision.why, wouldBeAllowed: decision.wouldBeAllowed };
  }

  if (request.newRelease && !(await store.getRelease(app, request.newRelease.version))) {
    try {
      await store.createRelease(app, request.newRelease);
    } catch (err) {
      // Another instance (or a redelivery with other notes) created it first: deploy what is stored.
      if (!(err instanceof StoreError && err.kind === 'conflict')) throw err;
    }
  }

  const deployId = newDeployId();
  const p = await prepare(
    deps,
    env,
    { ...request, release: request.release ?? request.newRelease?.version },
    deployId,
    options.recoverMode,
  );
  let locked = false;
  try {
    let replaced;
    try {
      ({ replaced } = await takeLock(store, wall, {
        app,
        env: env.name,
        holder: deployId,
        reason: `deploy ${p.release.version}`,
        waitMs: options.lockWaitMs ?? 0,
      }));
      locked = true;
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      // Locked out: no deploy is stored (deploy health counts deploys that ran), only this.
      await appendLedger(store, wall, lockedOutEntry(app, request, decision, p.release.version, err.lock));
      throw new DeployRequestError(err.message, 409, true);
    }
    const state = await store.getSecretsState(app, env.name);
    await store.createDeploy(
      deployRecord({
        id: deployId,
        app,
        request,
        decision,
        release: p.release,
        plan: p.plan,
        settings: p.settings,
        owner: deps.owner,
        nowMs: wall.now(),
        stagedSecretsVersion: state.stagedVersion,
      }),
    );
    await store.updateDeploy(deployId, { heartbeatAtMs: wall.now() });
    const deploy = (await store.getDeploy(deployId))!;
    await store.appendJournal([
      {
        deployId,
        atMs: wall.now(),
        kind: 'policy',
        message: decision.note,
        data: {
          responsible: decision.responsible,
          emergency: decision.emergency,
          via: request.via,
          trigger: decision.trigger,
          ...(request.context ? { context: request.context } : {}),
        },
      },
    ]);
    if (decision.emergency) {
      await appendLedger(store, wall, {
        kind: 'emergency.used',
        app,
        env: env.name,
        deployId,
        responsible: decision.responsible,
        initiator: request.label,
        trigger: decision.trigger,
        reason: request.reason ?? null,
        emergency: true,
        data: { via: request.via, release: p.release.version, note: decision.note },
      });
      deps.log?.(decision.note);
    }
    if (replaced) await ledgerLockTakenOver(store, wall, deploy, replaced);
    await ledgerDeployStarted(store, wall, deploy, { ...request.context, via: request.via, policy: decision.note });
    const started: StartedDeploy = {
      deploy,
      release: p.release,
      settings: p.settings,
      plan: p.plan,
      fleet: p.fleet,
      session: p.session,
      decision,
      request,
    };
    return { outcome: 'started', env: env.name, deploy, decision, run: options.run(started) };
  } catch (err) {
    await p.session.close().catch(() => {});
    if (locked) {
      // Anything failing between lock and run: the deploy (if stored) ends failed, and the lock goes.
      if (await store.getDeploy(deployId).catch(() => undefined)) {
        await store
          .updateDeploy(deployId, { status: 'failed', error: (err as Error).message, finishedAtMs: wall.now() })
          .catch(() => {});
      }
      await store.releaseLock(app, env.name, deployId).catch(() => false);
    }
    throw err;
  }
}
