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
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ProviderError, type MachineEvent } from '../contract.js';
import { ProviderSetupError, type SessionConfig, type SessionEnvironment } from '../session.js';
import { localAppConfig } from './app-config.js';
import { LocalProvider, writeJsonAtomic, type LocalAppConfig } from './local-provider.js';
import { HOST } from './ports.js';
import { isSameProcess, processStartTime, type ProcessIdentity } from './proc.js';
import { controlApi } from './supervisor-api.js';
import type { SupervisorInfo } from './wire.js';

export const INFO_FILE = 'supervisor.json';
export const LOCK_FILE = 'supervisor.lock';
export const LOG_FILE = 'supervisor.log';
const OWNER_POLL_MS = 500;

export interface SupervisorArgs {
  configFile: string;
  envName: string;
  ownerPid?: number;
  /**
   * Reads runway.toml for one environment. Given by the process's entry (cli/local-supervisor-main.ts),
   * which may import config/; the provider itself does not (config composes providers, not the reverse).
   */
  load(configFile: string, envName: string): { config: SessionConfig; env: SessionEnvironment };
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
    const { config: runway, env } = args.load(args.configFile, args.envName);
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
    const app = controlApi({
      provider: this.provider,
      token: this.token,
      defaultScope: { app: this.config.app, env: this.config.env },
      seq: () => this.seq,
      info: () => this.info,
      listen: (send) => {
        this.streams.add(send);
        return () => this.streams.delete(send);
      },
      shutdown: (keepMachines) => void this.shutdown({ keepMachines }),
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: HOST }, () => resolve(s as Server)) as Server;
      s.once('error', reject);
    });
    // Waits (long polls) and event streams stay open as long as their caller wants.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30_000;
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
