// The control plane's routes on the base app: /api/* (bearer token; roles in auth.ts) and
// /webhooks/github (GitHub's signature instead of a token). Every route is listed in docs/api.md.

import { Hono } from 'hono';
import { deployRoutes } from './deploys.js';
import { environmentRoutes } from './environments.js';
import { errorResponse } from './errors.js';
import { requireToken, type ApiEnv, type ControlPlane } from './http.js';
import { ledgerRoutes } from './ledger.js';
import { outboxRoutes } from './outbox.js';
import { releaseRoutes } from './releases.js';
import { secretRoutes } from './secrets.js';
import { tokenRoutes } from './tokens.js';
import { deliveryRoutes, webhookRoutes } from './webhooks.js';

export function mountControlPlane(app: Hono, cp: ControlPlane): void {
  const api = new Hono<ApiEnv>();
  api.onError(errorResponse);
  api.use('*', requireToken(cp));
  environmentRoutes(api, cp);
  releaseRoutes(api, cp);
  deployRoutes(api, cp);
  secretRoutes(api, cp);
  ledgerRoutes(api, cp);
  tokenRoutes(api, cp);
  deliveryRoutes(api, cp);
  outboxRoutes(api, cp);
  api.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.route('/api', api);
  webhookRoutes(app, cp);
}

export { errorResponse } from './errors.js';
export type { ControlPlane } from './http.js';
