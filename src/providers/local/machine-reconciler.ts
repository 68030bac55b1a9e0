// The local provider's process lifecycle, level-triggered: each operation sets where the machine
// should be (its `target` and, for an update, a new instanceVersion), emits the change, and kicks one
// reconcile loop per machine that walks the process there: drain and stop a process that runs an
// older version, spawn one for the current version, remove a destroyed machine. A process that exits
// on its own is an event at once (`failed`, waits fail fast), never a timeout. Stop = the configured
// signal to the process group, then SIGKILL after the stop timeout. At most `boot_concurrency`
// machines boot at once, so booting processes do not starve the serving ones of CPU.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { HealthState } from '../../domain/types.js';
import { checkCommand, resolveArtifact, shellCommand, type ReleaseArtifact } from './artifact.js';
import { runCheck } from './health.js';
import { machineEnv, pathEnv } from './machine-env.js';
import type { ExitInfo, Proc, LocalMachineRecord } from './machine-record.js';
import { MachineTable } from './machine-table.js';
import { isPortFree } from './ports.js';
import {
  groupAlive,
  isSameProcess,
  killGroupLeftovers,
  processStartTime,
  signalProcessGroup,
  type ProcessIdentity,
} from './proc.js';

/** How often an adopted process (not our child: no exit event) is checked for life. */
const ADOPTED_POLL_MS = 200;
/** After SIGKILL, how long to wait for the exit before giving up on a process. */
export const KILL_WAIT_MS = 5_000;

export abstract class MachineReconciler extends MachineTable {
  protected booting = 0;
  protected readonly bootQueue: (() => void)[] = [];

  // ---- reconcile ---------------------------------------------------------------------------

  protected kick(rec: LocalMachineRecord): void {
    rec.dirty = true;
    if (rec.busy || this.closed) return;
    rec.busy = true;
    void this.reconcile(rec);
  }

  protected async reconcile(rec: LocalMachineRecord): Promise<void> {
    try {
      while (rec.dirty && !this.closed) {
        rec.dirty = false;
        try {
          await this.step(rec);
        } catch (error) {
          this.fail(rec, `runway could not run it: ${(error as Error).message}`, { code: null, signal: null });
        }
      }
    } finally {
      rec.busy = false;
    }
  }

  /** One move toward the machine's target; sets `dirty` when another is needed. */
  protected async step(rec: LocalMachineRecord): Promise<void> {
    const m = rec.machine;
    const proc = rec.proc;
    if (proc && (rec.target !== 'started' || proc.instanceVersion !== m.instanceVersion)) {
      await this.stopProcess(rec, proc);
      rec.dirty = true;
      return;
    }
    if (rec.target === 'destroyed') {
      this.remove(rec);
      return;
    }
    if (rec.target === 'stopped') {
      if (m.state !== 'stopped') {
        m.state = 'stopped';
        m.health = 'unknown';
        this.changed(rec, 'state');
      }
      return;
    }
    if (proc || rec.failedVersion === m.instanceVersion) return;
    await this.spawnProcess(rec);
  }

  protected async spawnProcess(rec: LocalMachineRecord): Promise<void> {
    const m = rec.machine;
    const version = m.instanceVersion;
    let artifact: ReleaseArtifact;
    let command: string;
    let env: Record<string, string>;
    try {
      artifact = resolveArtifact(m.release, this.artifactContext());
      const found = rec.command ?? artifact.commands[m.group];
      if (!found)
        throw new Error(`release ${m.release} has no command for process group "${m.group}" (${artifact.source})`);
      command = found;
      checkCommand(command, artifact.dir, pathEnv(), `release ${m.release}: ${m.group}`);
      env = machineEnv(this.config, rec, artifact);
    } catch (error) {
      this.fail(rec, (error as Error).message, { code: null, signal: null });
      return;
    }
    if (!(await isPortFree(rec.port))) {
      const port = await this.allocatePort().catch(() => undefined);
      if (port === undefined) {
        this.fail(rec, `port ${rec.port} is in use and no other port is free`, { code: null, signal: null });
        return;
      }
      this.reservedPorts.delete(port);
      rec.port = port;
      env.PORT = String(port);
    }
    // Superseded while we looked (stopped, destroyed, updated again): start over.
    if (rec.target !== 'started' || m.instanceVersion !== version || this.closed) {
      rec.dirty = true;
      return;
    }
    delete m.exitCode;
    if (m.state !== 'starting') {
      m.state = 'starting';
      m.health = 'unknown';
      this.changed(rec, 'state');
    }
    const booted = await this.bootSlot();
    if (rec.target !== 'started' || m.instanceVersion !== version || this.closed) {
      booted();
      rec.dirty = true;
      return;
    }
    const log = openSync(this.logFile(m.id), 'a');
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', shellCommand(command)], {
        cwd: artifact.dir,
        env,
        detached: true,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    let onExit!: (info: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((resolve) => (onExit = resolve));
    const spawned = new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (error) => resolve(error));
    });
    child.once('exit', (code, signal) => onExit({ code, signal }));
    const error = await spawned;
    if (this.closed && child.pid !== undefined) {
      // Closed while it was being spawned: nothing would record it, so it must not outlive us.
      killGroupLeftovers(child.pid);
      booted();
      return;
    }
    if (error || child.pid === undefined) {
      booted();
      this.fail(rec, `could not start /bin/sh: ${error?.message ?? 'no pid'}`, { code: null, signal: null });
      return;
    }
    const proc: Proc = {
      pid: child.pid,
      startTime: processStartTime(child.pid) ?? 'exited',
      instanceVersion: version,
      child,
      exited,
      expected: false,
      stopWatch: () => {},
      booted,
    };
    rec.proc = proc;
    void exited.then(() => booted());
    void exited.then((info) => this.onExit(rec, proc, info));
    // Stopped, destroyed or updated while it was being spawned: the next step stops this process.
    if (rec.target !== 'started' || m.instanceVersion !== version || this.closed) {
      rec.dirty = true;
      return;
    }
    m.state = 'started';
    m.health = 'unknown';
    this.changed(rec, 'state');
    this.monitor(rec, proc);
  }

  /** Take the process out of traffic, let its requests finish, signal it, and SIGKILL it if it lingers. */
  protected async stopProcess(rec: LocalMachineRecord, proc: Proc): Promise<void> {
    const id = rec.machine.id;
    proc.stopping = true;
    proc.booted();
    proc.stopMonitor?.();
    this.updateRoutes();
    await this.proxy.drain(id, this.config.options.drainTimeoutMs);
    proc.expected = true;
    const signal = rec.stopOptions?.signal ?? this.config.options.stopSignal;
    const timeoutMs = rec.stopOptions?.timeoutMs ?? this.config.options.stopTimeoutMs;
    const deadline = this.clock.now() + timeoutMs;
    signalProcessGroup(proc, signal);
    if (!(await this.exitWithin(proc, timeoutMs))) {
      signalProcessGroup(proc, 'SIGKILL');
      if (!(await this.exitWithin(proc, KILL_WAIT_MS))) {
        // Unkillable (D state?): forget it rather than hang the machine forever.
        proc.stopWatch();
        if (rec.proc === proc) rec.proc = undefined;
      }
    }
    // The leader is gone; the rest of its group (a shell's children) gets the same stop timeout.
    while (groupAlive(proc.pid) && this.clock.now() < deadline) await this.clock.sleep(50);
    killGroupLeftovers(proc.pid);
    if (rec.proc === proc) rec.proc = undefined;
  }

  protected async exitWithin(proc: Proc, ms: number): Promise<boolean> {
    const timer = new AbortController();
    const result = await Promise.race([
      proc.exited.then(() => true),
      this.clock.sleep(ms, timer.signal).then(
        () => false,
        () => false,
      ),
    ]);
    timer.abort();
    return result;
  }

  protected onExit(rec: LocalMachineRecord, proc: Proc, info: ExitInfo): void {
    // Closed: the processes and their state files belong to the next supervisor now.
    if (this.closed) return;
    proc.stopWatch();
    proc.stopMonitor?.();
    // Exited on its own: whatever it left in its group is garbage. During a stop, stopProcess waits for it.
    if (!proc.stopping) killGroupLeftovers(proc.pid);
    this.proxy.forget(rec.machine.id);
    if (rec.proc !== proc) return;
    rec.proc = undefined;
    const m = rec.machine;
    if (proc.expected || rec.target !== 'started' || proc.instanceVersion !== m.instanceVersion || this.closed) {
      // A stop we asked for, or one that was under way: the reconcile loop takes it from here.
      this.save(rec);
      this.kick(rec);
      return;
    }
    if (info.code !== null) m.exitCode = info.code;
    if (m.role === 'release-command' && info.code === 0) {
      // A release command ran and succeeded: the machine destroys itself (Fly: auto_destroy).
      m.state = 'stopped';
      this.changed(rec, 'state');
      rec.target = 'destroyed';
      this.kick(rec);
      return;
    }
    const how = info.signal
      ? `was killed by ${info.signal}`
      : info.code === null
        ? 'exited'
        : `exited with code ${info.code}`;
    const tail = logTail(this.logFile(m.id));
    this.fail(rec, `${how}${tail ? `; last output: ${tail}` : ''}`, info);
  }

  /** The machine's process is gone on its own (or could not start): `failed`, which waits fail fast on. */
  protected fail(rec: LocalMachineRecord, message: string, info: ExitInfo): void {
    const m = rec.machine;
    rec.failedVersion = m.instanceVersion;
    rec.lastExit = { ...info, atMs: this.clock.now(), message };
    if (rec.target !== 'started') {
      this.kick(rec);
      return;
    }
    m.state = 'failed';
    m.health = 'critical';
    this.changed(rec, 'state');
  }

  /** Health: checks every interval from the start; failures within the grace period leave it unknown. */
  protected monitor(rec: LocalMachineRecord, proc: Proc): void {
    const m = rec.machine;
    const checks = m.role === 'release-command' ? [] : this.checksFor(m.group);
    const startedAt = this.clock.now();
    const stop = new AbortController();
    proc.stopMonitor = () => stop.abort();
    const current = () => !stop.signal.aborted && rec.proc === proc && m.state === 'started' && !this.closed;
    if (m.role === 'release-command') {
      proc.booted();
      return;
    }
    if (checks.length === 0) {
      void this.clock.sleep(this.config.options.readyAfterMs, stop.signal).then(
        () => {
          proc.booted();
          if (current()) this.setHealth(rec, 'passing');
        },
        () => proc.booted(),
      );
      return;
    }
    const grace = Math.max(...checks.map((c) => c.gracePeriodMs));
    const interval = Math.min(...checks.map((c) => c.intervalMs));
    let lastPassed: boolean | undefined;
    // Booted: once it passes, or once its grace period is over (a release that never passes must not
    // hold the slot). Checks that have failed until then make it critical right then.
    void this.clock.sleep(grace, stop.signal).then(
      () => {
        proc.booted();
        if (current() && lastPassed === false && m.health === 'unknown') this.setHealth(rec, 'critical');
      },
      () => proc.booted(),
    );
    const loop = async () => {
      while (current()) {
        const results = await Promise.all(checks.map((c) => runCheck(c, rec.port)));
        if (!current()) return;
        lastPassed = results.every(Boolean);
        if (lastPassed) {
          proc.booted();
          this.setHealth(rec, 'passing');
        } else if (m.health === 'passing' || this.clock.now() - startedAt >= grace) this.setHealth(rec, 'critical');
        await this.clock.sleep(interval, stop.signal).catch(() => {});
      }
    };
    void loop();
  }

  protected setHealth(rec: LocalMachineRecord, health: HealthState): void {
    if (rec.machine.health === health) return;
    rec.machine.health = health;
    this.changed(rec, 'health');
  }

  /** Wait for one of `bootConcurrency` boot slots; returns the (idempotent) release. */
  protected async bootSlot(): Promise<() => void> {
    if (this.booting < this.config.options.bootConcurrency || this.closed) this.booting++;
    // Full: wait until a release hands its slot over (the count stays as it is).
    else await new Promise<void>((resolve) => this.bootQueue.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.bootQueue.shift();
      if (next) next();
      else this.booting--;
    };
  }

  protected watchAdopted(rec: LocalMachineRecord, id: ProcessIdentity & { instanceVersion: string }): Proc {
    let onExit!: (info: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((resolve) => (onExit = resolve));
    const timer = setInterval(() => {
      if (!isSameProcess(id)) {
        clearInterval(timer);
        onExit({ code: null, signal: null });
      }
    }, ADOPTED_POLL_MS);
    const proc: Proc = { ...id, exited, expected: false, stopWatch: () => clearInterval(timer), booted: () => {} };
    void exited.then((info) => this.onExit(rec, proc, info));
    return proc;
  }
}

/** The last few lines of a log, on one line, for an error message. */
function logTail(file: string, maxChars = 300): string {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 2048);
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-3)
      .join(' | ');
    return lines.length > maxChars ? `…${lines.slice(-maxChars)}` : lines;
  } catch {
    return '';
  }
}
