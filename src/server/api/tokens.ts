// Tokens (admin only): list (never hashes), create (the token is in this one response), revoke.
// GET /api/whoami for any token.

import type { Hono } from 'hono';
import { createApiToken, publicToken, revokeApiToken } from '../auth.js';
import {
  ApiError,
  caller,
  optionalBoolean,
  optionalString,
  readJson,
  requireRole,
  type ApiEnv,
  type ControlPlane,
} from './http.js';

export function tokenRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  api.get('/whoami', (c) => {
    const principal = c.get('principal');
    return c.json({
      name: principal.name,
      role: principal.role,
      envs: principal.envs,
      automation: principal.automation,
      tokenId: principal.tokenId,
    });
  });
  api.get('/tokens', async (c) => {
    requireRole(c, 'admin');
    return c.json((await cp.store.listTokens()).map(publicToken));
  });
  api.post('/tokens', async (c) => {
    requireRole(c, 'admin');
    const body = await readJson(c, cp.maxBodyBytes);
    const envs = body.envs;
    if (envs !== undefined && envs !== null && (!Array.isArray(envs) || envs.some((e) => typeof e !== 'string')))
      throw new ApiError(400, '"envs" must be a list of environment names');
    const { token, record } = await createApiToken(cp.store, cp.clock, {
      name: optionalString(body, 'name') ?? '',
      role: optionalString(body, 'role') ?? '',
      envs: (envs as string[] | undefined) ?? null,
      automation: optionalBoolean(body, 'automation'),
      createdBy: caller(c).initiator.name,
      app: cp.config.app.name,
      knownEnvironments: Object.keys(cp.config.environments),
    });
    return c.json({ token, ...publicToken(record) }, 201);
  });
  api.delete('/tokens/:id', async (c) => {
    requireRole(c, 'admin');
    const id = c.req.param('id');
    if (!(await cp.store.getToken(id))) throw new ApiError(404, `no token ${id}`);
    if (!(await revokeApiToken(cp.store, cp.clock, id, caller(c).initiator.name, cp.config.app.name)))
      throw new ApiError(409, `token ${id} is already revoked`);
    // Its open event streams end now (other instances' within their next sweep).
    cp.streams.endToken(id);
    return c.json(publicToken((await cp.store.getToken(id))!));
  });
}
