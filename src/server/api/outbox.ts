// GET /api/outbox (?state=pending,failed,delivered&deploy=&limit=): GitHub statuses and
// notifications runway owes, oldest first (docs/github.md). Default: not delivered yet or given up.

import type { Hono } from 'hono';
import type { OutboxState } from '../../store/outbox-contract.js';
import { ApiError, positiveInt, type ApiEnv, type ControlPlane } from './http.js';

const STATES: readonly OutboxState[] = ['pending', 'delivered', 'failed'];

export function outboxRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  api.get('/outbox', async (c) => {
    const state = (c.req.query('state') ?? 'pending,failed').split(',').filter(Boolean);
    const bad = state.filter((s) => !STATES.includes(s as OutboxState));
    if (bad.length) throw new ApiError(400, `state must be among ${STATES.join(', ')} (got ${bad.join(', ')})`);
    const deployId = c.req.query('deploy');
    const limit = positiveInt(c.req.query('limit'), 'limit', 5000) ?? 500;
    const items = await cp.store.listOutbox({
      state: state as OutboxState[],
      outwardOnly: true,
      limit,
      ...(deployId ? { deployId } : {}),
    });
    return c.json(items.filter((i) => i.app === cp.config.app.name));
  });
}
