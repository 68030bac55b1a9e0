// Pure: what one deploy lifecycle row (a status the store recorded) owes the outside world under
// the configuration — a GitHub deployment status and the notifications targets asked for. The
// rows made here carry everything their delivery needs except credentials.

import type { RunwayConfig } from '../config/types.js';
import type { NotificationEvent } from '../config/integrations-schema.js';
import type { DeployStatus } from '../domain/types.js';
import type { DeployRecord } from '../store/contract.js';
import type { NewOutboxItem, OutboxItem } from '../store/outbox-contract.js';
import { GITHUB_CHANNEL, type GitHubState, type GitHubStatusPayload } from '../github/deployments/payload.js';
import type { NotificationPayload } from '../notifications/payload.js';

export const notifyChannel = (target: string): string => `notify:${target}`;

const FAILED: readonly DeployStatus[] = ['failed', 'halted', 'release_command_failed', 'rolled_back'];

export function githubState(status: DeployStatus): GitHubState | undefined {
  if (status === 'pending') return 'queued';
  if (status === 'running') return 'in_progress';
  if (status === 'succeeded') return 'success';
  if (status === 'aborted') return 'error';
  if (FAILED.includes(status)) return 'failure';
  return undefined;
}

/** The notification events a status reached means, in the order they are sent. */
export function notificationEvents(status: DeployStatus, deploy: DeployRecord): NotificationEvent[] {
  if (status === 'pending') return [];
  if (status === 'running') return deploy.emergency ? ['emergency', 'started'] : ['started'];
  const events: NotificationEvent[] = [];
  // A `runway rollback` that worked is news as a rollback, not as one more success.
  if (status === 'succeeded') events.push(deploy.trigger === 'rollback' ? 'rolled_back' : 'succeeded');
  else if (status === 'rolled_back') events.push('rolled_back');
  else if (status === 'aborted') events.push('aborted');
  else events.push('failed');
  if (stragglersOf(deploy) > 0) events.push('stragglers');
  return events;
}

export function stragglersOf(deploy: Pick<DeployRecord, 'summary'>): number {
  const s = deploy.summary as { machines?: { stragglers?: unknown } } | null;
  const n = Number(s?.machines?.stragglers ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export function deployPageUrl(config: Pick<RunwayConfig, 'publicUrl'>, deployId: string): string | undefined {
  return config.publicUrl ? `${config.publicUrl}/dashboard/deploys/${encodeURIComponent(deployId)}` : undefined;
}

function statusDescription(status: DeployStatus, deploy: DeployRecord): string {
  const who = deploy.responsible === 'automation' ? 'automation' : deploy.responsible;
  const text: Record<DeployStatus, string> = {
    pending: `runway: ${deploy.release} queued (${deploy.strategy}) for ${who}`,
    running: `runway: rolling out ${deploy.release} (${deploy.strategy})${deploy.emergency ? ' — EMERGENCY' : ''}`,
    succeeded: `runway: ${deploy.release} is live${stragglersOf(deploy) ? ` (${stragglersOf(deploy)} stragglers)` : ''}`,
    failed: `runway: failed${deploy.error ? `: ${deploy.error}` : ''}`,
    halted: `runway: halted${deploy.error ? `: ${deploy.error}` : ''}`,
    release_command_failed: `runway: release command failed${deploy.error ? `: ${deploy.error}` : ''}`,
    rolled_back: `runway: failed and rolled back to ${deploy.previousRelease ?? 'the previous release'}`,
    aborted: `runway: aborted${deploy.abortRequestedBy ? ` by ${deploy.abortRequestedBy}` : ''}`,
  };
  const t = text[status];
  return t.length <= 140 ? t : `${t.slice(0, 139)}…`;
}

/** Whether `config` has anything to deliver at all (no pump is needed without). */
export function hasDeliveryTargets(config: Pick<RunwayConfig, 'github' | 'notifications'>): boolean {
  return deploymentsEnabled(config) || (config.notifications?.length ?? 0) > 0;
}

export function deploymentsEnabled(config: Pick<RunwayConfig, 'github'>): boolean {
  return Boolean(config.github?.repository) && config.github?.deployments !== false;
}

export function deliveriesFor(
  lifecycle: Pick<OutboxItem, 'kind' | 'createdAtMs'>,
  deploy: DeployRecord,
  config: RunwayConfig,
  nowMs: number,
): NewOutboxItem[] {
  const status = lifecycle.kind as DeployStatus;
  const base = { deployId: deploy.id, app: deploy.app, env: deploy.env, createdAtMs: nowMs };
  const url = deployPageUrl(config, deploy.id);
  const rows: NewOutboxItem[] = [];
  const state = githubState(status);
  if (state && deploymentsEnabled(config)) {
    const envUrl = config.environments[deploy.env]?.url;
    const payload: GitHubStatusPayload = {
      state,
      deployId: deploy.id,
      release: deploy.release,
      environment: deploy.env,
      ref: deploy.release,
      productionEnvironment: (
        config.github?.productionEnvironments ??
        Object.values(config.environments)
          .filter((e) => e.trigger === 'release')
          .map((e) => e.name)
      ).includes(deploy.env),
      deploymentDescription:
        `runway deploy ${deploy.id}: ${deploy.release} (${deploy.strategy}), responsible: ${deploy.responsible}`.slice(
          0,
          140,
        ),
      description: statusDescription(status, deploy),
      ...(url ? { logUrl: url } : {}),
      ...(envUrl ? { environmentUrl: envUrl } : {}),
      runway: {
        deployId: deploy.id,
        app: deploy.app,
        release: deploy.release,
        strategy: deploy.strategy,
        responsible: deploy.responsible,
        trigger: deploy.trigger,
      },
    };
    rows.push({ ...base, channel: GITHUB_CHANNEL, kind: state, payload });
  }
  const events = notificationEvents(status, deploy);
  for (const target of config.notifications ?? []) {
    if (target.environments && !target.environments.includes(deploy.env)) continue;
    for (const event of events) {
      if (!target.events.includes(event)) continue;
      const payload: NotificationPayload = {
        event,
        deployId: deploy.id,
        app: deploy.app,
        env: deploy.env,
        release: deploy.release,
        previousRelease: deploy.previousRelease,
        strategy: deploy.strategy,
        status,
        responsible: deploy.responsible,
        initiator: deploy.initiator,
        trigger: deploy.trigger,
        emergency: deploy.emergency ?? false,
        reason: deploy.reason,
        error: deploy.error,
        stragglers: stragglersOf(deploy),
        url: url ?? null,
        atMs: lifecycle.createdAtMs,
      };
      rows.push({ ...base, channel: notifyChannel(target.name), kind: event, payload });
    }
  }
  return rows;
}
