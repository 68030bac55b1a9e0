// The `local` provider: every machine is a real OS process on this host running its release's command
// for its process group, with its own port (PORT) and environment, behind runway's proxy (proxy.ts).
// It runs inside the environment's supervisor (supervisor.ts), which owns the processes and the proxy
// so both outlive a CLI run; tests and benchmarks may also run it in-process.
//
// Lifecycle of a machine, level-triggered: each operation sets where the machine should be (its
// `target` and, for an update, a new instanceVersion), emits the change, and kicks one reconcile loop
// per machine that walks the process there: drain and stop a process that runs an older version,
// spawn one for the current version, remove a destroyed machine. A process that exits on its own is an
// event at once (`failed`, waits fail fast), never a timeout. Stop = the configured signal to the
// process group, then SIGKILL after the stop timeout.
//
// The proxy runs in a worker thread (proxy-host.ts): a call that changes routing (cordon, uncordon,
// update, stop, destroy) returns once the proxy routes by the change. At most `boot_concurrency`
// machines boot at once, so booting processes do not starve the serving ones of CPU.
//
// State lives in the state directory, one JSON file per machine (pid, process start time, port,
// release, target), written on every change. `LocalProvider.open` re-adopts the processes recorded
// there when pid and start time still match (see proc.ts) and never signals any other process.

import type { TrafficSnapshot } from '../../domain/traffic.js';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, statSync, readSync } from 'node:fs';
import path from 'node:path';
import type { CheckConfig, ReleaseCommandConfig } from '../../config/types.js';
import { RealClock, type Clock } from '../../domain/clock.js';
import type { FleetScope, HealthState, Machine, MachineRole, ProcessGroup } from '../../domain/types.js';
import {
  meets,
  ProviderError,
  type CallOptions,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
  type StopOptions,
  type WaitCondition,
} from '../contract.js';
import { ProviderSetupError } from '../session.js';
import { checkArtifact, checkCommand, parseEnvFile, resolveArtifact, shellCommand, type ArtifactContext, type ReleaseArtifact } from './artifact.js';
import { runCheck } from './health.js';
import type { LocalOptions } from './options.js';
import { isPortFree, pickPort } from './ports.js';
import { groupAlive, isSameProcess, killGroupLeftovers, processStartTime, signalProcessGroup, type ProcessIdentity } from './proc.js';
import { ProxyHost, ProxyListenError } from './proxy-host.js';

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

/** How often an adopted process (not our child: no exit event) is checked for life. */
const ADOPTED_POLL_MS = 200;
/** After SIGKILL, how long to wait for the exit before giving up on a process. */
const KILL_WAIT_MS = 5_000;
const TOMBSTONES_KEPT = 10_000;
/** Variables of runway's own processes that a machine must not inherit. */
export const PRIVATE_ENV = ['RUNWAY_LOCAL_OWNER_PID', 'RUNWAY_LOCAL_SUPERVISOR', 'RUNWAY_SECRET_KEY', 'RUNWAY_SECRET_KEY_FILE', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS'];

type Target = 'started' | 'stopped' | 'destroyed';

interface ExitInfo {
  code: number | null;
  signal: string | null;
}

interface Proc extends ProcessIdentity {
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

interface Rec {
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

/** One machine's state file. */
interface SavedMachine {
  format: 'runway-local-machine/1';
  machine: Machine;
  port: number;
  target: Target;
  env?: Record<string, string>;
  command?: string;
  proc?: ProcessIdentity & { instanceVersion: string };
  failedVersion?: string;
  lastExit?: Rec['lastExit'];
}

interface Waiter {
  check(rec: Rec | undefined): void;
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

export class LocalProvider implements Provider {
  readonly name = 'local';
  readonly proxy: ProxyHost;
  private config: LocalAppConfig;
  private readonly clock: Clock;
  private readonly recs = new Map<string, Rec>();
  private readonly byLaunch = new Map<string, string>();
  private readonly creating = new Map<string, Promise<Machine>>();
  private readonly tombstones = new Map<string, Machine>();
  private readonly listeners = new Set<(event: MachineEvent) => void>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly reservedPorts = new Set<number>();
  private booting = 0;
  private readonly bootQueue: (() => void)[] = [];
  private closed = false;

  private constructor(config: LocalAppConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.proxy = new ProxyHost({ queueTimeoutMs: config.options.queueTimeoutMs });
  }

  /**
   * Bind the proxy (an error if its port is taken: nothing else has happened yet), then re-adopt the
   * machines recorded in the state directory.
   */
  static async open(config: LocalAppConfig, clock: Clock = new RealClock()): Promise<LocalProvider> {
    const provider = new LocalProvider(config, clock);
    mkdirSync(provider.machinesDir, { recursive: true });
    mkdirSync(provider.logsDir, { recursive: true });
    await provider.bindProxy();
    provider.adoptAll();
    return provider;
  }

  // ---- paths and settings ------------------------------------------------------------------

  get stateDir(): string {
    return this.config.options.stateDir;
  }

  private get machinesDir(): string {
    return path.join(this.stateDir, 'machines');
  }

  private get logsDir(): string {
    return path.join(this.stateDir, 'logs');
  }

  logFile(id: string): string {
    return path.join(this.logsDir, `${id}.log`);
  }

  get scope(): FleetScope {
    return { app: this.config.app, env: this.config.env };
  }

  get proxyUrl(): string {
    return this.proxy.url;
  }

  /** New groups, checks, variables (the config file changed); applied to processes started from now on. */
  reconfigure(update: Pick<LocalAppConfig, 'processes' | 'checks' | 'vars' | 'releaseCommand' | 'configDir' | 'secrets'>): void {
    this.config = { ...this.config, ...update };
    this.updateRoutes();
  }

  private artifactContext(): ArtifactContext {
    return { releasesDir: this.config.options.releasesDir, configDir: this.config.configDir, processes: this.config.processes };
  }

  /** Groups the proxy routes to: `serve`, else groups with an http check, else the first group. */
  private servedGroups(): Set<string> {
    const { serve } = this.config.options;
    if (serve) return new Set(serve);
    const names = this.config.processes.map((p) => p.name);
    const withHttp = new Set<string>();
    for (const c of this.config.checks) {
      if (c.type !== 'http') continue;
      if (c.group === undefined) names.forEach((n) => withHttp.add(n));
      else withHttp.add(c.group);
    }
    if (withHttp.size > 0) return withHttp;
    return new Set(names.slice(0, 1));
  }

  private checksFor(group: string): CheckConfig[] {
    return this.config.checks.filter((c) => c.group === undefined || c.group === group);
  }

  // ---- the Provider contract ---------------------------------------------------------------

  async list(scope: FleetScope): Promise<Machine[]> {
    if (!this.inScope(scope)) return [];
    return [...this.recs.values()].map((r) => ({ ...r.machine }));
  }

  async get(scope: FleetScope, id: string): Promise<Machine> {
    return { ...this.require(scope, id).machine };
  }

  create(scope: FleetScope, spec: MachineSpec): Promise<Machine> {
    this.open_();
    if (!this.inScope(scope)) return Promise.reject(this.wrongScope(scope));
    const existing = this.byLaunch.get(spec.launchId);
    if (existing && this.recs.has(existing)) return Promise.resolve({ ...this.recs.get(existing)!.machine });
    // Two creates with one launch id at once share the first one's answer.
    const pending = this.creating.get(spec.launchId);
    if (pending) return pending;
    const made = this.createNew(spec).finally(() => this.creating.delete(spec.launchId));
    this.creating.set(spec.launchId, made);
    return made;
  }

  private async createNew(spec: MachineSpec): Promise<Machine> {
    // A release that cannot run here is refused before any machine exists.
    this.check(spec.release, spec.group, spec.command);
    const port = await this.allocatePort();
    const now = this.clock.now();
    const id = this.newId(spec.group);
    const machine: Machine = {
      id,
      app: this.config.app,
      env: this.config.env,
      group: spec.group,
      release: spec.release,
      instanceVersion: newVersion(),
      role: spec.role,
      state: 'created',
      health: 'unknown',
      cordoned: spec.cordoned,
      launchId: spec.launchId,
      createdAtMs: now,
      updatedAtMs: now,
    };
    if (spec.deployId !== undefined) machine.deployId = spec.deployId;
    const rec: Rec = { machine, port, target: 'started', busy: false, dirty: false };
    if (spec.env) rec.env = { ...spec.env };
    if (spec.command !== undefined) rec.command = spec.command;
    this.reservedPorts.delete(port);
    this.recs.set(id, rec);
    this.byLaunch.set(spec.launchId, id);
    const snapshot = this.changed(rec, 'created');
    this.kick(rec);
    return snapshot;
  }

  async update(scope: FleetScope, id: string, update: MachineUpdate): Promise<Machine> {
    const rec = this.mutable(scope, id, 'update');
    const m = rec.machine;
    this.check(update.release, m.group, rec.command);
    m.release = update.release;
    m.instanceVersion = newVersion();
    if (update.role !== undefined) m.role = update.role;
    if (update.deployId !== undefined) m.deployId = update.deployId;
    rec.target = 'started';
    rec.failedVersion = undefined;
    rec.stopOptions = undefined;
    m.state = rec.proc ? 'stopping' : 'starting';
    m.health = 'unknown';
    const snapshot = this.changed(rec, 'updated');
    this.kick(rec);
    await this.proxy.synced();
    return snapshot;
  }

  async start(scope: FleetScope, id: string): Promise<Machine> {
    const rec = this.mutable(scope, id, 'start');
    const m = rec.machine;
    if (rec.target === 'started' && m.state !== 'stopped' && m.state !== 'failed') return { ...m };
    rec.target = 'started';
    rec.failedVersion = undefined;
    m.state = 'starting';
    m.health = 'unknown';
    const snapshot = this.changed(rec, 'state');
    this.kick(rec);
    return snapshot;
  }

  async stop(scope: FleetScope, id: string, options: StopOptions = {}): Promise<Machine> {
    const rec = this.mutable(scope, id, 'stop');
    const m = rec.machine;
    const stopOptions: Rec['stopOptions'] = {};
    if (options.killSignal) stopOptions.signal = options.killSignal as NodeJS.Signals;
    if (options.timeoutMs !== undefined) stopOptions.timeoutMs = options.timeoutMs;
    rec.stopOptions = stopOptions;
    const already = rec.target === 'stopped';
    rec.target = 'stopped';
    if (m.state === 'stopped' || (already && m.state === 'stopping')) return { ...m };
    // No process and none being started: stopped at once. Otherwise the reconcile loop stops it.
    if (!rec.proc && !rec.busy) {
      m.state = 'stopped';
      m.health = 'unknown';
      const snapshot = this.changed(rec, 'state');
      this.kick(rec);
      return snapshot;
    }
    m.state = 'stopping';
    m.health = 'unknown';
    const snapshot = this.changed(rec, 'state');
    this.kick(rec);
    await this.proxy.synced();
    return snapshot;
  }

  async destroy(scope: FleetScope, id: string): Promise<void> {
    const rec = this.require(scope, id);
    if (rec.target === 'destroyed') return;
    rec.target = 'destroyed';
    rec.machine.state = 'destroying';
    rec.machine.health = 'unknown';
    this.changed(rec, 'state');
    this.kick(rec);
    await this.proxy.synced();
  }

  async cordon(scope: FleetScope, id: string): Promise<Machine> {
    const rec = this.mutable(scope, id, 'cordon');
    if (rec.machine.cordoned) return { ...rec.machine };
    rec.machine.cordoned = true;
    const snapshot = this.changed(rec, 'cordon');
    // Returns once the proxy routes without it: no new request reaches the machine after this.
    await this.proxy.synced();
    return snapshot;
  }

  async uncordon(scope: FleetScope, id: string, role?: MachineRole): Promise<Machine> {
    const rec = this.mutable(scope, id, 'uncordon');
    const m = rec.machine;
    if (!m.cordoned && (role === undefined || m.role === role)) return { ...m };
    m.cordoned = false;
    if (role !== undefined) m.role = role;
    const snapshot = this.changed(rec, 'cordon');
    await this.proxy.synced();
    return snapshot;
  }

  /**
   * Judged on every change of the machine (no polling of our own children): resolves when it meets
   * the condition; rejects with machine_failed when its process exited, or it stopped while a start
   * is awaited; not_found when it is or becomes gone (unless waiting for destroyed).
   */
  waitFor(scope: FleetScope, id: string, condition: WaitCondition, timeoutMs: number, signal?: AbortSignal): Promise<Machine> {
    return new Promise<Machine>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const first = this.verdict(scope, id, this.inScope(scope) ? this.recs.get(id) : undefined, condition);
      if (first) return 'machine' in first ? resolve(first.machine) : reject(first.error);
      const timer = new AbortController();
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const finish = () => {
        const current = this.waiters.get(id);
        current?.delete(waiter);
        if (current?.size === 0) this.waiters.delete(id);
        timer.abort();
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        check: (rec) => {
          const verdict = this.verdict(scope, id, rec, condition);
          if (!verdict) return;
          finish();
          if ('machine' in verdict) resolve(verdict.machine);
          else reject(verdict.error);
        },
      };
      const onAbort = () => {
        finish();
        reject(signal!.reason ?? new Error('aborted'));
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.clock.sleep(Math.max(0, timeoutMs), timer.signal).then(
        () => {
          finish();
          const m = this.recs.get(id)?.machine;
          const seen = m ? `; it is ${m.state}/${m.health} on ${m.release} (${m.instanceVersion})` : '';
          reject(new ProviderError('wait_timeout', `machine ${id} did not reach ${describe(condition)} within ${timeoutMs} ms${seen}`, { machineId: id, op: 'wait' }));
        },
        () => {},
      );
    });
  }

  /** Requests the proxy answered per machine of the scope, since it started (analysis' proxy source). */
  async traffic(scope: FleetScope): Promise<TrafficSnapshot> {
    const atMs = this.clock.now();
    if (!this.inScope(scope)) return { atMs, byMachine: {} };
    return { atMs, byMachine: await this.proxy.traffic() };
  }

  /** Requests in flight on the machine, counted by the proxy, finish (at most `timeoutMs`). */
  async drain(scope: FleetScope, id: string, timeoutMs: number): Promise<void> {
    if (!this.inScope(scope)) return;
    await this.proxy.drain(id, timeoutMs);
  }

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    if (!this.inScope(scope)) return () => {};
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The machine's output (all its processes, oldest first; the last `maxLines`), also after it is destroyed. */
  async logs(scope: FleetScope, id: string, maxLines = 200): Promise<string[]> {
    if (!this.inScope(scope) || (!this.recs.has(id) && !this.tombstones.has(id))) {
      throw new ProviderError('not_found', `machine ${id} not found in ${scope.app}/${scope.env}`, { status: 404, machineId: id });
    }
    try {
      const lines = readFileSync(this.logFile(id), 'utf8').split('\n');
      if (lines.at(-1) === '') lines.pop();
      return lines.slice(-maxLines);
    } catch {
      return [];
    }
  }

  /** Refuse (bad_request) a release this provider cannot run, before any machine changes. */
  async checkRelease(scope: FleetScope, release: string, _options?: CallOptions): Promise<void> {
    if (!this.inScope(scope)) throw this.wrongScope(scope);
    const groups = this.config.processes.filter((g) => g.count > 0).map((g) => g.name);
    const extra = this.config.releaseCommand ? [this.config.releaseCommand.command] : [];
    checkArtifact(release, this.artifactContext(), groups, extra, this.pathEnv());
    this.secrets();
  }

  /**
   * Stop watching: the proxy closes, monitors stop, processes keep running and stay recorded, so the
   * next `open` re-adopts them. `shutdown` stops them first.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.bootQueue.splice(0)) wake();
    for (const rec of this.recs.values()) {
      rec.proc?.stopWatch();
      rec.proc?.stopMonitor?.();
    }
    for (const [id, set] of [...this.waiters]) {
      for (const w of [...set]) w.check(undefined);
      this.waiters.delete(id);
    }
    await this.proxy.close();
  }

  /** Destroy every machine (drain, signal, SIGKILL after the stop timeout), then close. */
  async shutdown(): Promise<void> {
    const scope = this.scope;
    await Promise.all(
      [...this.recs.values()].map(async (rec) => {
        await this.destroy(scope, rec.machine.id).catch(() => {});
        await this.waitFor(scope, rec.machine.id, { state: 'destroyed' }, this.config.options.stopTimeoutMs + this.config.options.drainTimeoutMs + KILL_WAIT_MS + 1000).catch(() => {});
      }),
    );
    await this.close();
  }

  /** Every machine's process, port and log (status output, tests). */
  processes(): MachineProcessInfo[] {
    return [...this.recs.values()].map((r) => {
      const info: MachineProcessInfo = { id: r.machine.id, group: r.machine.group, release: r.machine.release, port: r.port, log: this.logFile(r.machine.id) };
      if (r.proc) {
        info.pid = r.proc.pid;
        info.startTime = r.proc.startTime;
      }
      return info;
    });
  }

  // ---- reconcile ---------------------------------------------------------------------------

  private kick(rec: Rec): void {
    rec.dirty = true;
    if (rec.busy || this.closed) return;
    rec.busy = true;
    void this.reconcile(rec);
  }

  private async reconcile(rec: Rec): Promise<void> {
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
  private async step(rec: Rec): Promise<void> {
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

  private async spawnProcess(rec: Rec): Promise<void> {
    const m = rec.machine;
    const version = m.instanceVersion;
    let artifact: ReleaseArtifact;
    let command: string;
    let env: Record<string, string>;
    try {
      artifact = resolveArtifact(m.release, this.artifactContext());
      const found = rec.command ?? artifact.commands[m.group];
      if (!found) throw new Error(`release ${m.release} has no command for process group "${m.group}" (${artifact.source})`);
      command = found;
      checkCommand(command, artifact.dir, this.pathEnv(), `release ${m.release}: ${m.group}`);
      env = this.machineEnv(rec, artifact);
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
      child = spawn('/bin/sh', ['-c', shellCommand(command)], { cwd: artifact.dir, env, detached: true, stdio: ['ignore', log, log] });
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
  private async stopProcess(rec: Rec, proc: Proc): Promise<void> {
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

  private async exitWithin(proc: Proc, ms: number): Promise<boolean> {
    const timer = new AbortController();
    const result = await Promise.race([proc.exited.then(() => true), this.clock.sleep(ms, timer.signal).then(() => false, () => false)]);
    timer.abort();
    return result;
  }

  private onExit(rec: Rec, proc: Proc, info: ExitInfo): void {
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
    const how = info.signal ? `was killed by ${info.signal}` : info.code === null ? 'exited' : `exited with code ${info.code}`;
    const tail = logTail(this.logFile(m.id));
    this.fail(rec, `${how}${tail ? `; last output: ${tail}` : ''}`, info);
  }

  /** The machine's process is gone on its own (or could not start): `failed`, which waits fail fast on. */
  private fail(rec: Rec, message: string, info: ExitInfo): void {
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
  private monitor(rec: Rec, proc: Proc): void {
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

  private setHealth(rec: Rec, health: HealthState): void {
    if (rec.machine.health === health) return;
    rec.machine.health = health;
    this.changed(rec, 'health');
  }

  /** Wait for one of `bootConcurrency` boot slots; returns the (idempotent) release. */
  private async bootSlot(): Promise<() => void> {
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

  // ---- adoption ----------------------------------------------------------------------------

  private async bindProxy(): Promise<void> {
    const fleetFile = path.join(this.stateDir, 'fleet.json');
    const configured = this.config.options.proxyPort;
    let port = configured;
    if (port === 0 && existsSync(fleetFile)) {
      // Keep the URL a previous supervisor printed, if the port is still free.
      const last = (JSON.parse(readFileSync(fleetFile, 'utf8')) as { proxyPort?: number }).proxyPort;
      if (last && (await isPortFree(last))) port = last;
    }
    try {
      await this.proxy.listen(port);
    } catch (error) {
      const code = error instanceof ProxyListenError ? error.code : '';
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        await this.proxy.close();
        throw new ProviderSetupError(
          `environment ${this.config.env}: proxy port ${port} on 127.0.0.1 is ${code === 'EADDRINUSE' ? 'in use by another process' : 'not allowed'}; ` +
            `set [environments.${this.config.env}.local] proxy_port to a free port (or 0 for any); no machine was changed`,
        );
      }
      throw error;
    }
    writeJsonAtomic(fleetFile, { proxyPort: this.proxy.port });
  }

  /** Re-adopt recorded machines whose processes still run; note the ones that died unwatched. */
  private adoptAll(): void {
    for (const file of readdirSync(this.machinesDir)) {
      if (!file.endsWith('.json')) continue;
      let saved: SavedMachine;
      try {
        saved = JSON.parse(readFileSync(path.join(this.machinesDir, file), 'utf8')) as SavedMachine;
      } catch {
        continue; // a torn write of a machine being created; nothing was started for it
      }
      if (saved.format !== 'runway-local-machine/1') continue;
      this.adopt(saved);
    }
    this.updateRoutes();
  }

  private adopt(saved: SavedMachine): void {
    const m = saved.machine;
    const rec: Rec = { machine: m, port: saved.port, target: saved.target, busy: false, dirty: false };
    if (saved.env) rec.env = saved.env;
    if (saved.command !== undefined) rec.command = saved.command;
    if (saved.failedVersion !== undefined) rec.failedVersion = saved.failedVersion;
    if (saved.lastExit) rec.lastExit = saved.lastExit;
    this.recs.set(m.id, rec);
    if (m.launchId) this.byLaunch.set(m.launchId, m.id);
    const alive = saved.proc && isSameProcess(saved.proc);
    if (saved.proc && alive) {
      const proc = this.watchAdopted(rec, saved.proc);
      rec.proc = proc;
      if (m.state === 'started') this.monitor(rec, proc);
      if (rec.target !== 'started' || proc.instanceVersion !== m.instanceVersion) this.kick(rec);
      return;
    }
    // Not running (or the pid now belongs to another process, which is never touched).
    if (rec.target === 'started' && saved.proc && saved.proc.instanceVersion === m.instanceVersion && (m.state === 'started' || m.state === 'starting')) {
      rec.failedVersion = m.instanceVersion;
      rec.lastExit = { code: null, signal: null, atMs: this.clock.now(), message: 'exited while no supervisor was watching it' };
      m.state = 'failed';
      m.health = 'critical';
      this.save(rec);
      return;
    }
    if (rec.target === 'started' && m.state !== 'failed' && rec.failedVersion !== m.instanceVersion) {
      m.state = 'starting';
      m.health = 'unknown';
    }
    this.kick(rec);
  }

  private watchAdopted(rec: Rec, id: ProcessIdentity & { instanceVersion: string }): Proc {
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

  // ---- bookkeeping -------------------------------------------------------------------------

  private remove(rec: Rec): void {
    const m = rec.machine;
    this.recs.delete(m.id);
    if (m.launchId !== undefined && this.byLaunch.get(m.launchId) === m.id) this.byLaunch.delete(m.launchId);
    this.proxy.forget(m.id);
    try {
      unlinkSync(this.machineFile(m.id));
    } catch {
      /* already gone */
    }
    m.state = 'destroyed';
    m.health = 'unknown';
    m.updatedAtMs = this.clock.now();
    this.tombstones.set(m.id, { ...m });
    if (this.tombstones.size > TOMBSTONES_KEPT) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.emit(rec, 'destroyed', undefined);
  }

  /** Stamp, persist, re-route, and tell listeners and waiters. Returns a copy. */
  private changed(rec: Rec, type: MachineEvent['type']): Machine {
    rec.machine.updatedAtMs = this.clock.now();
    this.save(rec);
    return this.emit(rec, type, rec);
  }

  private emit(rec: Rec, type: MachineEvent['type'], alive: Rec | undefined): Machine {
    const m = rec.machine;
    this.updateRoutes();
    const snapshot = { ...m };
    for (const listener of [...this.listeners]) {
      try {
        listener({ type, machine: { ...m }, atMs: m.updatedAtMs });
      } catch {
        /* a listener must not break the fleet */
      }
    }
    const waiters = this.waiters.get(m.id);
    if (waiters) for (const w of [...waiters]) w.check(alive);
    return snapshot;
  }

  private updateRoutes(): void {
    if (this.closed) return;
    const served = this.servedGroups();
    const backends = [];
    for (const r of this.recs.values()) {
      const m = r.machine;
      if (served.has(m.group) && !m.cordoned && m.role !== 'release-command' && m.state === 'started' && m.health === 'passing' && r.proc) {
        backends.push({ id: m.id, port: r.port, release: m.release });
      }
    }
    this.proxy.setBackends(backends);
  }

  private save(rec: Rec): void {
    if (this.closed) return;
    const saved: SavedMachine = { format: 'runway-local-machine/1', machine: rec.machine, port: rec.port, target: rec.target };
    if (rec.env) saved.env = rec.env;
    if (rec.command !== undefined) saved.command = rec.command;
    if (rec.proc) saved.proc = { pid: rec.proc.pid, startTime: rec.proc.startTime, instanceVersion: rec.proc.instanceVersion };
    if (rec.failedVersion !== undefined) saved.failedVersion = rec.failedVersion;
    if (rec.lastExit) saved.lastExit = rec.lastExit;
    if (!this.recs.has(rec.machine.id)) return;
    writeJsonAtomic(this.machineFile(rec.machine.id), saved);
  }

  private machineFile(id: string): string {
    return path.join(this.machinesDir, `${id}.json`);
  }

  private verdict(scope: FleetScope, id: string, rec: Rec | undefined, condition: WaitCondition): { machine: Machine } | { error: ProviderError } | undefined {
    if (this.closed) return { error: new ProviderError('unavailable', 'local provider is closed', { machineId: id, op: 'wait' }) };
    if (!rec || !this.inScope(scope)) {
      const tomb = this.tombstones.get(id);
      if (condition.state === 'destroyed' && tomb && this.inScope(scope)) return { machine: { ...tomb } };
      return { error: new ProviderError('not_found', `machine ${id} not found in ${scope.app}/${scope.env} (destroyed)`, { status: 404, machineId: id, op: 'wait' }) };
    }
    const m = rec.machine;
    if (meets(m, condition)) return { machine: { ...m } };
    if (m.state === 'failed') {
      const why = rec.lastExit?.message ? `: ${rec.lastExit.message}` : '';
      return { error: new ProviderError('machine_failed', `machine ${id} (${m.group}) failed on ${m.release} (${m.instanceVersion})${why}`, { machineId: id, op: 'wait' }) };
    }
    if (condition.state === 'started' && m.state === 'stopped') {
      return { error: new ProviderError('machine_failed', `machine ${id} is stopped while waiting for it to start`, { machineId: id, op: 'wait' }) };
    }
    return undefined;
  }

  private require(scope: FleetScope, id: string): Rec {
    this.open_();
    const rec = this.inScope(scope) ? this.recs.get(id) : undefined;
    if (!rec) throw new ProviderError('not_found', `machine ${id} not found in ${scope.app}/${scope.env}`, { status: 404, machineId: id });
    return rec;
  }

  private mutable(scope: FleetScope, id: string, op: 'update' | 'start' | 'stop' | 'cordon' | 'uncordon'): Rec {
    const rec = this.require(scope, id);
    if (rec.target === 'destroyed') throw new ProviderError('conflict', `machine ${id} is being destroyed`, { status: 409, machineId: id, op });
    return rec;
  }

  private open_(): void {
    if (this.closed) throw new ProviderError('unavailable', 'local provider is closed');
  }

  private inScope(scope: FleetScope): boolean {
    return scope.app === this.config.app && scope.env === this.config.env;
  }

  private wrongScope(scope: FleetScope): ProviderError {
    return new ProviderError('bad_request', `this local provider runs ${this.config.app}/${this.config.env}, not ${scope.app}/${scope.env}`, { status: 400 });
  }

  /** Throw bad_request if `release` cannot run `group` (or `command`) here. Nothing has changed yet. */
  private check(release: string, group: string, command?: string): void {
    if (command !== undefined) {
      const artifact = resolveArtifact(release, this.artifactContext());
      checkCommand(command, artifact.dir, this.pathEnv(), `release ${release}: ${group}`);
    } else {
      checkArtifact(release, this.artifactContext(), [group], [], this.pathEnv());
    }
    this.secrets();
  }

  private async allocatePort(): Promise<number> {
    const taken = new Set<number>(this.reservedPorts);
    for (const r of this.recs.values()) taken.add(r.port);
    taken.add(this.proxy.port);
    const { basePort, portCount } = this.config.options;
    const port = await pickPort(basePort, portCount, taken);
    if (port === undefined) {
      throw new ProviderError('bad_request', `no free port for a machine in ${basePort}-${basePort + portCount - 1} on 127.0.0.1 (set base_port/port_count)`, { status: 422 });
    }
    this.reservedPorts.add(port);
    return port;
  }

  private newId(group: string): string {
    for (;;) {
      const id = `${group}-${randomBytes(3).toString('hex')}`;
      if (!this.recs.has(id) && !this.tombstones.has(id) && !existsSync(this.machineFile(id))) return id;
    }
  }

  /** Machines find `node` as the Node that runs runway first, then the usual PATH. */
  private pathEnv(): string {
    return [path.dirname(process.execPath), process.env.PATH ?? ''].filter(Boolean).join(path.delimiter);
  }

  private secrets(): Record<string, string> {
    const file = this.config.options.secretsFile;
    if (!file) return {};
    try {
      return parseEnvFile(readFileSync(file, 'utf8'), file);
    } catch (error) {
      throw new ProviderError('bad_request', `secrets_file: ${(error as Error).message}`, { status: 422 });
    }
  }

  private machineEnv(rec: Rec, artifact: ReleaseArtifact): Record<string, string> {
    const m = rec.machine;
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PRIVATE_ENV.includes(k)) base[k] = v;
    return {
      ...base,
      ...this.config.vars,
      ...this.config.secrets,
      ...this.secrets(),
      ...artifact.env,
      ...rec.env,
      PATH: this.pathEnv(),
      PORT: String(rec.port),
      RUNWAY_APP: m.app,
      RUNWAY_ENV: m.env,
      RUNWAY_RELEASE: m.release,
      RUNWAY_MACHINE_ID: m.id,
      RUNWAY_PROCESS_GROUP: m.group,
      RUNWAY_INSTANCE_VERSION: m.instanceVersion,
      RUNWAY_ROLE: m.role,
    };
  }
}

function newVersion(): string {
  return `iv-${randomBytes(5).toString('hex')}`;
}

function describe(condition: WaitCondition): string {
  const parts: string[] = [condition.state];
  if (condition.healthy) parts.push('healthy');
  if (condition.release !== undefined) parts.push(`on ${condition.release}`);
  if (condition.instanceVersion !== undefined) parts.push(`(${condition.instanceVersion})`);
  return parts.join(' ');
}

export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  renameSync(tmp, file);
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
    const lines = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
    return lines.length > maxChars ? `…${lines.slice(-maxChars)}` : lines;
  } catch {
    return '';
  }
}

