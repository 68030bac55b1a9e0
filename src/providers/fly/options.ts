// Settings of the `fly` provider, parsed from `[environments.X.fly]` (src/config/fly-schema.ts).
// Every key is optional in runway.toml; `resolveFlyOptions` fills the defaults documented in
// docs/fly-provider.md.

/** Fly's public Machines API. */
export const DEFAULT_FLY_API_URL = 'https://api.machines.dev';

export interface FlyOptions {
  /** Base URL of the Machines API (`api_url`); a `runway sim serve` address in tests. */
  apiUrl: string;
  /**
   * Fly app that holds the environment's machines (`app`). Default `<app>-<environment>`: on Fly every
   * environment is its own app (`mechanic-staging`, `mechanic-production`), with its own rate limits.
   */
  app?: string;
  /** File holding the API token (`token_file`, relative to runway.toml); default: $FLY_API_TOKEN. */
  tokenFile?: string;
  /** Region new machines are created in (`region`); default: Fly's choice. */
  region?: string;
  /** Lease TTL (`lease_ttl`): a lease of a crashed runway blocks others at most this long. */
  leaseTtlMs: number;
  /** How long to wait for a lease someone else holds before failing (`lease_wait`). */
  leaseWaitMs: number;
  /** Longest wait for an answer to a non-wait request (`request_timeout`). */
  requestTimeoutMs: number;
  /** Health polling interval while waiting for checks (`poll_interval`); Fly's wait has no health state. */
  pollIntervalMs: number;
  /** How long after a create a 404 on the new machine is taken as Fly's eventual consistency (`consistency_grace`). */
  consistencyGraceMs: number;
  /**
   * Client clock speed (`time_scale`, default 1): only for a `runway sim serve --speed X` server, so
   * runway's clock runs as fast as the simulated fleet's. Never set it against Fly.
   */
  timeScale: number;
}

export const DEFAULT_FLY_OPTIONS: Omit<FlyOptions, 'app' | 'tokenFile' | 'region'> = {
  apiUrl: DEFAULT_FLY_API_URL,
  leaseTtlMs: 30_000,
  leaseWaitMs: 60_000,
  requestTimeoutMs: 30_000,
  pollIntervalMs: 1_000,
  consistencyGraceMs: 5_000,
  timeScale: 1,
};

export function resolveFlyOptions(written: Partial<FlyOptions> = {}): FlyOptions {
  const out: FlyOptions = { ...DEFAULT_FLY_OPTIONS };
  for (const [key, value] of Object.entries(written)) if (value !== undefined) Object.assign(out, { [key]: value });
  return out;
}

/** The Fly app of an environment: `[environments.X.fly] app`, else `<app>-<environment>`. */
export function flyAppName(options: Pick<FlyOptions, 'app'>, app: string, env: string): string {
  return options.app ?? `${app}-${env}`;
}
