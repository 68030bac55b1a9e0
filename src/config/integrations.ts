// `[github]`, `[server]` and `[notifications]` of runway.toml → RunwayConfig's integrations, with
// the cross-key checks a schema cannot make (a target needs a URL; environments must exist).

import path from 'node:path';
import type { KeyPath } from './key-lines.js';
import type { RunwayTable } from './schema.js';
import { NOTIFICATION_EVENTS, type NotificationEvent } from './integrations-schema.js';

export interface GitHubConfig {
  /** Absolute path; $RUNWAY_GITHUB_WEBHOOK_SECRET wins over it. */
  webhookSecretFile?: string;
  /** `owner/name`: GitHub Deployments are created for its deploys (unless `deployments = false`). */
  repository?: string;
  /** REST API root; default https://api.github.com. */
  apiUrl?: string;
  /** Default: true when `repository` is set. */
  deployments?: boolean;
  /** Environments GitHub is told are production (`production_environment`); default those with trigger "release". */
  productionEnvironments?: string[];
  /** GitHub App installation auth (instead of $RUNWAY_GITHUB_TOKEN); the key file is absolute. */
  app?: { appId: string; installationId: number; privateKeyFile: string };
}

export interface NotificationTarget {
  name: string;
  type: 'slack' | 'webhook';
  /** The URL, or the environment variable holding it (incoming webhook URLs are secrets). */
  url?: string;
  urlEnv?: string;
  /** webhook: the HMAC key's file (absolute) or environment variable. */
  secretFile?: string;
  secretEnv?: string;
  events: NotificationEvent[];
  /** null = every environment. */
  environments: string[] | null;
}

export interface Integrations {
  github?: GitHubConfig;
  /** The dashboard's address as people reach it (links in GitHub statuses and notifications). */
  publicUrl?: string;
  notifications: NotificationTarget[];
}

export function buildIntegrations(
  raw: RunwayTable,
  dir: string,
  problem: (key: KeyPath, message: string) => void,
): Integrations {
  const envs = Object.keys(raw.environments ?? {});
  const knownEnv = (key: KeyPath, names: string[] | undefined) =>
    (names ?? []).forEach((n) => {
      if (!envs.includes(n)) problem(key, `unknown environment "${n}" (known: ${envs.join(', ') || 'none'})`);
    });
  const out: Integrations = { notifications: [] };
  const g = raw.github;
  if (g) {
    knownEnv(['github', 'production_environments'], g.production_environments);
    const appKeys = [g.app_id, g.installation_id, g.private_key_file].filter((v) => v !== undefined).length;
    if (appKeys > 0 && appKeys < 3) {
      const missing = (['app_id', 'installation_id', 'private_key_file'] as const).filter((k) => g[k] === undefined);
      problem(
        ['github', missing[0]!],
        `missing: GitHub App authentication needs app_id, installation_id and private_key_file (missing ${missing.join(', ')})`,
      );
    }
    if (g.deployments === true && !g.repository)
      problem(['github', 'deployments'], 'needs [github] repository (owner/name)');
    out.github = {
      ...(g.webhook_secret_file ? { webhookSecretFile: path.resolve(dir, g.webhook_secret_file) } : {}),
      ...(g.repository ? { repository: g.repository } : {}),
      ...(g.api_url ? { apiUrl: g.api_url.replace(/\/+$/, '') } : {}),
      deployments: g.deployments ?? Boolean(g.repository),
      // By default the environments a published release deploys to are production.
      productionEnvironments:
        g.production_environments ??
        Object.entries(raw.environments ?? {})
          .filter(([, e]) => e.trigger === 'release')
          .map(([n]) => n),
      ...(appKeys === 3
        ? {
            app: {
              appId: g.app_id!,
              installationId: g.installation_id!,
              privateKeyFile: path.resolve(dir, g.private_key_file!),
            },
          }
        : {}),
    };
  }
  if (raw.server?.public_url) out.publicUrl = raw.server.public_url.replace(/\/+$/, '');
  for (const [name, t] of Object.entries(raw.notifications?.targets ?? {})) {
    const key = ['notifications', 'targets', name];
    if ((t.url === undefined) === (t.url_env === undefined))
      problem([...key, 'url'], 'set exactly one of url and url_env');
    if (t.type === 'webhook' && (t.secret_file === undefined) === (t.secret_env === undefined)) {
      problem([...key, 'secret_file'], 'a webhook target is signed: set exactly one of secret_file and secret_env');
    }
    if (t.type === 'slack' && (t.secret_file || t.secret_env))
      problem(
        [...key, t.secret_file ? 'secret_file' : 'secret_env'],
        'slack targets are not signed (the URL is the secret)',
      );
    knownEnv([...key, 'environments'], t.environments);
    out.notifications.push({
      name,
      type: t.type,
      ...(t.url ? { url: t.url } : {}),
      ...(t.url_env ? { urlEnv: t.url_env } : {}),
      ...(t.secret_file ? { secretFile: path.resolve(dir, t.secret_file) } : {}),
      ...(t.secret_env ? { secretEnv: t.secret_env } : {}),
      events: t.events ? [...new Set(t.events)] : [...NOTIFICATION_EVENTS],
      environments: t.environments ?? null,
    });
  }
  return out;
}
