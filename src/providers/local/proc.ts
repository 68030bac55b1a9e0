// Process identity. A pid alone is not an identity: after a process exits its pid is reused. runway
// records (pid, start time) when it starts a machine and signals a pid only while both still match,
// so a restarted supervisor re-adopts its own processes and never signals one it did not start.
//
// Start time: field 22 of /proc/<pid>/stat (clock ticks since boot) on Linux; elsewhere `ps -o lstart=`.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The process's start time, or undefined when no such (live, non-zombie) process exists. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // comm (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (state === 'Z' || state === 'X') return undefined; // exited, not yet reaped
    return fields[19];
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-o', 'stat=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (!out || /\sZ\S*$/.test(out)) return undefined;
    return out.replace(/\s+\S+$/, '');
  } catch {
    return undefined;
  }
}

/** True while the process that had this identity is alive. */
export function isSameProcess(id: ProcessIdentity): boolean {
  return processStartTime(id.pid) === id.startTime;
}

/**
 * Send `signal` to the process group the identified process leads (machines run in their own group,
 * so a shell's children get it too), only if the leader is still the process runway started.
 * Returns false when it is gone (or is someone else's process now).
 */
export function signalProcessGroup(id: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(id)) return false;
  try {
    process.kill(-id.pid, signal);
    return true;
  } catch {
    try {
      process.kill(id.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * After the group's leader exited on its own: SIGKILL whatever it left behind in its group. A group id
 * is not reused while any process of the group lives, so this reaches only runway's leftovers.
 */
export function killGroupLeftovers(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* nothing left */
  }
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
