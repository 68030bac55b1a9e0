// The supervisor of one local environment: a long-running process that owns the machine processes
// and the proxy, so both outlive the CLI — `runway deploy` twice in a row works on one fleet and the
// proxy URL stays up between deploys. Every runway command that opens the environment talks to it
// over the control API (wire.ts); the first one starts it (launcher.ts), `runway local down` stops it.
//
// One supervisor per state directory: `supervisor.lock` is created exclusively and names the holder
// (pid + start time), so a second one started at the same moment steps aside, and a stale lock of a
// dead supervisor is taken over. It shuts down — destroying every machine, freeing every port — on
// `POST /v1/shutdown`, on SIGTERM/SIGINT/SIGHUP, and when its owner process (RUNWAY_LOCAL_OWNER_PID:
// the demo, tests) dies. `shutdown { keepMachines: true }` leaves the machines running for the next
// supervisor to re-adopt (upgrading runway without restarting the app).

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { getEnvironment, loadConfig } from '../../config/load.js';
import type { FleetScope } from '../../domain/types.js';
import { ProviderError, type MachineEvent } from '../contract.js';
import { ProviderSetupError } from '../session.js';
import { localAppConfig } from './app-config.js';
import { LocalProvider, writeJsonAtomic, type LocalAppConfig } from './local-provider.js';
import { HOST } from './ports.js';
import { isSameProcess, processStartTime, type ProcessIdentity } from './proc.js';
import { API, SEQ_HEADER, toWire, type SupervisorInfo } from './wire.js';

export const INFO_FILE = 'supervisor.json';
export const LOCK_FILE = 'supervisor.lock';
export const LOG_FILE = 'supervisor.log';
const OWNER_POLL_MS = 500;
const MAX_BODY = 1 << 20;

export interface SupervisorArgs {
  configFile: string;
  envName: string;
  ownerPid?: number;
}

/** What the supervisor tells the process that started it, once. */
export type StartupMessage =
  { type: 'ready'; info: SupervisorInfo } | { type: 'error'; code: 'setup' | 'running' | 'internal'; message: string };

export class Supervisor {
  private seq = 0;
  private readonly streams = new Set<(line: string) => void>();
  private server: Server | undefined;
  private shuttingDown: Promise<void> | undefined;
  private ownerTimer: NodeJS.Timeout | undefined;
  private info!: SupervisorInfo;
  private readonly token = randomBytes(24).toString('hex');

  private constructor(
    readonly provider: LocalProvider,
    private readonly config: LocalAppConfig,
    private readonly args: SupervisorArgs,
    private readonly onExit: () => void,
  ) {
    provider.subscribe(provider.scope, (event) => this.broadcast(event));
  }

  /** Start: lock the state directory, open the provider (proxy first), serve the control API. */
  static async start(args: SupervisorArgs, onExit: () => void = () => {}): Promise<Supervisor> {
    const runway = loadConfig(args.configFile);
    const env = getEnvironment(runway, args.envName);
    if (env.provider !== 'local')
      throw new ProviderSetupError(`environment ${env.name} uses provider "${env.provider}", not "local"`);
    const config = localAppConfig(runway, env);
    mkdirSync(config.options.stateDir, { recursive: true });
    const lock = acquireLock(config.options.stateDir);
    let provider: LocalProvider;
    try {
      provider = await LocalProvider.open(config);
    } catch (error) {
      releaseLock(config.options.stateDir, lock);
      throw error;
    }
    const supervisor = new Supervisor(provider, config, args, onExit);
    await supervisor.listen();
    supervisor.watchOwner();
    return supervisor;
  }

  get description(): SupervisorInfo {
    return this.info;
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: HOST }, () => resolve());
    });
    this.server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const { options } = this.config;
    this.info = {
      format: 'runway-local-supervisor/1',
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? '',
      controlUrl: `http://${HOST}:${port}`,
      token: this.token,
      proxyUrl: this.provider.proxyUrl,
      proxyPort: this.provider.proxy.port,
      app: this.config.app,
      env: this.config.env,
      configFile: path.resolve(this.args.configFile),
      stateDir: options.stateDir,
      // eslint-disable-next-line no-restricted-syntax -- a timestamp for humans, not engine time
      startedAtMs: Date.now(),
    };
    if (this.args.ownerPid) this.info.ownerPid = this.args.ownerPid;
    writeJsonAtomic(path.join(options.stateDir, INFO_FILE), this.info, 0o600);
  }

  private watchOwner(): void {
    const owner = this.args.ownerPid;
    if (!owner) return;
    const identity = processStartTime(owner);
    this.ownerTimer = setInterval(() => {
      if (processStartTime(owner) !== identity) {
        log(`owner process ${owner} is gone: shutting down`);
        void this.shutdown({ keepMachines: false });
      }
    }, OWNER_POLL_MS);
    this.ownerTimer.unref();
  }

  /** Stop everything (or everything but the machines), remove supervisor.json and the lock, then call onExit. */
  shutdown(options: { keepMachines: boolean }): Promise<void> {
    this.shuttingDown ??= (async () => {
      clearInterval(this.ownerTimer);
      const stateDir = this.config.options.stateDir;
      try {
        unlinkSync(path.join(stateDir, INFO_FILE));
      } catch {
        /* gone */
      }
      if (options.keepMachines) await this.provider.close();
      else await this.provider.shutdown();
      for (const end of [...this.streams]) end('');
      await new Promise<void>((resolve) => {
        if (!this.server) return resolve();
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
      releaseLock(stateDir, { pid: process.pid, startTime: processStartTime(process.pid) ?? '' });
      log(`stopped (${options.keepMachines ? 'machines kept running' : 'every machine destroyed'})`);
      this.onExit();
    })();
    return this.shuttingDown;
  }

  private broadcast(event: MachineEvent): void {
    this.seq++;
    const line = JSON.stringify({ seq: this.seq, event }) + '\n';
    for (const send of this.streams) send(line);
  }

  // ---- the control API ---------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return this.send(res, 401, {
        error: { kind: 'unauthorized', message: 'local supervisor: missing or wrong token' },
      });
    }
    const url = new URL(req.url ?? '/', 'http://supervisor');
    const scope: FleetScope = {
      app: url.searchParams.get('app') ?? this.config.app,
      env: url.searchParams.get('env') ?? this.config.env,
    };
    const parts = url.pathname.startsWith(`${API}/`)
      ? url.pathname
          .slice(API.length + 1)
          .split('/')
          .map(decodeURIComponent)
      : [];
    const provider = this.provider;
    try {
      const body = req.method === 'POST' ? await readJson(req) : {};
      const route = `${req.method} ${parts[0] ?? ''}${parts.length > 2 ? `/:id/${parts[2]}` : parts.length === 2 ? '/:id' : ''}`;
      const id = parts[1] ?? '';
      switch (route) {
        case 'GET info': {
          const { inFlight: _byMachine, inFlightTotal, ...proxy } = await provider.proxy.snapshot();
          return this.send(res, 200, {
            ...this.info,
            token: undefined,
            machines: provider.processes(),
            proxy: { ...proxy, inFlight: inFlightTotal, routable: provider.proxy.routable.length },
          });
        }
        case 'POST hello':
          provider.reconfigure(body as Parameters<LocalProvider['reconfigure']>[0]);
          return this.send(res, 200, { ...this.info, token: undefined });
        case 'GET events':
          return this.stream(req, res);
        case 'GET machines':
          return this.send(res, 200, await provider.list(scope));
        case 'POST machines':
          return this.send(res, 200, await provider.create(scope, body as never));
        case 'GET machines/:id':
          return this.send(res, 200, await provider.get(scope, id));
        case 'DELETE machines/:id':
          await provider.destroy(scope, id);
          return this.send(res, 200, {});
        case 'POST machines/:id/update':
          return this.send(res, 200, await provider.update(scope, id, body as never));
        case 'POST machines/:id/start':
          return this.send(res, 200, await provider.start(scope, id));
        case 'POST machines/:id/stop':
          return this.send(res, 200, await provider.stop(scope, id, body as never));
        case 'POST machines/:id/cordon':
          return this.send(res, 200, await provider.cordon(scope, id));
        case 'POST machines/:id/uncordon':
          return this.send(res, 200, await provider.uncordon(scope, id, (body as { role?: never }).role));
        case 'GET machines/:id/logs':
          return this.send(res, 200, await provider.logs(scope, id));
        case 'POST machines/:id/drain':
          await provider.drain(scope, id, Number((body as { timeoutMs?: number }).timeoutMs ?? 0));
          return this.send(res, 200, {});
        case 'POST machines/:id/wait': {
          // A long poll: the client closing the request aborts the wait.
          const b = body as { condition: never; timeoutMs: number };
          const gone = new AbortController();
          res.once('close', () => gone.abort(new Error('client went away')));
          return this.send(res, 200, await provider.waitFor(scope, id, b.condition, b.timeoutMs, gone.signal));
        }
        case 'GET traffic':
          return this.send(res, 200, await provider.traffic(scope));
        case 'POST releases/:id/check':
          await provider.checkRelease(scope, id);
          return this.send(res, 200, {});
        case 'POST shutdown': {
          const keepMachines = Boolean((body as { keepMachines?: boolean }).keepMachines);
          this.send(res, 202, { stopping: true, keepMachines });
          void this.shutdown({ keepMachines });
          return;
        }
        default:
          return this.send(res, 404, {
            error: { kind: 'not_found', message: `local supervisor: no route ${req.method} ${url.pathname}` },
          });
      }
    } catch (error) {
      if (res.destroyed) return;
      const { status, body } = toWire(
        error instanceof SyntaxError ? new ProviderError('bad_request', `bad JSON: ${error.message}`) : error,
      );
      this.send(res, status, body);
    }
  }

  /** NDJSON: a first line with the current seq, then one line per machine event. */
  private stream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      [SEQ_HEADER]: String(this.seq),
    });
    res.write(JSON.stringify({ seq: this.seq }) + '\n');
    const send = (line: string) => {
      if (line === '') res.end();
      else res.write(line);
    };
    this.streams.add(send);
    req.socket.setKeepAlive(true);
    res.once('close', () => this.streams.delete(send));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body ?? null);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      [SEQ_HEADER]: String(this.seq),
    });
    res.end(text);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ProviderError('bad_request', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

/** Take the state directory's lock, or throw `running` if a live supervisor holds it. */
function acquireLock(stateDir: string): ProcessIdentity {
  const file = path.join(stateDir, LOCK_FILE);
  const me: ProcessIdentity = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return me;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: ProcessIdentity | undefined;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as ProcessIdentity;
    } catch {
      holder = undefined; // being written right now, or torn: treat as held once, then stale
    }
    if (holder && isSameProcess(holder))
      throw new SupervisorRunning(`a supervisor (pid ${holder.pid}) already runs for ${stateDir}`);
    if (!holder && attempt === 0) continue;
    try {
      unlinkSync(file);
    } catch {
      /* someone else took it over first */
    }
  }
  throw new SupervisorRunning(`could not take ${file}`);
}

function releaseLock(stateDir: string, me: ProcessIdentity): void {
  const file = path.join(stateDir, LOCK_FILE);
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as ProcessIdentity;
    if (holder.pid === me.pid && holder.startTime === me.startTime) unlinkSync(file);
  } catch {
    /* not ours, or gone */
  }
}

export class SupervisorRunning extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SupervisorRunning';
  }
}

export function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

/** The entry point's body: start, tell the parent, and shut down cleanly on signals. */
export async function runSupervisorProcess(args: SupervisorArgs): Promise<void> {
  const tell = (message: StartupMessage) => {
    if (process.send) process.send(message);
  };
  let supervisor: Supervisor;
  try {
    supervisor = await Supervisor.start(args, () => {
      if (process.connected) process.disconnect();
      process.exitCode = 0;
      // Nothing of ours is left; let the event loop drain (and exit) rather than cut writes short.
      setTimeout(() => process.exit(0), 200).unref();
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code =
      error instanceof SupervisorRunning
        ? 'running'
        : error instanceof ProviderSetupError || error instanceof ProviderError
          ? 'setup'
          : 'internal';
    log(`could not start: ${message}`);
    tell({ type: 'error', code, message });
    process.exitCode = code === 'running' ? 3 : 2;
    if (process.connected) process.disconnect();
    return;
  }
  const info = supervisor.description;
  log(
    `supervising ${info.app}/${info.env}: proxy ${info.proxyUrl}, control ${info.controlUrl}, state ${info.stateDir}, pid ${info.pid}`,
  );
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      log(`${signal}: shutting down`);
      void supervisor.shutdown({ keepMachines: false });
    });
  }
  // The parent disconnects once it has read this; the supervisor carries on without it.
  process.on('disconnect', () => {});
  tell({ type: 'ready', info });
}
