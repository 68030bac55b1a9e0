// The pure part of starting a deploy (DESIGN.md, "One way to start a deploy"): from a request — who,
// how it came in, which environment, release, strategy, emergency and reason — to a policy decision,
// the strategy settings, the ledger entry of a refusal and the deploy record. No I/O here; the one
// place that acts on these is ./start.ts, and every entry point (CLI deploy, rollback, recover,
// release publish, secrets apply, API, webhooks, dashboard) goes through it.

import { resolveStrategySettings } from '../config/settings.js';
import type { EnvironmentConfig } from '../config/types.js';
import type { ProcessGroup, Release, StrategyName, StrategySettings } from '../domain/types.js';
import type { LedgerInput } from '../ledger/ledger.js';
import type { Plan } from '../domain/plan.js';
import type { NewDeploy } from '../store/contract.js';
import { decidePolicy, type Initiator, type PolicyDecision, type RequestTrigger, type Via } from './policy.js';

/** What the deploy does: roll a release on, go back, finish a recovery, or carry staged secrets. */
export type DeployKind = 'deploy' | 'rollback' | 'recover' | 'apply-secrets';

export interface DeployRequest {
  env: string;
  kind: DeployKind;
  /**
   * The release to deploy. Absent: the newest release (deploy), the previous good one (rollback),
   * what runs now (apply-secrets); a recovery names it.
   */
  release?: string | null | undefined;
  /** A release the request brings (a webhook's tag or commit), stored once policy allowed the request. */
  newRelease?: Release | undefined;
  strategy?: StrategyName | undefined;
  /** What started it, as the policy knows triggers. */
  trigger: RequestTrigger;
  branch?: string | undefined;
  initiator: Initiator;
  /** How the initiator is recorded: `cli:alice`, `token:ci for alice`, `github:push`. */
  label: string;
  via: Via;
  emergency?: boolean | undefined;
  /** Exactly what a person typed (or an event carried); never filled in before the policy decides. */
  reason?: string | null | undefined;
  /** Where it came from (pusher, commit, workflow...): kept with the deploy and in the ledger. */
  context?: Record<string, unknown> | undefined;
}

export type AllowedDecision = Extract<PolicyDecision, { allowed: true }>;

/** The policy's answer to a request (docs/policy.md). */
export function decide(env: EnvironmentConfig, request: DeployRequest): PolicyDecision {
  return decidePolicy(env, {
    trigger: request.trigger,
    branch: request.branch,
    initiator: request.initiator,
    via: request.via,
    emergency: request.emergency,
    reason: request.reason,
  });
}

function recordedTrigger(request: DeployRequest): string {
  return request.trigger === 'push' ? `push:${request.branch ?? ''}` : request.trigger;
}

/** The one thing a refused request leaves: its refusal, in the ledger. */
export function refusalEntry(
  app: string,
  request: DeployRequest,
  refusal: { why: string; wouldBeAllowed: string[] },
): LedgerInput {
  return {
    kind: 'policy.refused',
    app,
    env: request.env,
    responsible: request.initiator.name || 'unknown',
    initiator: request.label,
    trigger: recordedTrigger(request),
    reason: request.reason ?? null,
    emergency: request.emergency ?? false,
    data: {
      why: refusal.why,
      wouldBeAllowed: refusal.wouldBeAllowed,
      via: request.via,
      action: request.kind,
      release: request.release ?? request.newRelease?.version ?? null,
      ...(request.context ? { context: request.context } : {}),
    },
  };
}

/** The one thing a request that found the environment locked leaves: that, in the ledger. */
export function lockedOutEntry(
  app: string,
  request: DeployRequest,
  decision: AllowedDecision,
  release: string,
  lock: { holder: string; reason: string },
): LedgerInput {
  return {
    kind: 'deploy.locked_out',
    app,
    env: request.env,
    responsible: decision.responsible,
    initiator: request.label,
    trigger: decision.trigger,
    reason: request.reason ?? null,
    emergency: decision.emergency,
    data: {
      release,
      holder: lock.holder,
      holderReason: lock.reason,
      via: request.via,
      action: request.kind,
      ...(request.context ? { context: request.context } : {}),
    },
  };
}

/** The strategy a request runs with: a rollback uses the environment's rollback strategy and halts on failure. */
export function settingsFor(
  env: EnvironmentConfig,
  groups: readonly ProcessGroup[],
  request: Pick<DeployRequest, 'kind' | 'strategy'>,
  recoverMode?: string,
): StrategySettings {
  const back = request.kind === 'rollback' || recoverMode === 'rollback';
  const strategy = request.strategy ?? (back ? (env.deploy.rollbackStrategy ?? 'immediate') : undefined);
  const settings = resolveStrategySettings(env, groups, strategy);
  if (!back) return settings;
  // A failed rollback stops where it is: rolling "back from the rollback" would be surprising. Going
  // back to a release that served, it puts no machine in first for analysis.
  const { analysisSpearhead: _unused, ...rest } = settings;
  return { ...rest, onFailure: 'halt' };
}

export interface RecordInput {
  id: string;
  app: string;
  request: DeployRequest;
  decision: AllowedDecision;
  release: Release;
  plan: Plan;
  settings: StrategySettings;
  owner: string;
  nowMs: number;
  /** The environment's staged secrets version (0: none). */
  stagedSecretsVersion: number;
}

/** The record of an allowed deploy, as the store keeps it. */
export function deployRecord(input: RecordInput): NewDeploy {
  const { request, decision } = input;
  return {
    id: input.id,
    app: input.app,
    env: request.env,
    release: input.release.version,
    previousRelease: input.plan.previous ?? null,
    strategy: input.settings.strategy,
    initiator: request.label,
    responsible: decision.responsible,
    trigger: request.kind === 'recover' ? 'recover' : decision.trigger,
    reason: request.reason ?? null,
    plan: input.plan,
    createdAtMs: input.nowMs,
    owner: input.owner,
    ...(decision.emergency ? { emergency: true } : {}),
    ...(input.stagedSecretsVersion > 0 ? { secretsVersion: input.stagedSecretsVersion } : {}),
  };
}
