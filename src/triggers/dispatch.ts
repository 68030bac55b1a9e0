// From a trigger request (a webhook event, an API call) to a started deploy — or a refusal — in the
// control plane: the policy decides who is responsible, refusals and emergencies go to the ledger,
// the deploy service starts the deploy (its hooks record deploy.started/finished in the ledger).

import type { RunwayConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { StrategyName } from '../domain/types.js';
import { appendLedger } from '../ledger/ledger.js';
import { DeployRequestError, type DeployService } from '../server/deploy-service.js';
import { StoreError, type Store } from '../store/contract.js';
import { previousGoodRelease } from '../cli/commands/rollback.js';
import type { TriggerRequest } from './github-webhook.js';
import { decidePolicy, type Via } from './policy.js';

export interface DispatchContext {
  config: RunwayConfig;
  store: Store;
  deploys: DeployService;
  clock: Clock;
  log?: (line: string) => void;
}

export type DispatchOutcome =
  | { env: string; outcome: 'started'; deployId: string; release: string; responsible: string; emergency: boolean; trigger: string; note: string }
  | { env: string; outcome: 'refused'; why: string; wouldBeAllowed: string[] }
  | { env: string; outcome: 'error'; status: number; error: string };

export interface DispatchOptions {
  via: Via;
  /** How the initiator is recorded, e.g. `github:alice`, `token:ci for alice`. */
  initiatorLabel: string;
  strategy?: StrategyName;
  /** Roll back: deploy the previous good release (or `request.release`) with the rollback strategy. */
  rollback?: boolean;
}

/** The release a successful deploy last put on the environment (what runs). */
export async function currentRelease(store: Store, app: string, env: string): Promise<string | null> {
  const [last] = await store.listDeploys({ app, env, status: ['succeeded'], limit: 1 });
  return last?.release ?? null;
}

export async function dispatch(ctx: DispatchContext, request: TriggerRequest, options: DispatchOptions): Promise<DispatchOutcome> {
  const { config, store, clock } = ctx;
  const app = config.app.name;
  const env = Object.hasOwn(config.environments, request.env) ? config.environments[request.env] : undefined;
  if (!env) {
    return { env: request.env, outcome: 'error', status: 404, error: `unknown environment "${request.env}" (known: ${Object.keys(config.environments).join(', ')})` };
  }
  const trigger = options.rollback ? 'rollback' : request.trigger;
  const decision = decidePolicy(env, { trigger, branch: request.branch, initiator: request.initiator, via: options.via, emergency: request.emergency, reason: request.reason });
  if (!decision.allowed) {
    await appendLedger(store, clock, {
      kind: 'policy.refused',
      app,
      env: env.name,
      responsible: request.initiator.name || 'unknown',
      initiator: options.initiatorLabel,
      trigger: trigger === 'push' ? `push:${request.branch ?? ''}` : trigger,
      reason: request.reason,
      emergency: request.emergency,
      data: { why: decision.why, wouldBeAllowed: decision.wouldBeAllowed, via: options.via, release: request.release, context: request.context },
    });
    ctx.log?.(`refused ${trigger} of ${env.name} for ${options.initiatorLabel}: ${decision.why}`);
    return { env: env.name, outcome: 'refused', why: decision.why, wouldBeAllowed: decision.wouldBeAllowed };
  }

  if (request.newRelease && !(await store.getRelease(app, request.newRelease.version))) {
    try {
      await store.createRelease(app, request.newRelease);
    } catch (err) {
      // Another instance (or a redelivery with other notes) created it first: deploy what is stored.
      if (!(err instanceof StoreError && err.kind === 'conflict')) throw err;
    }
  }

  let release = request.release;
  let strategy = options.strategy;
  if (request.action === 'apply-secrets') {
    release = await currentRelease(store, app, env.name);
    if (!release) return { env: env.name, outcome: 'error', status: 409, error: `nothing has been deployed to ${env.name} yet: the staged secrets go out with its first deploy` };
  }
  if (options.rollback) {
    if (!release) {
      const { current, previous } = await previousGoodRelease(store, app, env.name);
      if (!previous) return { env: env.name, outcome: 'error', status: 409, error: `no previous good release of ${app}/${env.name} is known${current ? ` (only ${current})` : ''}; name one ("to")` };
      release = previous;
    }
    strategy = strategy ?? env.deploy.rollbackStrategy ?? 'immediate';
  }

  const secrets = await store.getSecretsState(app, env.name);
  if (decision.emergency) {
    await appendLedger(store, clock, {
      kind: 'emergency.used',
      app,
      env: env.name,
      responsible: decision.responsible,
      initiator: options.initiatorLabel,
      trigger: decision.trigger,
      reason: request.reason,
      emergency: true,
      data: { via: options.via, release, note: decision.note },
    });
    ctx.log?.(decision.note);
  }
  try {
    const deploy = await ctx.deploys.create({
      env: env.name,
      ...(release ? { release } : {}),
      ...(strategy ? { strategy } : {}),
      initiator: options.initiatorLabel,
      responsible: decision.responsible,
      trigger: decision.trigger,
      reason: request.reason ?? (options.rollback ? `rollback to ${release}` : null),
      emergency: decision.emergency,
      secretsVersion: secrets.stagedVersion > 0 ? secrets.stagedVersion : null,
      context: { ...request.context, via: options.via, policy: decision.note },
    });
    await store.appendJournal([
      { deployId: deploy.id, atMs: clock.now(), kind: 'policy', message: decision.note, data: { responsible: decision.responsible, emergency: decision.emergency, via: options.via, trigger: decision.trigger } },
    ]);
    return { env: env.name, outcome: 'started', deployId: deploy.id, release: deploy.release, responsible: decision.responsible, emergency: decision.emergency, trigger: decision.trigger, note: decision.note };
  } catch (err) {
    if (err instanceof DeployRequestError) return { env: env.name, outcome: 'error', status: err.status, error: err.message };
    throw err;
  }
}
