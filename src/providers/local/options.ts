// Settings of the `local` provider, parsed from `[environments.X.local]` (src/config/local-schema.ts).
// Every key is optional in runway.toml; `resolveLocalOptions` applies the defaults and makes paths
// absolute (relative paths are relative to runway.toml's directory).

import { availableParallelism } from 'node:os';
import path from 'node:path';

export interface LocalOptions {
  /** Port of the environment's proxy on 127.0.0.1. 0 = a free port, reused after a supervisor restart when still free. */
  proxyPort: number;
  /** First port handed to machines (PORT). 0 = ports the OS hands out. */
  basePort: number;
  /** How many ports from `basePort` machines may use (ignored when basePort is 0). */
  portCount: number;
  /** Supervisor and machine state: pids, start times, ports, releases, logs. */
  stateDir: string;
  /** Release artifacts: `<releasesDir>/<version>/runway-release.toml` (or `.json`). */
  releasesDir: string;
  /** Signal that asks a machine's process to stop; SIGKILL follows after `stopTimeoutMs`. */
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  /**
   * Longest wait for requests in flight on a machine the provider takes out of traffic itself (an
   * update in place or a stop the executor did not drain first) before it is signalled.
   */
  drainTimeoutMs: number;
  /** How long the proxy holds a request while no machine can take it (all restarting) before answering 503. */
  queueTimeoutMs: number;
  /** Process groups the proxy routes to. Default: groups with an http check, else the first group. */
  serve?: string[];
  /** Dotenv-style file (KEY=VALUE lines) of secrets given to every machine; not part of runway.toml. */
  secretsFile?: string;
  /** A machine of a group without checks passes once its process has been up this long. */
  readyAfterMs: number;
  /**
   * Machines booting at once (from spawn until the first passing check, the grace period, or exit).
   * Booting processes compete for CPU with the ones serving; default: the number of CPUs.
   */
  bootConcurrency: number;
}

/** What `[environments.X.local]` may set, as written (paths not yet resolved). */
export type LocalOptionsInput = Partial<LocalOptions>;

export const LOCAL_DEFAULTS = {
  proxyPort: 0,
  basePort: 0,
  portCount: 1000,
  releasesDir: 'releases',
  stopSignal: 'SIGTERM' as NodeJS.Signals,
  stopTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
  queueTimeoutMs: 10_000,
  readyAfterMs: 500,
};

/** Default state directory of an environment, relative to runway.toml's directory. */
export function defaultStateDir(app: string, env: string): string {
  return path.join('.runway', 'local', `${app}-${env}`);
}

export function resolveLocalOptions(
  input: LocalOptionsInput,
  where: { dir: string; app: string; env: string },
): LocalOptions {
  const abs = (p: string) => path.resolve(where.dir, p);
  const out: LocalOptions = {
    proxyPort: input.proxyPort ?? LOCAL_DEFAULTS.proxyPort,
    basePort: input.basePort ?? LOCAL_DEFAULTS.basePort,
    portCount: input.portCount ?? LOCAL_DEFAULTS.portCount,
    stateDir: abs(input.stateDir ?? defaultStateDir(where.app, where.env)),
    releasesDir: abs(input.releasesDir ?? LOCAL_DEFAULTS.releasesDir),
    stopSignal: input.stopSignal ?? LOCAL_DEFAULTS.stopSignal,
    stopTimeoutMs: input.stopTimeoutMs ?? LOCAL_DEFAULTS.stopTimeoutMs,
    drainTimeoutMs: input.drainTimeoutMs ?? LOCAL_DEFAULTS.drainTimeoutMs,
    queueTimeoutMs: input.queueTimeoutMs ?? LOCAL_DEFAULTS.queueTimeoutMs,
    readyAfterMs: input.readyAfterMs ?? LOCAL_DEFAULTS.readyAfterMs,
    bootConcurrency: input.bootConcurrency ?? Math.max(1, availableParallelism()),
  };
  if (input.serve) out.serve = [...input.serve];
  if (input.secretsFile) out.secretsFile = abs(input.secretsFile);
  return out;
}
