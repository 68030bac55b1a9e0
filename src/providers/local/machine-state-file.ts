// The state directory's record of each machine: one JSON file per machine (pid, process start time,
// port, release, target), written on every change, so that the next supervisor re-adopts the
// processes still running (see proc.ts) and never signals any other process.

import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Machine } from '../../domain/types.js';
import type { LocalMachineRecord, Target } from './machine-record.js';
import type { ProcessIdentity } from './proc.js';

/** One machine's state file. */
export interface SavedMachine {
  format: 'runway-local-machine/1';
  machine: Machine;
  port: number;
  target: Target;
  env?: Record<string, string>;
  command?: string;
  proc?: ProcessIdentity & { instanceVersion: string };
  failedVersion?: string;
  lastExit?: LocalMachineRecord['lastExit'];
}

/** The state file's content for a machine. */
export function savedMachine(rec: LocalMachineRecord): SavedMachine {
  const saved: SavedMachine = {
    format: 'runway-local-machine/1',
    machine: rec.machine,
    port: rec.port,
    target: rec.target,
  };
  if (rec.env) saved.env = rec.env;
  if (rec.command !== undefined) saved.command = rec.command;
  if (rec.proc)
    saved.proc = { pid: rec.proc.pid, startTime: rec.proc.startTime, instanceVersion: rec.proc.instanceVersion };
  if (rec.failedVersion !== undefined) saved.failedVersion = rec.failedVersion;
  if (rec.lastExit) saved.lastExit = rec.lastExit;
  return saved;
}

/** The machines recorded in `machinesDir`; torn or foreign files are skipped. */
export function readSavedMachines(machinesDir: string): SavedMachine[] {
  const found: SavedMachine[] = [];
  for (const file of readdirSync(machinesDir)) {
    if (!file.endsWith('.json')) continue;
    let saved: SavedMachine;
    try {
      saved = JSON.parse(readFileSync(path.join(machinesDir, file), 'utf8')) as SavedMachine;
    } catch {
      continue; // a torn write of a machine being created; nothing was started for it
    }
    if (saved.format !== 'runway-local-machine/1') continue;
    found.push(saved);
  }
  return found;
}

export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  renameSync(tmp, file);
}
