// The `fly` provider opened for one environment: token, Fly app, a first request that proves both
// (so a bad token or an unknown app is bad input, found before anything changes: exit 2), and the
// FlyProvider behind the ResilientProvider (Fly's documented rate limits, retries, wait chunks).

import { hostname } from 'node:os';
import { RealClock, ScaledClock, type Clock } from '../../domain/clock.js';
import { ProviderError } from '../contract.js';
import { StoreError } from '../../store/contract.js';
import { DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS, ResilientProvider } from '../resilient-provider.js';
import { ProviderSetupError, type ProviderSession, type SessionInput } from '../session.js';
import { FlyApiClient } from './api-client.js';
import { FlyProvider } from './fly-provider.js';
import type { FlyApp } from './fly-types.js';
import { flyAppName, resolveFlyOptions } from './options.js';
import { findStaleLeases, leaseOwnerPrefix, releaseStaleLeases, type StaleLease } from './stale-leases.js';
import { readFlyToken, type FlyToken } from './token.js';
import { loadSecretKey } from '../../secrets/key.js';
import { secretsForEnvironment } from '../../secrets/secrets.js';

export async function openFlySession({
  config,
  env,
  store,
  clock: injected,
  processEnv,
}: SessionInput): Promise<ProviderSession> {
  const options = resolveFlyOptions(env.fly);
  const where = `environment ${env.name} (provider "fly")`;
  let token: FlyToken;
  try {
    token = readFlyToken({ tokenFile: options.tokenFile, dir: config.dir, processEnv });
  } catch (error) {
    throw new ProviderSetupError(`${where}: ${(error as Error).message.replace('<env>', env.name)}`);
  }
  const app = flyAppName(options, config.app.name, env.name);
  const clock: Clock =
    injected ??
    // eslint-disable-next-line no-restricted-syntax -- the starting instant of a CLI run is wall-clock time by definition
    (options.timeScale === 1 ? new RealClock() : new ScaledClock(options.timeScale, Date.now()));
  const client = new FlyApiClient({ baseUrl: options.apiUrl, token, clock, timeoutMs: options.requestTimeoutMs });
  try {
    await checkApp(client, app, where, env.name);
  } catch (error) {
    await client.close();
    throw error;
  }
  const leaseDescription = `${leaseOwnerPrefix(config.app.name, env.name)}pid ${process.pid}@${hostname()} ${Math.random().toString(36).slice(2, 8)}`;
  /** Stale leases found, by machine: their nonces stay here, never in output. */
  const found = new Map<string, StaleLease>();
  const fly = new FlyProvider({
    client,
    clock,
    appFor: (scope) => (scope.app === config.app.name && scope.env === env.name ? app : `${scope.app}-${scope.env}`),
    region: options.region,
    leaseTtlMs: options.leaseTtlMs,
    leaseWaitMs: options.leaseWaitMs,
    pollIntervalMs: options.pollIntervalMs,
    consistencyGraceMs: options.consistencyGraceMs,
    leaseDescription,
    // Runway clears only its own leases; RUNWAY_FLY_FORCE_LEASES=1 on one command clears anyone's
    // (a stale flyctl lease, #1728) instead of waiting lease_wait for it.
    forceLeases: processEnv.RUNWAY_FLY_FORCE_LEASES === '1',
    // `runway secrets set` values, decrypted only when a deploy first changes a machine, then set
    // through Fly's app secrets API (never in a machine's config).
    secrets: async () => {
      try {
        if ((await store.listSecrets(config.app.name, env.name)).length === 0) return {};
        const key = loadSecretKey({ env: processEnv, keyFile: config.secrets?.keyFile });
        return await secretsForEnvironment(store, config.app.name, env.name, key);
      } catch (error) {
        // An unreachable store is passing, like an API outage: the change waits and is tried again.
        if (error instanceof StoreError && error.kind === 'unavailable')
          throw new ProviderError('unavailable', `the store holding the secrets: ${error.message}`);
        throw error;
      }
    },
  });
  const provider = new ResilientProvider(fly, {
    clock,
    outageTimeoutMs: env.deploy.providerOutageTimeoutMs ?? DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS,
  });
  return {
    provider,
    clock,
    // Requests that reached the wire (lease calls, wait slices and health polls included), and 429s.
    apiStats: () => ({ calls: client.stats.requests, rateLimited: client.stats.rateLimited }),
    // The fleet lives on Fly: nothing to save.
    save: async () => {},
    close: () => provider.close(),
    async leftLeases(_scope, machineIds) {
      const leases = await findStaleLeases(
        client,
        app,
        machineIds,
        leaseOwnerPrefix(config.app.name, env.name),
        leaseDescription,
      );
      for (const l of leases) found.set(l.machineId, l);
      return leases.map((l) => ({ machineId: l.machineId, holder: l.description, expiresAtMs: l.expiresAt * 1000 }));
    },
    async releaseLeftLeases(_scope, leases) {
      return releaseStaleLeases(
        client,
        app,
        leases.map((l) => found.get(l.machineId)).filter((l): l is StaleLease => l !== undefined),
      );
    },
  };
}

/**
 * GET /v1/apps/{app}: proves the token and the app before anything else. 401/403 and 404 are setup
 * errors (bad input, exit 2) with one clear sentence; an unreachable API is an internal error (70).
 */
async function checkApp(client: FlyApiClient, app: string, where: string, envName: string): Promise<FlyApp> {
  try {
    const { body } = await client.send<FlyApp>({
      method: 'GET',
      path: `/v1/apps/${encodeURIComponent(app)}`,
      what: `look up app ${app}`,
      label: 'app',
    });
    return body;
  } catch (error) {
    if (error instanceof ProviderError && error.kind === 'unauthorized') {
      throw new ProviderSetupError(
        `${where}: the Fly API at ${client.origin} refused the token (${error.details.status}); set FLY_API_TOKEN or [environments.${envName}.fly] token_file to a token that may deploy ${app}`,
      );
    }
    if (error instanceof ProviderError && error.kind === 'not_found') {
      throw new ProviderSetupError(
        `${where}: Fly app "${app}" does not exist at ${client.origin} (or the token cannot see it); set [environments.${envName}.fly] app`,
      );
    }
    throw error;
  }
}
