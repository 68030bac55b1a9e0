// Start the control plane: the deploy service (ownership, takeover, resume) and the HTTP server.

import { serve, type ServerType } from '@hono/node-server';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { RealClock } from '../domain/clock.js';
import { resolveWebhookSecret } from '../triggers/github-webhook.js';
import { createApp } from './app.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_WEBHOOK_BODY_BYTES, type ControlPlane } from './api/http.js';
import { DeployService, type DeployServiceOptions, type LiveDeploy } from './deploy-service.js';
import { ledgerHooks } from './ledger-hooks.js';
import { WebhookWorker } from './webhook-worker.js';
import { StreamGuard } from './stream-guard.js';
import { FleetCache, LiveHub } from './dashboard/index.js';
import { RunwayMetrics } from './metrics.js';
import { OutboxPump } from '../outbox/pump.js';

export interface RunningServer {
  url: string;
  deploys: DeployService;
  /** Queued GitHub deliveries (tests wait on `idle()`). */
  webhooks: WebhookWorker;
  /** GitHub statuses and notifications (src/outbox/). */
  outbox: OutboxPump;
  /** Open event streams (ended when their token is revoked or their session ends). */
  streams: StreamGuard;
  close(): Promise<void>;
}

export interface ServeOptions extends Partial<DeployServiceOptions> {
  config: RunwayConfig;
  store: Store;
  port: number;
  host?: string;
  /**
   * The GitHub webhook secret. Default: $RUNWAY_GITHUB_WEBHOOK_SECRET (of `processEnv`) or
   * `[github] webhook_secret_file`; without one the endpoint answers 503. A named file that is
   * missing or empty stops the server from starting.
   */
  webhookSecret?: string;
  /** API request bodies (default 256 KiB). */
  maxBodyBytes?: number;
  /** Webhook payloads (default 5 MiB). */
  maxWebhookBodyBytes?: number;
  /** Dashboard: how long a fleet listing is reused (default 15 s), and how often live streams flush (default 250 ms). */
  fleetTtlMs?: number;
  liveFlushMs?: number;
  /** How often the outbox pump looks for due deliveries (default 1 s). */
  outboxIntervalMs?: number;
  /** How often open event streams check their token and session (revocations made elsewhere; default 500 ms). */
  streamSweepMs?: number;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const processEnv = options.processEnv ?? process.env;
  const webhookSecret = options.webhookSecret ?? resolveWebhookSecret(options.config, processEnv);
  const wall = options.wallClock ?? new RealClock();
  const log = options.log ?? (() => {});
  let instanceId = '';
  // The in-progress gauge asks the deploy service only when scraped, after it exists.
  const metrics: RunwayMetrics = new RunwayMetrics((): LiveDeploy[] => deploys.running());
  const deploys: DeployService = new DeployService({
    ...options,
    wallClock: wall,
    hooks: metrics.hooks(options.hooks ?? ledgerHooks(options.store, wall, () => instanceId)),
    instrumentSession: (_env, session) => metrics.instrumentSession(session),
  });
  instanceId = deploys.instanceId;
  const hub = new LiveHub(deploys, options.store, { ...(options.liveFlushMs ? { flushMs: options.liveFlushMs } : {}) });
  const fleets = new FleetCache(options.config, deploys, wall, options.fleetTtlMs);
  hub.onMachine((_deployId, machine) => fleets.apply(machine.env, machine));
  metrics.setFleetSource({
    fleets: async () =>
      (await fleets.all()).map((f) => ({ app: options.config.app.name, env: f.env, machines: f.machines })),
  });
  const dispatchContext = { config: options.config, store: options.store, deploys, clock: wall, log };
  const webhooks = new WebhookWorker(dispatchContext, deploys.instanceId);
  const streams = new StreamGuard(options.store, wall, options.streamSweepMs);
  const control: ControlPlane = {
    ...dispatchContext,
    processEnv,
    log,
    webhookSecret,
    webhooks,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxWebhookBodyBytes: options.maxWebhookBodyBytes ?? DEFAULT_MAX_WEBHOOK_BODY_BYTES,
    streams,
  };
  if (webhookSecret === undefined)
    log('GitHub webhook endpoint off: no secret (set RUNWAY_GITHUB_WEBHOOK_SECRET or [github] webhook_secret_file)');
  else if (!options.config.github?.repository)
    log(
      'GitHub webhooks: no [github] repository set, so events of every repository that shares the webhook secret are acted on; set it to "owner/name"',
    );
  const app = createApp({
    config: options.config,
    store: options.store,
    deploys,
    control,
    metrics,
    dashboard: { cp: control, hub, fleets, wall },
  });
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  deploys.start();
  await webhooks.resumeQueued();
  const outbox = new OutboxPump({
    store: options.store,
    config: options.config,
    processEnv,
    owner: deploys.instanceId,
    log,
  });
  // Also without targets: it retires lifecycle rows, so enabling GitHub later does not replay history.
  outbox.start(options.outboxIntervalMs ?? (outbox.enabled ? 1000 : 10_000));
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    deploys,
    webhooks,
    outbox,
    streams,
    async close() {
      await outbox.stop();
      await webhooks.stop();
      await deploys.stop();
      streams.close();
      hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
