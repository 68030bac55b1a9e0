// An environment's secrets (`runway secrets set`, encrypted in runway's store) delivered the way Fly
// delivers secrets: through the app secrets API (`POST /v1/apps/{app}/secrets`, fly-go
// UpdateAppSecrets), never in a machine's config. Once per provider session, before its first create
// or update, runway sets every staged secret and deletes the ones it had set before and no longer
// stages; Fly answers with the app's secrets version, and every machine runway then creates or updates
// asks for at least that version (`min_secrets_version`), so it starts with those values. Machines
// remember which names runway gave them (`runway_secrets` metadata), so an unset reaches Fly too.
// Values travel only in that one request body: never in configs, messages or output.

import { ProviderError } from '../contract.js';
import type { FlyApiClient } from './api-client.js';

/** The environment's staged secrets, decrypted when first needed (a deploy), by name. */
export type SecretsSource = () => Promise<Record<string, string>>;

export interface AppSecretsResult {
  /** The app's secrets version after the change; undefined when runway has no secrets to deliver. */
  version?: number;
  /** Names runway manages on the app now (sorted). */
  names: string[];
}

interface UpdateAppSecretsAnswer {
  secrets?: { name: string }[];
  version?: number;
}

/** Metadata key listing the secret names runway delivered to a machine (comma-separated). */
export const SECRETS_META_KEY = 'runway_secrets';

export class AppSecrets {
  private readonly synced = new Map<string, Promise<AppSecretsResult>>();

  constructor(
    private readonly client: FlyApiClient,
    private readonly source: SecretsSource | undefined,
  ) {}

  /**
   * Make the app's secrets runway's staged ones (once per app and session). `delivered` are names
   * runway gave machines before (from their `runway_secrets`): those no longer staged are deleted.
   */
  sync(app: string, delivered: () => string[], signal?: AbortSignal): Promise<AppSecretsResult> {
    let done = this.synced.get(app);
    if (!done) {
      done = this.push(app, delivered(), signal);
      // A failed sync is tried again by the next change, not remembered.
      done.catch(() => this.synced.delete(app));
      this.synced.set(app, done);
    }
    return done;
  }

  private async push(app: string, delivered: string[], signal?: AbortSignal): Promise<AppSecretsResult> {
    let staged: Record<string, string>;
    try {
      staged = this.source ? await this.source() : {};
    } catch (error) {
      if (error instanceof ProviderError) throw error; // the store unreachable: retried (session.ts)
      throw new ProviderError(
        'bad_request',
        `fly: the environment's secrets cannot be read, so they cannot be delivered to ${app}: ${(error as Error).message}`,
        { op: 'update' },
      );
    }
    const names = Object.keys(staged).sort();
    const gone = [...new Set(delivered)].filter((n) => !(n in staged));
    if (names.length === 0 && gone.length === 0) return { names };
    const values: Record<string, string | null> = { ...staged };
    for (const name of gone) values[name] = null;
    const { body } = await this.client.send<UpdateAppSecretsAnswer>({
      method: 'POST',
      path: `/v1/apps/${encodeURIComponent(app)}/secrets`,
      body: { values },
      signal,
      op: 'update',
      // Names only: a message never carries a value.
      what: `set the app secrets of ${app} (${names.length} set${gone.length ? `, ${gone.length} deleted` : ''})`,
      label: 'secrets',
    });
    if (typeof body?.version !== 'number')
      throw new ProviderError('unavailable', `fly: set the app secrets of ${app}: the answer has no secrets version`, {
        op: 'update',
      });
    return { version: body.version, names };
  }
}

/** The request carries the app's secrets to the machine: at least that version, and the names in its metadata. */
export function withSecrets<T extends { config: { metadata?: Record<string, string> }; min_secrets_version?: number }>(
  request: T,
  secrets: AppSecretsResult,
): T {
  if (secrets.version === undefined) return request;
  request.min_secrets_version = secrets.version;
  const metadata = { ...request.config.metadata };
  if (secrets.names.length > 0) metadata[SECRETS_META_KEY] = secrets.names.join(',');
  else delete metadata[SECRETS_META_KEY];
  request.config.metadata = metadata;
  return request;
}

/** Names in a machine's `runway_secrets` metadata. */
export function deliveredSecrets(metadata: Record<string, string> | undefined): string[] {
  const raw = metadata?.[SECRETS_META_KEY];
  return raw ? raw.split(',').filter(Boolean) : [];
}
