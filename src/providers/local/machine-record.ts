// A machine of the local provider as the provider holds it: the machine, its port and target, and
// its process (ours, or one adopted from an earlier supervisor).

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { CheckConfig, ReleaseCommandConfig } from '../../domain/types.js';
import type { Machine, ProcessGroup } from '../../domain/types.js';
import type { LocalOptions } from './options.js';
import type { ProcessIdentity } from './proc.js';

/** What the provider runs: the app's groups and checks, the environment's variables, and its options. */
export interface LocalAppConfig {
  app: string;
  env: string;
  /** runway.toml's directory ("command + version" releases run there). */
  configDir: string;
  processes: ProcessGroup[];
  checks: CheckConfig[];
  /** Effective variables of the environment (every layer applied). */
  vars: Record<string, string>;
  releaseCommand?: ReleaseCommandConfig;
  /** The environment's secrets from the store (decrypted by the command that connected); memory only. */
  secrets?: Record<string, string>;
  options: LocalOptions;
}

export type Target = 'started' | 'stopped' | 'destroyed';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface Proc extends ProcessIdentity {
  instanceVersion: string;
  /** Our child (exit events), or undefined for a process adopted from an earlier supervisor (polled). */
  child?: ChildProcess;
  exited: Promise<ExitInfo>;
  /** We asked it to stop: its exit is not a failure. */
  expected: boolean;
  /** stopProcess is under way: it, not onExit, deals with what the group leaves behind. */
  stopping?: boolean;
  stopWatch: () => void;
  stopMonitor?: () => void;
  /** Gives back its boot slot (once booted, failed or stopped); idempotent. */
  booted: () => void;
}

export interface LocalMachineRecord {
  machine: Machine;
  port: number;
  target: Target;
  env?: Record<string, string>;
  command?: string;
  proc?: Proc;
  /** The instanceVersion whose process failed: not started again until start() or update(). */
  failedVersion?: string;
  lastExit?: ExitInfo & { atMs: number; message: string };
  stopOptions?: { signal?: NodeJS.Signals; timeoutMs?: number };
  busy: boolean;
  dirty: boolean;
}

export interface MachineProcessInfo {
  id: string;
  group: string;
  release: string;
  port: number;
  pid?: number;
  startTime?: string;
  log: string;
}

export function newVersion(): string {
  return `iv-${randomBytes(5).toString('hex')}`;
}
