// Finding a local environment's supervisor, starting it on demand, and stopping it.
//
// `<state_dir>/supervisor.json` names the running supervisor (pid + start time, control URL, token,
// proxy URL). A command that opens the environment connects to it if that process is alive and
// answers; otherwise it starts one: `node cli/local-supervisor-main.js --config F --env E`, detached (its own
// session, so Ctrl-C in the terminal does not reach it), output to `<state_dir>/supervisor.log`, and
// waits for its first message (ready, or why not) on an IPC channel it then lets go of.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../domain/clock.js';
import { ProviderError } from '../contract.js';
import { ProviderSetupError, type SessionConfig, type SessionEnvironment } from '../session.js';
import { localAppConfig } from './app-config.js';
import { LocalClient } from './client.js';
import { isSameProcess } from './proc.js';
import { INFO_FILE, LOG_FILE, type StartupMessage } from './supervisor.js';
import type { SupervisorInfo } from './wire.js';

const START_TIMEOUT_MS = 30_000;

export interface Connection {
  client: LocalClient;
  info: SupervisorInfo;
  /** This call started the supervisor. */
  started: boolean;
}

export interface ConnectInput {
  config: SessionConfig;
  env: SessionEnvironment;
  processEnv: NodeJS.ProcessEnv;
  /** Start a supervisor when none runs (default true). */
  start?: boolean;
  /** The environment's decrypted secrets, for the processes the supervisor starts from now on. */
  secrets?: Record<string, string>;
}

export function stateDirOf(config: SessionConfig, env: SessionEnvironment): string {
  return localAppConfig(config, env).options.stateDir;
}

/** The supervisor described in `stateDir`, if that process is alive. */
export function readSupervisorInfo(stateDir: string): SupervisorInfo | undefined {
  const file = path.join(stateDir, INFO_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as SupervisorInfo;
    if (info.format !== 'runway-local-supervisor/1') return undefined;
    return isSameProcess(info) ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Connect to the environment's supervisor, starting it if needed; its config is refreshed from `config`. */
export async function connectSupervisor(input: ConnectInput): Promise<Connection | undefined> {
  const { config, env } = input;
  const app = localAppConfig(config, env);
  const stateDir = app.options.stateDir;
  let started = false;
  let info = readSupervisorInfo(stateDir);
  if (info && !(await answers(info))) info = undefined;
  if (!info) {
    if (input.start === false) return undefined;
    info = await startSupervisor(input, stateDir);
    started = true;
  }
  const client = new LocalClient(
    info.controlUrl,
    info.token,
    `local supervisor of ${info.app}/${info.env} (pid ${info.pid})`,
  );
  // What this command read from runway.toml (groups, checks, variables) applies to processes started from now on.
  await client.control('POST', 'hello', {
    processes: app.processes,
    checks: app.checks,
    vars: app.vars,
    configDir: app.configDir,
    ...(app.releaseCommand ? { releaseCommand: app.releaseCommand } : {}),
    ...(input.secrets ? { secrets: input.secrets } : {}),
  });
  return { client, info, started };
}

async function answers(info: SupervisorInfo): Promise<boolean> {
  const client = new LocalClient(info.controlUrl, info.token, 'local supervisor');
  try {
    await client.control('GET', 'info');
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

function supervisorEntry(): { entry: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  // The entry reads runway.toml, so it lives with the front ends (a path, not an import: layers hold).
  const entry = path.join(path.dirname(here), '..', '..', 'cli', `local-supervisor-main${ext}`);
  // From source (tests, `tsx`): the child needs the same TypeScript loader.
  const execArgv = ext === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];
  return { entry, execArgv };
}

async function startSupervisor(input: ConnectInput, stateDir: string): Promise<SupervisorInfo> {
  mkdirSync(stateDir, { recursive: true });
  const { entry, execArgv } = supervisorEntry();
  const logFile = path.join(stateDir, LOG_FILE);
  const out = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, ...input.processEnv, RUNWAY_LOCAL_SUPERVISOR: '1' };
  // The supervisor gets decrypted secrets from each command, never the key that decrypts them.
  delete env.RUNWAY_SECRET_KEY;
  delete env.RUNWAY_SECRET_KEY_FILE;
  let child;
  try {
    child = spawn(process.execPath, [...execArgv, entry, '--config', input.config.file, '--env', input.env.name], {
      detached: true,
      stdio: ['ignore', out, out, 'ipc'],
      env,
      cwd: input.config.dir,
    });
  } finally {
    closeSync(out);
  }
  const message = await new Promise<StartupMessage | { type: 'exit'; code: number | null }>((resolve) => {
    const timer = setTimeout(
      () =>
        resolve({
          type: 'error',
          code: 'internal',
          message: `no answer within ${START_TIMEOUT_MS / 1000} s (see ${logFile})`,
        }),
      START_TIMEOUT_MS,
    );
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as StartupMessage);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ type: 'exit', code });
    });
  });
  if (child.connected) child.disconnect();
  child.unref();
  if (message.type === 'ready') return message.info;
  if (message.type === 'error' && message.code === 'running') {
    // Another command started one at the same moment: use it.
    for (let i = 0; i < 100; i++) {
      const info = readSupervisorInfo(stateDir);
      if (info && (await answers(info))) return info;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (message.type === 'error' && message.code === 'internal' && child.exitCode === null) {
    try {
      process.kill(child.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const why = message.type === 'exit' ? `it exited with code ${message.code} (see ${logFile})` : message.message;
  throw new ProviderSetupError(`environment ${input.env.name}: could not start the local supervisor: ${why}`);
}

/**
 * Stop the environment's supervisor: every machine is destroyed (or kept running for the next
 * supervisor to re-adopt) and the proxy closes. Resolves once the supervisor process is gone.
 * Returns false when none was running.
 */
export async function stopSupervisor(
  stateDir: string,
  options: { keepMachines?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  const info = readSupervisorInfo(stateDir);
  if (!info) return false;
  const client = new LocalClient(info.controlUrl, info.token, `local supervisor of ${info.app}/${info.env}`);
  try {
    await client.control('POST', 'shutdown', { keepMachines: options.keepMachines ?? false });
  } catch (error) {
    if (!(error instanceof ProviderError && error.kind === 'unavailable')) throw error;
    // Not answering: ask it the Unix way (it still shuts down cleanly on SIGTERM).
    try {
      process.kill(info.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  } finally {
    await client.close();
  }
  const clock = new RealClock();
  const deadline = clock.now() + (options.timeoutMs ?? 60_000);
  while (isSameProcess(info)) {
    if (clock.now() > deadline)
      throw new Error(
        `local supervisor (pid ${info.pid}) did not stop within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`,
      );
    await clock.sleep(50);
  }
  return true;
}
