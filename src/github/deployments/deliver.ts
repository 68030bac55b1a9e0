// Delivers one GitHub row of the outbox: a deployment status, creating the deployment for the
// release in the environment first when runway has none recorded. A deploy back to a release that
// already has a deployment there (a rollback) posts to that deployment, so GitHub shows it active
// again. A success marks the deployment active and queues `inactive` for the one it replaced.

import type { Store } from '../../store/contract.js';
import { StoreError } from '../../store/contract.js';
import type { NewOutboxItem, OutboxItem } from '../../store/outbox-contract.js';
import { GITHUB_CHANNEL, type GitHubStatusPayload } from './payload.js';
import type { RepositoryClient } from './client.js';

/** The `inactive` status queued for a deployment another one replaced. */
export interface GitHubInactivePayload {
  state: 'inactive';
  deploymentId: number;
  environment: string;
  release: string;
  replacedBy: string;
  description: string;
  logUrl?: string;
}

export type GitHubPayload = GitHubStatusPayload | GitHubInactivePayload;

export async function deliverGitHub(
  item: OutboxItem,
  store: Store,
  client: RepositoryClient,
  timeoutMs: number,
  nowMs: number,
): Promise<NewOutboxItem[]> {
  const { octokit, owner, repo } = client;
  const payload = item.payload as GitHubPayload;
  const request = { signal: AbortSignal.timeout(timeoutMs) };
  if (payload.state === 'inactive') {
    await octokit.rest.repos.createDeploymentStatus({
      owner,
      repo,
      deployment_id: payload.deploymentId,
      state: 'inactive',
      description: payload.description,
      environment: payload.environment,
      ...(payload.logUrl ? { log_url: payload.logUrl } : {}),
      request,
    });
    return [];
  }
  let record = await store.getGitHubDeployment(item.app, item.env, payload.release);
  if (!record) {
    const created = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref: payload.ref,
      task: 'deploy',
      // runway decides what is deployed: GitHub must neither merge the default branch into the ref
      // nor refuse the deployment over commit status checks.
      auto_merge: false,
      required_contexts: [],
      environment: payload.environment,
      description: payload.deploymentDescription,
      production_environment: payload.productionEnvironment,
      transient_environment: false,
      payload: { runway: payload.runway },
      request,
    });
    if (created.status !== 201 || !('id' in created.data)) {
      throw new Error(
        `GitHub did not create the deployment (HTTP ${created.status}: ${(created.data as { message?: string }).message ?? 'no message'})`,
      );
    }
    const fresh = {
      app: item.app,
      env: item.env,
      release: payload.release,
      deploymentId: created.data.id,
      deployId: payload.deployId,
      createdAtMs: nowMs,
    };
    try {
      await store.saveGitHubDeployment(fresh);
      record = { ...fresh, active: false };
    } catch (err) {
      // Another instance recorded one first: post to that one.
      if (!(err instanceof StoreError && err.kind === 'conflict')) throw err;
      record = (await store.getGitHubDeployment(item.app, item.env, payload.release))!;
    }
  }
  await octokit.rest.repos.createDeploymentStatus({
    owner,
    repo,
    deployment_id: record.deploymentId,
    state: payload.state,
    description: payload.description,
    environment: payload.environment,
    ...(payload.logUrl ? { log_url: payload.logUrl } : {}),
    ...(payload.environmentUrl ? { environment_url: payload.environmentUrl } : {}),
    // runway says which deployment is replaced (production ones too, which GitHub would skip).
    auto_inactive: false,
    request,
  });
  if (payload.state !== 'success') return [];
  const replaced = await store.activateGitHubDeployment(item.app, item.env, payload.release);
  return replaced.map((r) => {
    const inactive: GitHubInactivePayload = {
      state: 'inactive',
      deploymentId: r.deploymentId,
      environment: r.env,
      release: r.release,
      replacedBy: payload.release,
      description: `runway: replaced by ${payload.release}`,
      ...(payload.logUrl ? { logUrl: payload.logUrl } : {}),
    };
    return {
      channel: GITHUB_CHANNEL,
      deployId: item.deployId,
      app: item.app,
      env: item.env,
      kind: 'inactive',
      payload: inactive,
      createdAtMs: nowMs,
    };
  });
}
