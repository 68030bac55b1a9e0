// GET /api/ledger (?env=&after=&limit=) and GET /api/ledger/verify.

import type { Hono } from 'hono';
import { verifyLedger } from '../../ledger/ledger.js';
import { positiveInt, type ApiEnv, type ControlPlane } from './http.js';

export function ledgerRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  api.get('/ledger', async (c) => {
    const env = c.req.query('env');
    const after = positiveInt(c.req.query('after'), 'after', Number.MAX_SAFE_INTEGER);
    const limit = positiveInt(c.req.query('limit'), 'limit', 10_000) ?? 500;
    return c.json(
      await cp.store.listLedger({
        app: cp.config.app.name,
        ...(env ? { env } : {}),
        ...(after !== undefined ? { afterSeq: after } : {}),
        limit,
      }),
    );
  });
  api.get('/ledger/verify', async (c) => c.json(await verifyLedger(cp.store)));
}
