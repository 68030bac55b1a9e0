// A control plane in this process on 127.0.0.1:0 over a sim fleet (virtual clock), driven over real
// HTTP. Every line the server logs and every response body is kept (the secrets test greps them).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { RealClock } from '../../src/domain/clock.js';
import { TERMINAL_STATUSES } from '../../src/domain/types.js';
import { getEnvironment } from '../../src/config/environment.js';
import { openProviderSession } from '../../src/providers/open-session.js';
import type { ProviderSession } from '../../src/providers/session.js';
import { createApiToken } from '../../src/server/auth.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/serve.js';
import type { DeployRecord, Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';
import { signatureFor } from '../../src/triggers/github-webhook.js';

/** Cap on waiting for a delivery or a deploy to finish: for a hang, not a timing expectation. */
const WAIT_CAP_MS = 120_000;

export const WEBHOOK_SECRET = "It's a Secret to Everybody";
export const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

/** production: release, manual; staging: push:main, automatic; qa: manual with allow_cli. */
export const CONTROL_CONFIG = `
[app]
name = "shop"
[app.processes]
web = { count = 3 }
worker = { count = 1 }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.staging]
provider = "sim"
trigger = "push:main"
initiation = "automatic"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.qa]
provider = "sim"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "bluegreen" }
[environments.qa.deploy]
pause_before_cutover = true
max_surge = 0

[sim]
clock = "virtual"
initial_release = "v1"
`;

/** Response bodies are whatever JSON the route sends; tests check their fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export interface Harness {
  dir: string;
  store: Store;
  server: RunningServer;
  url: string;
  logs: string[];
  /** Every response body read through `call`. */
  bodies: string[];
  admin: string;
  token(name: string, role: string, options?: { envs?: string[]; automation?: boolean }): Promise<string>;
  call(
    method: string,
    path: string,
    options?: { token?: string | undefined; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; json: Body; text: string }>;
  hook(
    event: string,
    payload: unknown,
    options?: { delivery?: string; signature?: string | null; raw?: string },
  ): Promise<{ status: number; json: Body }>;
  waitDelivery(id: string): Promise<Body>;
  waitDeploy(id: string): Promise<DeployRecord>;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    config?: string;
    serve?: Partial<ServeOptions>;
    env?: NodeJS.ProcessEnv;
    /** Wraps each provider session the server opens (a test holding a deploy at a point of its choosing). */
    wrapSession?: (env: string, session: ProviderSession) => ProviderSession;
    /** Wraps the store the server uses (the harness's own reads go to the store itself). */
    wrapStore?: (store: Store) => Store;
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-server-'));
  writeFileSync(join(dir, 'runway.toml'), options.config ?? CONTROL_CONFIG);
  const config = loadConfig(join(dir, 'runway.toml'));
  const store = await openStore(config.store.url, config.dir);
  const logs: string[] = [];
  const bodies: string[] = [];
  const clock = new RealClock();
  const processEnv = options.env ?? { RUNWAY_SECRET_KEY: SECRET_KEY };
  const wrapSession = options.wrapSession;
  const server = await startServer({
    config,
    store: options.wrapStore ? options.wrapStore(store) : store,
    port: 0,
    pollMs: 50,
    webhookSecret: WEBHOOK_SECRET,
    processEnv,
    ...(wrapSession
      ? {
          openSession: async (env: string) =>
            wrapSession(
              env,
              await openProviderSession({ config, env: getEnvironment(config, env), store, processEnv }),
            ),
        }
      : {}),
    log: (line) => logs.push(line),
    ...options.serve,
  });
  const admin = (await createApiToken(store, clock, { name: 'root', role: 'admin', createdBy: 'test', app: 'shop' }))
    .token;
  const call: Harness['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(server.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    bodies.push(text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  let deliveries = 0;
  return {
    dir,
    store,
    server,
    url: server.url,
    logs,
    bodies,
    admin,
    async token(name, role, o = {}) {
      return (
        await createApiToken(store, clock, {
          name,
          role,
          envs: o.envs ?? null,
          automation: o.automation ?? false,
          createdBy: 'test',
          app: 'shop',
        })
      ).token;
    },
    call,
    async hook(event, payload, o = {}) {
      const raw = o.raw ?? JSON.stringify(payload);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': o.delivery ?? `delivery-${++deliveries}-${Math.random().toString(16).slice(2)}`,
      };
      if (o.signature !== null) headers['x-hub-signature-256'] = o.signature ?? signatureFor(WEBHOOK_SECRET, raw);
      const res = await fetch(server.url + '/webhooks/github', { method: 'POST', headers, body: raw });
      const text = await res.text();
      bodies.push(text);
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    async waitDelivery(id) {
      await server.webhooks.idle();
      // Polls for the event; the cap is for a hang, generous for a loaded machine.
      for (const deadline = Date.now() + WAIT_CAP_MS; Date.now() < deadline;) {
        const d = await store.getDelivery(id);
        if (d && (d.status === 'done' || d.status === 'failed')) return d;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`delivery ${id} not processed within ${WAIT_CAP_MS} ms`);
    },
    async waitDeploy(id) {
      for (const deadline = Date.now() + WAIT_CAP_MS; Date.now() < deadline;) {
        const d = await store.getDeploy(id);
        if (d && TERMINAL_STATUSES.includes(d.status) && !server.deploys.get(id)) return d;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`deploy ${id} did not finish within ${WAIT_CAP_MS} ms`);
    },
    async close() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
