// The control plane's HTTP application. Routes are added by area (API, webhooks, dashboard) on top of
// this base, which answers health checks and turns every error into JSON with a status code.

import { Hono } from 'hono';
import type { DeployService } from './deploy-service.js';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';

export interface ServerContext {
  config: RunwayConfig;
  store: Store;
  deploys: DeployService;
}

export function createApp(ctx: ServerContext): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true, instance: ctx.deploys.instanceId, running: ctx.deploys.running().map((d) => d.deploy.id) }));
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}
