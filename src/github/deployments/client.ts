// An Octokit for the configured repository, authenticated with $RUNWAY_GITHUB_TOKEN or as a GitHub
// App installation (@octokit/auth-app makes and renews the installation token). No retries here:
// the outbox retries with backoff and keeps order (src/outbox/).

import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import { createAppAuth } from '@octokit/auth-app';
import type { GitHubConfig } from '../../config/integrations.js';

export interface RepositoryClient {
  octokit: Octokit;
  owner: string;
  repo: string;
  /** How it authenticates, for messages: `token`, `app <id>` or `none`. */
  auth: string;
}

export class GitHubConfigError extends Error {}

/** Octokit logs failed requests itself; the outbox reports them (with retry state) instead. */
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export function repositoryClient(
  github: GitHubConfig,
  processEnv: NodeJS.ProcessEnv,
  userAgent = 'runway',
): RepositoryClient {
  const [owner, repo] = (github.repository ?? '').split('/');
  if (!owner || !repo) throw new GitHubConfigError('[github] repository is not set (owner/name)');
  const baseUrl = github.apiUrl ?? 'https://api.github.com';
  const token = processEnv.RUNWAY_GITHUB_TOKEN?.trim();
  if (token)
    return { octokit: new Octokit({ auth: token, baseUrl, userAgent, log: quiet }), owner, repo, auth: 'token' };
  if (github.app) {
    let privateKey: string;
    try {
      privateKey = readFileSync(github.app.privateKeyFile, 'utf8');
    } catch (err) {
      throw new GitHubConfigError(`[github] private_key_file ${github.app.privateKeyFile}: ${(err as Error).message}`);
    }
    const octokit = new Octokit({
      authStrategy: createAppAuth,
      auth: { appId: github.app.appId, privateKey, installationId: github.app.installationId },
      baseUrl,
      userAgent,
      log: quiet,
    });
    return { octokit, owner, repo, auth: `app ${github.app.appId}` };
  }
  throw new GitHubConfigError(
    'no GitHub credentials: set RUNWAY_GITHUB_TOKEN, or [github] app_id, installation_id and private_key_file',
  );
}
