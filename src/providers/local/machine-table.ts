// The local provider's table of machines: each machine's record, the events and waits on its changes,
// the proxy's routes derived from it, and its state file written on every change. The process
// lifecycle (machine-reconciler.ts) and the Provider contract (local-provider.ts) build on it.

import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { CheckConfig } from '../../domain/types.js';
import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine } from '../../domain/types.js';
import { ProviderError, type MachineEvent, type WaitCondition, type WaitArgs } from '../contract.js';
import { machineBeingDestroyed, machineNotFound, type MachineChangeOp } from '../machine-errors.js';
import { goneError, machineVerdict, MachineWaiters, waitTimeoutError, type WaitVerdict } from '../machine-waiters.js';
import { checkArtifact, checkCommand, resolveArtifact, type ArtifactContext } from './artifact.js';
import { fileSecrets, pathEnv } from './machine-env.js';
import type { LocalAppConfig, LocalMachineRecord } from './machine-record.js';
import { savedMachine, writeJsonAtomic } from './machine-state-file.js';
import { pickPort } from './ports.js';
import { ProxyHost } from './proxy-host.js';

const TOMBSTONES_KEPT = 10_000;

export abstract class MachineTable {
  readonly proxy: ProxyHost;
  protected config: LocalAppConfig;
  protected readonly clock: Clock;
  protected readonly recs = new Map<string, LocalMachineRecord>();
  protected readonly byLaunch = new Map<string, string>();
  protected readonly creating = new Map<string, Promise<Machine>>();
  protected readonly tombstones = new Map<string, Machine>();
  protected readonly listeners = new Set<(event: MachineEvent) => void>();
  protected readonly waiters: MachineWaiters<LocalMachineRecord>;
  protected readonly reservedPorts = new Set<number>();
  protected closed = false;

  protected constructor(config: LocalAppConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.waiters = new MachineWaiters(clock);
    this.proxy = new ProxyHost({ queueTimeoutMs: config.options.queueTimeoutMs });
  }

  // ---- paths and settings ------------------------------------------------------------------

  get stateDir(): string {
    return this.config.options.stateDir;
  }

  protected get machinesDir(): string {
    return path.join(this.stateDir, 'machines');
  }

  protected get logsDir(): string {
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
  reconfigure(
    update: Pick<LocalAppConfig, 'processes' | 'checks' | 'vars' | 'releaseCommand' | 'configDir' | 'secrets'>,
  ): void {
    this.config = { ...this.config, ...update };
    this.updateRoutes();
  }

  protected artifactContext(): ArtifactContext {
    return {
      releasesDir: this.config.options.releasesDir,
      configDir: this.config.configDir,
      processes: this.config.processes,
    };
  }

  /** Groups the proxy routes to: `serve`, else groups with an http check, else the first group. */
  protected servedGroups(): Set<string> {
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

  protected checksFor(group: string): CheckConfig[] {
    return this.config.checks.filter((c) => c.group === undefined || c.group === group);
  }

  /**
   * Judged on every change of the machine (no polling of our own children): resolves when it meets
   * the condition; rejects with machine_failed when its process exited, or it stopped while a start
   * is awaited; not_found when it is or becomes gone (unless waiting for destroyed).
   */
  waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    return this.waiters.wait(
      id,
      this.inScope(scope) ? this.recs.get(id) : undefined,
      (rec) => this.verdict(scope, id, rec, condition),
      timeoutMs,
      signal,
      () => waitTimeoutError('', id, condition, timeoutMs, this.recs.get(id)?.machine),
    );
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  protected remove(rec: LocalMachineRecord): void {
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
  protected changed(rec: LocalMachineRecord, type: MachineEvent['type']): Machine {
    rec.machine.updatedAtMs = this.clock.now();
    this.save(rec);
    return this.emit(rec, type, rec);
  }

  protected emit(rec: LocalMachineRecord, type: MachineEvent['type'], alive: LocalMachineRecord | undefined): Machine {
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
    this.waiters.changed(m.id, alive);
    return snapshot;
  }

  protected updateRoutes(): void {
    if (this.closed) return;
    const served = this.servedGroups();
    const backends = [];
    for (const r of this.recs.values()) {
      const m = r.machine;
      if (
        served.has(m.group) &&
        !m.cordoned &&
        m.role !== 'release-command' &&
        m.state === 'started' &&
        m.health === 'passing' &&
        r.proc
      ) {
        backends.push({ id: m.id, port: r.port, release: m.release });
      }
    }
    this.proxy.setBackends(backends);
  }

  protected save(rec: LocalMachineRecord): void {
    if (this.closed) return;
    const saved = savedMachine(rec);
    if (!this.recs.has(rec.machine.id)) return;
    writeJsonAtomic(this.machineFile(rec.machine.id), saved);
  }

  protected machineFile(id: string): string {
    return path.join(this.machinesDir, `${id}.json`);
  }

  protected verdict(
    scope: FleetScope,
    id: string,
    rec: LocalMachineRecord | undefined,
    condition: WaitCondition,
  ): WaitVerdict {
    if (this.closed)
      return { error: new ProviderError('unavailable', 'local provider is closed', { machineId: id, op: 'wait' }) };
    if (!rec || !this.inScope(scope)) {
      const tomb = this.tombstones.get(id);
      if (condition.state === 'destroyed' && tomb && this.inScope(scope)) return { machine: { ...tomb } };
      return { error: goneError('', id, ` in ${scope.app}/${scope.env}`) };
    }
    return machineVerdict(id, rec.machine, condition, {
      exited: (m) =>
        `(${m.group}) failed on ${m.release} (${m.instanceVersion})${rec.lastExit?.message ? `: ${rec.lastExit.message}` : ''}`,
    });
  }

  protected require(scope: FleetScope, id: string): LocalMachineRecord {
    this.assertOpen();
    const rec = this.inScope(scope) ? this.recs.get(id) : undefined;
    if (!rec) throw machineNotFound(scope, id);
    return rec;
  }

  protected mutable(scope: FleetScope, id: string, op: MachineChangeOp): LocalMachineRecord {
    const rec = this.require(scope, id);
    if (rec.target === 'destroyed') throw machineBeingDestroyed(id, op);
    return rec;
  }

  protected assertOpen(): void {
    if (this.closed) throw new ProviderError('unavailable', 'local provider is closed');
  }

  protected inScope(scope: FleetScope): boolean {
    return scope.app === this.config.app && scope.env === this.config.env;
  }

  protected wrongScope(scope: FleetScope): ProviderError {
    return new ProviderError(
      'bad_request',
      `this local provider runs ${this.config.app}/${this.config.env}, not ${scope.app}/${scope.env}`,
      { status: 400 },
    );
  }

  /** Throw bad_request if `release` cannot run `group` (or `command`) here. Nothing has changed yet. */
  protected check(release: string, group: string, command?: string): void {
    if (command !== undefined) {
      const artifact = resolveArtifact(release, this.artifactContext());
      checkCommand(command, artifact.dir, pathEnv(), `release ${release}: ${group}`);
    } else {
      checkArtifact(release, this.artifactContext(), [group], [], pathEnv());
    }
    fileSecrets(this.config.options.secretsFile);
  }

  protected async allocatePort(): Promise<number> {
    const taken = new Set<number>(this.reservedPorts);
    for (const r of this.recs.values()) taken.add(r.port);
    taken.add(this.proxy.port);
    const { basePort, portCount } = this.config.options;
    const port = await pickPort(basePort, portCount, taken);
    if (port === undefined) {
      throw new ProviderError(
        'bad_request',
        `no free port for a machine in ${basePort}-${basePort + portCount - 1} on 127.0.0.1 (set base_port/port_count)`,
        { status: 422 },
      );
    }
    this.reservedPorts.add(port);
    return port;
  }

  protected newId(group: string): string {
    for (;;) {
      const id = `${group}-${randomBytes(3).toString('hex')}`;
      if (!this.recs.has(id) && !this.tombstones.has(id) && !existsSync(this.machineFile(id))) return id;
    }
  }
}
