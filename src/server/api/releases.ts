// GET /api/releases, GET /api/releases/:version, POST /api/releases (deployer or admin).

import type { Hono } from 'hono';
import type { Release } from '../../domain/types.js';
import { ApiError, freeText, optionalString, readJson, requireRole, type ApiEnv, type ControlPlane } from './http.js';

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export function releaseRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  const app = cp.config.app.name;
  api.get('/releases', async (c) => c.json(await cp.store.listReleases(app)));
  api.get('/releases/:version', async (c) => {
    const release = await cp.store.getRelease(app, c.req.param('version'));
    if (!release) throw new ApiError(404, `release ${c.req.param('version')} does not exist for ${app}`);
    return c.json(release);
  });
  api.post('/releases', async (c) => {
    requireRole(c, 'deployer');
    const body = await readJson(c, cp.maxBodyBytes);
    const version = optionalString(body, 'version');
    if (!version || !VERSION.test(version))
      throw new ApiError(400, '"version" is required: 1-128 letters, digits, . _ + -');
    const image = optionalString(body, 'image');
    const notes = optionalString(body, 'notes');
    freeText('"image"', image);
    freeText('"notes"', notes, true);
    const release: Release = { version, image: image ?? `${app}:${version}`, createdAtMs: cp.clock.now() };
    if (notes) release.notes = notes;
    if (await cp.store.getRelease(app, version))
      throw new ApiError(409, `release ${version} already exists; releases are immutable`);
    await cp.store.createRelease(app, release);
    return c.json(release, 201);
  });
}
