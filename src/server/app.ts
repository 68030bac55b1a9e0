// The control plane's HTTP application. Routes are added by area (API, webhooks, dashboard) on top of
// this base, which answers health checks and turns every error into JSON with a status code.

import { Hono } from 'hono';
import type { DeployService } from './deploy-service.js';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { errorResponse, mountControlPlane, type ControlPlane } from './api/index.js';
import { mountDashboard, type DashboardDeps } from './dashboard/index.js';
import { mountMetrics, type RunwayMetrics } from './metrics.js';

export interface ServerContext {
  config: RunwayConfig;
  store: Store;
  deploys: DeployService;
  /** The API, tokens, webhooks, secrets and ledger (src/server/api/). */
  control?: ControlPlane;
  /** The dashboard (src/server/dashboard/) and its live streams. */
  dashboard?: DashboardDeps;
  /** Prometheus metrics at /metrics. */
  metrics?: RunwayMetrics;
}

export function createApp(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get('/healthz', (c) =>
    c.json({ ok: true, instance: ctx.deploys.instanceId, running: ctx.deploys.running().map((d) => d.deploy.id) }),
  );
  if (ctx.metrics) mountMetrics(app, ctx.metrics, ctx.store);
  app.get('/', (c) => c.redirect('/dashboard', 302));
  // Before the API: the dashboard adds a few /api routes (event streams, health) of its own.
  if (ctx.dashboard) mountDashboard(app, ctx.dashboard);
  if (ctx.control) mountControlPlane(app, ctx.control);
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError(errorResponse);
  return app;
}
