// GET /api/environments, GET /api/environments/:env — policy, lock, what runs, secrets state.

import type { Hono } from 'hono';
import type { EnvironmentConfig } from '../../config/types.js';
import { currentRelease } from '../../triggers/dispatch.js';
import { requireEnvironment, type ApiEnv, type ControlPlane } from './http.js';

async function describe(cp: ControlPlane, env: EnvironmentConfig) {
  const app = cp.config.app.name;
  const [lock, [last], current, secrets] = await Promise.all([
    cp.store.getLock(app, env.name),
    cp.store.listDeploys({ app, env: env.name, limit: 1 }),
    currentRelease(cp.store, app, env.name),
    cp.store.getSecretsState(app, env.name),
  ]);
  return {
    name: env.name,
    app,
    provider: env.provider,
    strategy: env.strategy,
    policy: { trigger: env.trigger, initiation: env.initiation, allowCli: env.allowCli },
    currentRelease: current,
    lock: lock ?? null,
    lastDeploy: last
      ? {
          id: last.id,
          release: last.release,
          status: last.status,
          responsible: last.responsible,
          trigger: last.trigger,
          emergency: last.emergency ?? false,
          createdAtMs: last.createdAtMs,
        }
      : null,
    secrets: { stagedVersion: secrets.stagedVersion, appliedVersion: secrets.appliedVersion },
  };
}

export function environmentRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  api.get('/environments', async (c) =>
    c.json(await Promise.all(Object.values(cp.config.environments).map((e) => describe(cp, e)))),
  );
  api.get('/environments/:env', async (c) => {
    const name = c.req.param('env');
    requireEnvironment(cp, name);
    return c.json(await describe(cp, cp.config.environments[name]!));
  });
}
