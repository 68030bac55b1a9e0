// The `local` provider: every machine is a real OS process on this host running its release's command
// for its process group, with its own port (PORT) and environment, behind runway's proxy (proxy.ts).
// It runs inside the environment's supervisor (supervisor.ts), which owns the processes and the proxy
// so both outlive a CLI run; tests and benchmarks may also run it in-process.
//
// The provider is built in layers, one concept each: machine-table.ts (the records, their events,
// waits, routes and state files), machine-reconciler.ts (the process lifecycle: spawn, health, stop,
// boot slots), and this file (the Provider contract, opening and re-adoption, closing).
//
// The proxy runs in a worker thread (proxy-host.ts): a call that changes routing (cordon, uncordon,
// update, stop, destroy) returns once the proxy routes by the change.
//
// State lives in the state directory, one JSON file per machine (pid, process start time, port,
// release, target), written on every change. `LocalProvider.open` re-adopts the processes recorded
// there when pid and start time still match (see proc.ts) and never signals any other process.

import type { TrafficSnapshot } from '../../domain/traffic.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RealClock, type Clock } from '../../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import type { CallOptions, MachineEvent, MachineSpec, MachineUpdate, Provider, StopOptions } from '../contract.js';
import { machineNotFound } from '../machine-errors.js';
import { ProviderSetupError } from '../session.js';
import { checkArtifact } from './artifact.js';
import { fileSecrets, pathEnv } from './machine-env.js';
import { newVersion, type LocalAppConfig, type MachineProcessInfo, type LocalMachineRecord } from './machine-record.js';
import { MachineReconciler, KILL_WAIT_MS } from './machine-reconciler.js';
import { readSavedMachines, writeJsonAtomic, type SavedMachine } from './machine-state-file.js';
import { isPortFree } from './ports.js';
import { isSameProcess } from './proc.js';
import { ProxyListenError } from './proxy-host.js';

// Kept importable from here: the supervisor, the CLI and the tests import them by this path.
export { PRIVATE_ENV } from './machine-env.js';
export type { LocalAppConfig, MachineProcessInfo } from './machine-record.js';
export { writeJsonAtomic };

export class LocalProvider extends MachineReconciler implements Provider {
  readonly name = 'local';

  private constructor(config: LocalAppConfig, clock: Clock) {
    super(config, clock);
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

  // ---- the Provider contract ---------------------------------------------------------------

  async list(scope: FleetScope): Promise<Machine[]> {
    if (!this.inScope(scope)) return [];
    return [...this.recs.values()].map((r) => ({ ...r.machine }));
  }

  async get(scope: FleetScope, id: string): Promise<Machine> {
    return { ...this.require(scope, id).machine };
  }

  create(scope: FleetScope, spec: MachineSpec): Promise<Machine> {
    this.assertOpen();
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
    const rec: LocalMachineRecord = { machine, port, target: 'started', busy: false, dirty: false };
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
    const stopOptions: LocalMachineRecord['stopOptions'] = {};
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
    if (!this.inScope(scope) || (!this.recs.has(id) && !this.tombstones.has(id))) throw machineNotFound(scope, id);
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
    checkArtifact(release, this.artifactContext(), groups, extra, pathEnv());
    fileSecrets(this.config.options.secretsFile);
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
    this.waiters.endAll();
    await this.proxy.close();
  }

  /** Destroy every machine (drain, signal, SIGKILL after the stop timeout), then close. */
  async shutdown(): Promise<void> {
    const scope = this.scope;
    await Promise.all(
      [...this.recs.values()].map(async (rec) => {
        await this.destroy(scope, rec.machine.id).catch(() => {});
        await this.waitFor(
          scope,
          rec.machine.id,
          { state: 'destroyed' },
          this.config.options.stopTimeoutMs + this.config.options.drainTimeoutMs + KILL_WAIT_MS + 1000,
        ).catch(() => {});
      }),
    );
    await this.close();
  }

  /** Every machine's process, port and log (status output, tests). */
  processes(): MachineProcessInfo[] {
    return [...this.recs.values()].map((r) => {
      const info: MachineProcessInfo = {
        id: r.machine.id,
        group: r.machine.group,
        release: r.machine.release,
        port: r.port,
        log: this.logFile(r.machine.id),
      };
      if (r.proc) {
        info.pid = r.proc.pid;
        info.startTime = r.proc.startTime;
      }
      return info;
    });
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
    for (const saved of readSavedMachines(this.machinesDir)) this.adopt(saved);
    this.updateRoutes();
  }

  private adopt(saved: SavedMachine): void {
    const m = saved.machine;
    const rec: LocalMachineRecord = { machine: m, port: saved.port, target: saved.target, busy: false, dirty: false };
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
    if (
      rec.target === 'started' &&
      saved.proc &&
      saved.proc.instanceVersion === m.instanceVersion &&
      (m.state === 'started' || m.state === 'starting')
    ) {
      rec.failedVersion = m.instanceVersion;
      rec.lastExit = {
        code: null,
        signal: null,
        atMs: this.clock.now(),
        message: 'exited while no supervisor was watching it',
      };
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
}
