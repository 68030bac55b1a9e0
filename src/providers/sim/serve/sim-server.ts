// `runway sim serve`'s server: the Fly-compatible routes on a real HTTP listener (hono on Node), and
// the state file. The server runs in its own process in crash tests, so the fleet outlives the runway
// client; with `statePath` it also outlives the server: saved (atomically) before every answer to a
// change, shortly after changes the fleet makes by itself (boots, checks), and on close; loaded on start.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Clock } from '../../../domain/clock.js';
import type { SimOptionsInput } from '../resolve-options.js';
import { SimFlyBackend, type BackendFaults, type SimServeState } from './fly-backend.js';
import { flyRoutes } from './fly-routes.js';
import type { ExchangeObserver } from './spec-validation.js';

export interface SimServerOptions {
  clock: Clock;
  /** Bearer token clients must send. */
  token: string;
  sim?: SimOptionsInput;
  faults?: Partial<BackendFaults>;
  /** Loaded at start when the file exists; written after changes and on close. */
  statePath?: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** How often (wall ms) a changed state is written. */
  saveEveryMs?: number;
  /** Told every Machines API exchange (the conformance suite checks them against Fly's spec). */
  observe?: ExchangeObserver;
}

export interface SimServer {
  backend: SimFlyBackend;
  url: string;
  port: number;
  close(): Promise<void>;
  /** Write the state file now (no-op without statePath). */
  save(): void;
}

/** The saved state, if `path` exists; throws with the file name when it cannot be read. */
export function loadSimServeState(path: string | undefined): SimServeState | undefined {
  if (!path || !existsSync(path)) return undefined;
  let state: SimServeState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as SimServeState;
  } catch (error) {
    throw new Error(`--state ${path}: cannot read it (${(error as Error).message})`);
  }
  if (state.format !== 'runway-sim-serve/1')
    throw new Error(`--state ${path}: not a runway sim serve state file (format ${String(state.format)})`);
  return state;
}

export async function startSimServer(
  options: SimServerOptions,
  saved = loadSimServeState(options.statePath),
): Promise<SimServer> {
  const backend = new SimFlyBackend({ clock: options.clock, sim: options.sim, faults: options.faults }, saved);
  const routes = flyRoutes({ backend, token: options.token, observe: options.observe });
  const save = () => {
    if (!options.statePath) return;
    const tmp = `${options.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(backend.toJSON()));
    renameSync(tmp, options.statePath);
    backend.dirty = false;
  };
  // Nothing acknowledged is lost on a kill -9: a change is written to the state file before its
  // answer leaves (errors included: a 504 may follow a change that happened). Answers waiting at the
  // same moment share one write (group commit), so a busy fleet is not one file write per request.
  let pending: Promise<void> | undefined;
  const written = (): Promise<void> =>
    (pending ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        pending = undefined;
        if (backend.dirty) save();
        resolve();
      }),
    ));
  const fetch = async (request: Request): Promise<Response> => {
    const response = await routes.fetch(request);
    if (options.statePath && request.method !== 'GET' && backend.dirty) await written();
    return response;
  };
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      { fetch, port: options.port ?? 0, hostname: options.host ?? '127.0.0.1', overrideGlobalObjects: false },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const timer = options.statePath
    ? setInterval(() => {
        if (backend.dirty) save();
      }, options.saveEveryMs ?? 250)
    : undefined;
  timer?.unref();
  let closed: Promise<void> | undefined;
  return {
    backend,
    port,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    save,
    close() {
      closed ??= (async () => {
        if (timer) clearInterval(timer);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Long-poll waits and keep-alive connections would hold close() open.
          if ('closeAllConnections' in server) server.closeAllConnections();
        });
        save();
        await backend.close();
      })();
      return closed;
    },
  };
}
