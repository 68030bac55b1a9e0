// From a trigger request (a webhook event, an API call, the dashboard) to a started deploy — or a
// refusal — in the control plane, through the one way every deploy starts (src/deploys/start.ts):
// the policy decides who is responsible, refusals and lock-outs leave only their ledger entry, and
// the deploy service runs what started.

import type { RunwayConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { StrategyName } from '../domain/types.js';
import type { DeployRequest } from '../deploys/request.js';
import type { StartOutcome } from '../deploys/start.js';
import type { Store } from '../store/contract.js';
import type { TriggerRequest } from './github-webhook.js';
import type { Via } from '../deploys/policy.js';

export { currentRelease } from '../deploys/releases.js';

export interface DispatchContext {
  config: RunwayConfig;
  store: Store;
  /** Starts a deploy through the one door (the control plane's DeployService). */
  deploys: { request(request: DeployRequest): Promise<StartOutcome<void>> };
  clock: Clock;
  log?: (line: string) => void;
}

export type DispatchOutcome =
  | {
      env: string;
      outcome: 'started';
      deployId: string;
      release: string;
      responsible: string;
      emergency: boolean;
      trigger: string;
      note: string;
    }
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

export function deployRequestOf(request: TriggerRequest, options: DispatchOptions): DeployRequest {
  return {
    env: request.env,
    kind: options.rollback ? 'rollback' : request.action === 'apply-secrets' ? 'apply-secrets' : 'deploy',
    release: request.release,
    newRelease: request.newRelease,
    strategy: options.strategy,
    trigger: options.rollback ? 'rollback' : request.trigger,
    branch: request.branch,
    initiator: request.initiator,
    label: options.initiatorLabel,
    via: options.via,
    emergency: request.emergency,
    reason: request.reason,
    context: request.context,
  };
}

export async function dispatch(
  ctx: DispatchContext,
  request: TriggerRequest,
  options: DispatchOptions,
): Promise<DispatchOutcome> {
  const outcome = await ctx.deploys.request(deployRequestOf(request, options));
  if (outcome.outcome === 'refused') return outcome;
  if (outcome.outcome === 'error') {
    if (outcome.locked)
      ctx.log?.(
        `${options.initiatorLabel}'s ${request.action} of ${outcome.env}: ${outcome.error} (nothing stored; recorded in the ledger)`,
      );
    return { env: outcome.env, outcome: 'error', status: outcome.status, error: outcome.error };
  }
  const { deploy, decision } = outcome;
  return {
    env: outcome.env,
    outcome: 'started',
    deployId: deploy.id,
    release: deploy.release,
    responsible: decision.responsible,
    emergency: decision.emergency,
    trigger: decision.trigger,
    note: decision.note,
  };
}
