// The supervisor's control API (the protocol is in wire.ts): hono routes over the local provider,
// every request body checked by a zod schema, every error a JSON `{ error: { kind, message } }` with
// the status of its kind. The client (client.ts) is runway's own, so the schemas check the shapes it
// sends rather than guard against strangers; the bearer token is what keeps strangers out.

import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import type { FleetScope } from '../../domain/types.js';
import { ProviderError, type MachineSpec, type MachineUpdate, type WaitCondition } from '../contract.js';
import type { LocalProvider } from './local-provider.js';
import { API, SEQ_HEADER, toWire, type SupervisorInfo } from './wire.js';

const MAX_BODY = 1 << 20;

const role = z.enum(['serving', 'green', 'canary', 'surge', 'release-command']);
// Loose objects: a field the client adds later passes through to the provider, as it always has.
const BODIES = {
  hello: z.looseObject({
    processes: z.array(z.looseObject({ name: z.string() })),
    checks: z.array(z.looseObject({ name: z.string() })),
    vars: z.record(z.string(), z.string()),
    configDir: z.string(),
    releaseCommand: z.looseObject({ command: z.string() }).optional(),
    secrets: z.record(z.string(), z.string()).optional(),
  }),
  create: z.looseObject({
    group: z.string(),
    release: z.string(),
    role,
    cordoned: z.boolean(),
    launchId: z.string(),
    deployId: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    command: z.string().optional(),
    image: z.string().optional(),
    standsFor: z.string().optional(),
    forkVolumes: z.boolean().optional(),
  }),
  update: z.looseObject({
    release: z.string(),
    role: role.optional(),
    deployId: z.string().optional(),
    image: z.string().optional(),
  }),
  stop: z.object({ killSignal: z.string().optional(), timeoutMs: z.number().nonnegative().optional() }),
  uncordon: z.object({ role: role.optional() }),
  drain: z.object({ timeoutMs: z.number().nonnegative().default(0) }),
  wait: z.object({
    condition: z.object({
      state: z.enum(['started', 'stopped', 'destroyed']),
      release: z.string().optional(),
      instanceVersion: z.string().optional(),
      healthy: z.boolean().optional(),
    }),
    timeoutMs: z.number().nonnegative(),
  }),
  shutdown: z.object({ keepMachines: z.boolean().default(false) }),
};

/** What the routes need of the supervisor that serves them. */
export interface ControlApiHost {
  provider: LocalProvider;
  token: string;
  defaultScope: FleetScope;
  /** The number of the last machine event sent (every answer carries it: wire.ts). */
  seq(): number;
  info(): SupervisorInfo;
  /** Adds a listener of event lines ('' ends the stream); returns its removal. */
  listen(send: (line: string) => void): () => void;
  shutdown(keepMachines: boolean): void;
}

type Env = { Bindings: HttpBindings };

export function controlApi(host: ControlApiHost): Hono<Env> {
  const p = host.provider;
  const app = new Hono<Env>();
  const send = (c: Context<Env>, body: unknown, status: 200 | 202 = 200) =>
    c.json(body ?? null, status, { [SEQ_HEADER]: String(host.seq()) });
  const scope = (c: Context<Env>): FleetScope => ({
    app: c.req.query('app') ?? host.defaultScope.app,
    env: c.req.query('env') ?? host.defaultScope.env,
  });
  const body = async <S extends z.ZodType>(c: Context<Env>, schema: S): Promise<z.infer<S>> => {
    const text = await c.req.text();
    let value: unknown;
    try {
      value = text ? JSON.parse(text) : {};
    } catch (error) {
      throw new ProviderError('bad_request', `bad JSON: ${(error as Error).message}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new ProviderError('bad_request', `local supervisor: ${c.req.path}: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  };

  app.onError((error, c) => {
    const { status, body } = toWire(error);
    return c.json(body, status as ContentfulStatusCode, { [SEQ_HEADER]: String(host.seq()) });
  });
  app.notFound((c) =>
    c.json({ error: { kind: 'not_found', message: `local supervisor: no route ${c.req.method} ${c.req.path}` } }, 404, {
      [SEQ_HEADER]: String(host.seq()),
    }),
  );
  app.use('*', async (c, next) => {
    if (c.req.header('authorization') !== `Bearer ${host.token}`)
      return c.json({ error: { kind: 'unauthorized', message: 'local supervisor: missing or wrong token' } }, 401, {
        [SEQ_HEADER]: String(host.seq()),
      });
    return next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new ProviderError('bad_request', 'request body too large');
      },
    }),
  );

  const api = app.basePath(API);
  api.get('/info', async (c) => {
    const { inFlight: _byMachine, inFlightTotal, ...proxy } = await p.proxy.snapshot();
    return send(c, {
      ...host.info(),
      token: undefined,
      machines: p.processes(),
      proxy: { ...proxy, inFlight: inFlightTotal, routable: p.proxy.routable.length },
    });
  });
  api.post('/hello', async (c) => {
    p.reconfigure((await body(c, BODIES.hello)) as unknown as Parameters<LocalProvider['reconfigure']>[0]);
    return send(c, { ...host.info(), token: undefined });
  });
  api.get('/events', (c) => events(c, host));
  api.get('/machines', async (c) => send(c, await p.list(scope(c))));
  api.post('/machines', async (c) => send(c, await p.create(scope(c), (await body(c, BODIES.create)) as MachineSpec)));
  api.get('/machines/:id', async (c) => send(c, await p.get(scope(c), c.req.param('id'))));
  api.delete('/machines/:id', async (c) => {
    await p.destroy(scope(c), c.req.param('id'));
    return send(c, {});
  });
  api.post('/machines/:id/update', async (c) =>
    send(c, await p.update(scope(c), c.req.param('id'), (await body(c, BODIES.update)) as MachineUpdate)),
  );
  api.post('/machines/:id/start', async (c) => send(c, await p.start(scope(c), c.req.param('id'))));
  api.post('/machines/:id/stop', async (c) =>
    send(c, await p.stop(scope(c), c.req.param('id'), await body(c, BODIES.stop))),
  );
  api.post('/machines/:id/cordon', async (c) => send(c, await p.cordon(scope(c), c.req.param('id'))));
  api.post('/machines/:id/uncordon', async (c) =>
    send(c, await p.uncordon(scope(c), c.req.param('id'), (await body(c, BODIES.uncordon)).role)),
  );
  api.get('/machines/:id/logs', async (c) => send(c, await p.logs(scope(c), c.req.param('id'))));
  api.post('/machines/:id/drain', async (c) => {
    await p.drain(scope(c), c.req.param('id'), (await body(c, BODIES.drain)).timeoutMs);
    return send(c, {});
  });
  api.post('/machines/:id/wait', async (c) => {
    const b = await body(c, BODIES.wait);
    // A long poll: the client closing the request aborts the wait.
    const gone = new AbortController();
    c.env.outgoing.once('close', () => gone.abort(new Error('client went away')));
    const machine = await p.waitFor(
      scope(c),
      c.req.param('id'),
      b.condition as WaitCondition,
      b.timeoutMs,
      gone.signal,
    );
    return send(c, machine);
  });
  api.get('/traffic', async (c) => send(c, await p.traffic(scope(c))));
  api.post('/releases/:id/check', async (c) => {
    await p.checkRelease(scope(c), c.req.param('id'));
    return send(c, {});
  });
  api.post('/shutdown', async (c) => {
    const { keepMachines } = await body(c, BODIES.shutdown);
    // Stop once the answer is out: stopping closes every connection, this one included.
    c.env.outgoing.once('finish', () => host.shutdown(keepMachines));
    return send(c, { stopping: true, keepMachines }, 202);
  });
  return app;
}

/** NDJSON: a first line with the current seq, then one line per machine event. */
function events(c: Context<Env>, host: ControlApiHost): Response {
  const seq = host.seq();
  const encoder = new TextEncoder();
  let remove = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(JSON.stringify({ seq }) + '\n'));
      remove = host.listen((line) => {
        if (line !== '') return controller.enqueue(encoder.encode(line));
        remove();
        controller.close();
      });
    },
    cancel: () => remove(),
  });
  c.env.incoming.socket.setKeepAlive(true);
  c.env.outgoing.once('close', () => remove());
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', [SEQ_HEADER]: String(seq) },
  });
}
