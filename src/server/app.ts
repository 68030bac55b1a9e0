// The control plane's HTTP application. Routes are added by area (API, webhooks, dashboard) on top of
// this base, which answers health checks and turns every error into JSON with a status code.

import { Hono } from 'hono';
import type { DeployService } from './deploy-service.js';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { errorResponse, mountControlPlane, type ControlPlane } from './api/index.js';

export interface ServerContext {
  config: RunwayConfig;
  store: Store;
  deploys: DeployService;
  /** The API, tokens, webhooks, secrets and ledger (src/server/api/). */
  control?: ControlPlane;
}

export function createApp(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true, instance: ctx.deploys.instanceId, running: ctx.deploys.running().map((d) => d.deploy.id) }));
  if (ctx.control) mountControlPlane(app, ctx.control);
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError(errorResponse);
  return app;
}
