// The Machines API's routes, request and response shapes and error bodies (`{"error": "…"}`), over
// the SimFlyBackend; plus `/_sim/*` administration routes that are not Fly's (seed a fleet, inject
// faults, read counters). Every route but /healthz wants `Authorization: Bearer <token>` (or the
// FlyV1 macaroon form, as flyctl sends it); anything else is a 401.

import { Hono, type Context } from 'hono';
import { ProviderError } from '../../contract.js';
import {
  LEASE_NONCE_HEADER,
  type FlyCreateVolumeRequest,
  type FlyLaunchRequest,
  type FlyStopRequest,
} from '../../fly/fly-types.js';
import { HttpError, type BackendFaults, type SeedRequest, type SimFlyBackend } from './fly-backend.js';
import { specValidation, type ExchangeObserver } from './spec-validation.js';

export interface RouteOptions {
  backend: SimFlyBackend;
  /** The token clients must present. */
  token: string;
  /** Told every Machines API exchange (request, answer), e.g. by the conformance suite. */
  observe?: ExchangeObserver;
}

export function flyRoutes({ backend, token, observe }: RouteOptions): Hono {
  const app = new Hono();
  const accepted = new Set([token.startsWith('FlyV1 ') ? token : `Bearer ${token}`, `Bearer ${token}`]);

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use('*', async (c, next) => {
    const route = routeName(c.req.method, c.req.path);
    if (c.req.path !== '/healthz' && !accepted.has(c.req.header('authorization') ?? '')) {
      backend.count(route, 401);
      return c.json({ error: 'unauthorized' }, 401);
    }
    await next();
    backend.count(route, c.res.status);
  });
  // What Fly's published API does not allow is refused as Fly would, before the backend sees it.
  app.use('/v1/*', specValidation(observe));

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      if (error.retryAfterMs !== undefined)
        c.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
      return c.json({ error: error.message }, error.status as 400);
    }
    if (error instanceof ProviderError) {
      const status = statusOf(error);
      if (error.kind === 'rate_limited' && error.details.retryAfterMs !== undefined) {
        c.header('retry-after', String(Math.max(1, Math.ceil(error.details.retryAfterMs / 1000))));
      }
      return c.json({ error: error.message }, status as 400);
    }
    // A client that hung up mid-wait is not an error of ours.
    if (c.req.raw.signal.aborted) return c.json({ error: 'client closed request' }, 499 as 400);
    return c.json({ error: `internal error: ${error instanceof Error ? error.message : String(error)}` }, 500);
  });

  const nonce = (c: Context) => c.req.header(LEASE_NONCE_HEADER) || undefined;
  const json = async <T>(c: Context): Promise<T | undefined> => {
    const text = await c.req.text();
    if (!text) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HttpError(400, 'request body is not valid JSON');
    }
  };

  // ---- apps ---------------------------------------------------------------------------------------
  app.get('/v1/apps', (c) => c.json({ total_apps: backend.listApps().length, apps: backend.listApps() }));
  app.post('/v1/apps', async (c) => {
    const body = await json<{ app_name?: string; org_slug?: string }>(c);
    if (!body?.app_name) throw new HttpError(400, 'app_name is required');
    return c.json(backend.createApp(body.app_name, body.org_slug), 201);
  });
  app.get('/v1/apps/:app', (c) => c.json(backend.getApp(c.req.param('app'))));

  // ---- machines -----------------------------------------------------------------------------------
  app.get('/v1/apps/:app/machines', async (c) => c.json(await backend.listMachines(c.req.param('app'), c.req.query())));
  app.post('/v1/apps/:app/machines', async (c) =>
    c.json(await backend.createMachine(c.req.param('app'), (await json<FlyLaunchRequest>(c))!)),
  );
  app.get('/v1/apps/:app/machines/:id', async (c) =>
    c.json(await backend.getMachine(c.req.param('app'), c.req.param('id'))),
  );
  app.post('/v1/apps/:app/machines/:id', async (c) =>
    c.json(
      await backend.updateMachine(c.req.param('app'), c.req.param('id'), (await json<FlyLaunchRequest>(c))!, nonce(c)),
    ),
  );
  app.delete('/v1/apps/:app/machines/:id', async (c) => {
    const force = ['kill', 'force'].some((k) => c.req.query(k) === 'true');
    return c.json(await backend.destroyMachine(c.req.param('app'), c.req.param('id'), nonce(c), force));
  });
  app.post('/v1/apps/:app/machines/:id/start', async (c) =>
    c.json(await backend.startMachine(c.req.param('app'), c.req.param('id'), nonce(c))),
  );
  app.post('/v1/apps/:app/machines/:id/stop', async (c) => {
    await json<FlyStopRequest>(c); // signal and timeout are accepted; the sim's stop latency stands for them
    return c.json(await backend.stopMachine(c.req.param('app'), c.req.param('id'), nonce(c)));
  });
  app.post('/v1/apps/:app/machines/:id/cordon', async (c) =>
    c.json(await backend.cordonMachine(c.req.param('app'), c.req.param('id'), nonce(c), true)),
  );
  app.post('/v1/apps/:app/machines/:id/uncordon', async (c) =>
    c.json(await backend.cordonMachine(c.req.param('app'), c.req.param('id'), nonce(c), false)),
  );
  app.get('/v1/apps/:app/machines/:id/wait', async (c) => {
    const state = c.req.query('state') ?? 'started';
    const version = c.req.query('version') ?? c.req.query('instance_id') ?? undefined;
    const timeout = c.req.query('timeout') === undefined ? 60 : Number(c.req.query('timeout'));
    return c.json(
      await backend.waitMachine(
        c.req.param('app'),
        c.req.param('id'),
        state,
        version || undefined,
        timeout,
        c.req.raw.signal,
      ),
    );
  });

  // ---- leases -------------------------------------------------------------------------------------
  app.post('/v1/apps/:app/machines/:id/lease', async (c) => {
    const body = await json<{ ttl?: number; description?: string }>(c);
    const ttl = Number(c.req.query('ttl') ?? body?.ttl ?? 13);
    const answer = await backend.acquireLease(c.req.param('app'), c.req.param('id'), ttl, body?.description, nonce(c));
    return c.json(answer.body, answer.status as 200);
  });
  app.get('/v1/apps/:app/machines/:id/lease', async (c) =>
    c.json(await backend.getLease(c.req.param('app'), c.req.param('id'))),
  );
  app.delete('/v1/apps/:app/machines/:id/lease', async (c) =>
    c.json(await backend.releaseLease(c.req.param('app'), c.req.param('id'), nonce(c))),
  );

  // ---- metadata -----------------------------------------------------------------------------------
  app.get('/v1/apps/:app/machines/:id/metadata', async (c) =>
    c.json(await backend.getMetadata(c.req.param('app'), c.req.param('id'))),
  );
  app.post('/v1/apps/:app/machines/:id/metadata/:key', async (c) => {
    const body = await json<{ value?: unknown }>(c);
    if (typeof body?.value !== 'string') throw new HttpError(400, 'value (a string) is required');
    await backend.setMetadata(c.req.param('app'), c.req.param('id'), c.req.param('key'), body.value, nonce(c));
    return c.body(null, 204);
  });
  app.delete('/v1/apps/:app/machines/:id/metadata/:key', async (c) => {
    await backend.setMetadata(c.req.param('app'), c.req.param('id'), c.req.param('key'), undefined, nonce(c));
    return c.body(null, 204);
  });

  // ---- volumes ------------------------------------------------------------------------------------
  app.get('/v1/apps/:app/volumes', (c) => c.json(backend.listVolumes(c.req.param('app'))));
  app.post('/v1/apps/:app/volumes', async (c) =>
    c.json(backend.createVolume(c.req.param('app'), await json<FlyCreateVolumeRequest>(c))),
  );
  app.get('/v1/apps/:app/volumes/:id', (c) => c.json(backend.getVolume(c.req.param('app'), c.req.param('id'))));
  app.delete('/v1/apps/:app/volumes/:id', (c) => c.json(backend.destroyVolume(c.req.param('app'), c.req.param('id'))));
  // ---- app secrets (fly-go flaps_secrets.go; in the spec overlay) ---------------------------------
  const show = (c: Context) => c.req.query('show_secrets') === 'true';
  const withApp = (c: Context): string => {
    const name = c.req.param('app') ?? '';
    backend.getApp(name); // 404 for an unknown app
    return name;
  };
  const secretName = (c: Context): string => c.req.param('name') ?? '';
  app.get('/v1/apps/:app/secrets', (c) => c.json(backend.secrets.list(withApp(c), show(c))));
  app.post('/v1/apps/:app/secrets', async (c) =>
    c.json(backend.secrets.update(withApp(c), (await json<{ values: Record<string, string | null> }>(c))!.values)),
  );
  app.get('/v1/apps/:app/secrets/:name', (c) => c.json(backend.secrets.get(withApp(c), secretName(c), show(c))));
  app.post('/v1/apps/:app/secrets/:name', async (c) =>
    c.json(backend.secrets.set(withApp(c), secretName(c), (await json<{ value: string }>(c))!.value)),
  );
  app.delete('/v1/apps/:app/secrets/:name', (c) => c.json(backend.secrets.delete(withApp(c), secretName(c))));

  // ---- administration (runway's, not Fly's) -------------------------------------------------------
  app.post('/_sim/apps/:app/seed', async (c) => {
    const body = await json<SeedRequest>(c);
    if (!body?.release || !Array.isArray(body.groups))
      throw new HttpError(400, 'expected {"groups": [{"name", "count"}], "release": "v1"}');
    return c.json({ machines: backend.seed(c.req.param('app'), body) });
  });
  // Volumes with what the Volumes API does not show (which volume each was forked from).
  app.get('/_sim/apps/:app/volumes', (c) =>
    c.json(backend.volumes.toJSON().filter((v) => v.app === c.req.param('app'))),
  );
  app.post('/_sim/faults', async (c) => c.json(backend.setFaults((await json<Partial<BackendFaults>>(c)) ?? {})));
  app.get('/_sim/stats', (c) => c.json({ server: backend.stats, sim: backend.sim.stats, faults: backend.faults }));

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  return app;
}

function statusOf(error: ProviderError): number {
  switch (error.kind) {
    case 'rate_limited':
      return 429;
    case 'unavailable':
      return 503;
    case 'timeout':
      return 504;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'unauthorized':
      return 401;
    case 'bad_request':
      return 400;
    case 'wait_timeout':
      return 408;
    default:
      return 500;
  }
}

/** A route label for counters: machine ids and app names replaced. */
function routeName(method: string, path: string): string {
  const parts = path.split('/');
  if (parts[1] === 'v1' && parts[2] === 'apps') {
    if (parts[3]) parts[3] = ':app';
    if (parts[4] === 'machines' && parts[5]) parts[5] = ':id';
    if (parts[6] === 'metadata' && parts[7]) parts[7] = ':key';
    if (parts[4] === 'volumes' && parts[5]) parts[5] = ':id';
  }
  if (parts[1] === '_sim' && parts[2] === 'apps' && parts[3]) parts[3] = ':app';
  return `${method} ${parts.join('/')}`;
}
