// The fly provider against `runway sim serve`'s server, over real HTTP on 127.0.0.1: one server per
// test file (started on first use, port 0), one Fly app per harness, the client on a clock scaled like
// the server's so simulated timings agree. Also a raw HTTP helper, to look at what Fly would show.

import { ScaledClock } from '../../src/domain/clock.js';
import { FlyApiClient } from '../../src/providers/fly/api-client.js';
import { FlyProvider, type FlyProviderOptions } from '../../src/providers/fly/fly-provider.js';
import { FlyToken } from '../../src/providers/fly/token.js';
import { ResilientProvider, type ResilientOptions } from '../../src/providers/resilient-provider.js';
import { startSimServer, type SimServer } from '../../src/providers/sim/serve/sim-server.js';
import type { Harness } from './contract-suite.js';
import { RELEASES } from './sim-harness.js';
import { retryAfterMs } from '../support/fly-api.js';

/** Simulated time runs this much faster than the wall clock, on the server and in the client. */
export const SPEED = 25;
export const TOKEN = 'fly-test-token-5f1c9a';

let shared: Promise<SimServer> | undefined;
let apps = 0;

/** The file's server (started once). Close it with `closeSharedServer` in an `after` hook. */
export function sharedServer(): Promise<SimServer> {
  shared ??= startSimServer({
    clock: new ScaledClock(SPEED),
    token: TOKEN,
    sim: {
      seed: 9,
      rateLimits: true,
      faults: { bootFailureReleases: [RELEASES.bootFailRelease], unhealthyReleases: [RELEASES.brokenRelease] },
    },
  });
  return shared;
}

export async function closeSharedServer(): Promise<void> {
  if (shared) await (await shared).close();
  shared = undefined;
}

export interface FlyRig {
  server: SimServer;
  clock: ScaledClock;
  /** The Fly app of `scope`. */
  app: string;
  scope: { app: string; env: string };
  fly: FlyProvider;
  provider: ResilientProvider;
  client: FlyApiClient;
  close(): Promise<void>;
}

/** A fresh Fly app on the shared server and a provider for it. */
export async function flyRig(
  options: Partial<Omit<FlyProviderOptions, 'client' | 'clock'>> & {
    token?: string;
    requestTimeoutMs?: number;
    resilient?: Partial<ResilientOptions>;
    createApp?: boolean;
    /** Another server than the shared one, and its speed. */
    server?: SimServer;
    speed?: number;
  } = {},
): Promise<FlyRig> {
  const server = options.server ?? (await sharedServer());
  const n = ++apps;
  const scope = { app: `shop${n}`, env: 'staging' };
  const app = `${scope.app}-${scope.env}`;
  if (options.createApp !== false) server.backend.createApp(app);
  const clock = new ScaledClock(options.speed ?? SPEED);
  const client = new FlyApiClient({
    baseUrl: server.url,
    token: new FlyToken(options.token ?? TOKEN),
    clock,
    timeoutMs: options.requestTimeoutMs ?? 30_000,
  });
  const fly = new FlyProvider({
    client,
    clock,
    leaseTtlMs: 30_000,
    leaseWaitMs: 60_000,
    pollIntervalMs: 1_000,
    consistencyGraceMs: 5_000,
    ...options,
  });
  const provider = new ResilientProvider(fly, { clock, seed: n, ...options.resilient });
  return { server, clock, app, scope, fly, provider, client, close: () => provider.close() };
}

export function flyHarness(): () => Promise<Harness> {
  return async () => {
    const rig = await flyRig();
    return {
      provider: rig.provider,
      scope: rig.scope,
      clock: rig.clock,
      ...RELEASES,
      // The sim server's own seeding (as runway would have left the fleet): started and passing at once.
      async seed(groups, release) {
        rig.server.backend.seed(rig.app, { groups, release });
      },
      timeouts: { readyMs: 120_000, brokenMs: 30_000 },
      cleanup: () => rig.close(),
    };
  };
}

/**
 * One raw request to the server, as curl would send it. `speed`: how much faster than the wall
 * clock the server runs (the shared server's by default): a 429's Retry-After is in its seconds.
 */
export async function raw<T = unknown>(
  server: SimServer,
  method: string,
  path: string,
  options: { body?: unknown; nonce?: string; token?: string; speed?: number } = {},
): Promise<{ status: number; body: T }> {
  const serverClock = new ScaledClock(options.speed ?? SPEED);
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? TOKEN}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.nonce) headers['fly-machine-lease-nonce'] = options.nonce;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(server.url + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    // A test's own read waits out a 429 for as long as Retry-After says, like any Fly client (the
    // deploy under test may have spent the budget).
    if (method === 'GET' && res.status === 429 && attempt < 100) {
      await serverClock.sleep(retryAfterMs(res.headers.get('retry-after')));
      continue;
    }
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}
