// Size: ~400 lines: the machines' indexes, their changes and events all work on the fleet's private
// maps; the lifecycle, the wait verdict, the waits and the saved form are in files of their own.
// The simulated fleet: every machine of every app/environment, its lifecycle driven only by the
// injected Clock (machine-lifecycle.ts), events per scope, and event-driven waits (machine-waiters.ts, wait-verdict.ts).
// No API concerns here (latency of the API, rate limits, injected API errors): those are the
// SimProvider's. Every method here acts at once, as the API's backend does when a request reaches it.

import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import type { MachineEvent, MachineSpec, MachineUpdate, WaitCondition } from '../contract.js';
import type { OpLog } from './op-log.js';
import type { SimOptions } from './options.js';
import type { SeededRandom } from '../../domain/random.js';
import { MachineLifecycle, type PreviousConfig } from './machine-lifecycle.js';
import {
  copyMachine,
  savedMachine,
  scopeKey,
  settledMachine,
  type SavedSimMachine,
  type SimFleetState,
  type SimMachineRecord,
} from './sim-machine.js';
import { waitVerdict } from './wait-verdict.js';
import { machineBeingDestroyed, machineNotFound, type MachineChangeOp } from '../machine-errors.js';
import { MachineWaiters, type WaitVerdict } from '../machine-waiters.js';
import type { SimWait, SimWaitHost } from './sim-wait.js';

export { BOOT_FAILURE_AFTER_MS, EXIT_WINDOW_MS, FLAP_WINDOW_MS } from './machine-lifecycle.js';
export type { SavedSimMachine, SimFleetState, SimTarget } from './sim-machine.js';

/** Destroyed machines remembered so a wait for `destroyed` that comes late still resolves. */
const TOMBSTONES_KEPT = 100_000;

/** Fly-looking 14-hex machine id, unique per counter value (the low 24 bits are the counter). */
function machineId(n: number): string {
  const mix = Math.imul(n ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  return mix.toString(16).padStart(8, '0') + (n & 0xffffff).toString(16).padStart(6, '0');
}

export class SimFleet implements SimWaitHost {
  private readonly byId = new Map<string, SimMachineRecord>();
  /** scope key -> machines of the scope, in creation order. */
  private readonly byScope = new Map<string, Map<string, SimMachineRecord>>();
  /** scope key + launch id -> machine id. */
  private readonly byLaunch = new Map<string, string>();
  private readonly tombstones = new Map<string, { scopeKey: string; machine: Machine }>();
  private readonly listeners = new Map<string, Set<(event: MachineEvent) => void>>();
  private readonly waiters: MachineWaiters<SimMachineRecord>;
  /** Scopes that have ever had a machine, by key. */
  private readonly used = new Map<string, FleetScope>();
  private lastScope: FleetScope | undefined;
  private lastApp = '';
  private lastEnv = '';
  private lastKey = '';
  private readonly keyStrings = new Map<string, string>();
  private nextMachine = 1;
  private nextVersion = 1;
  private closed = false;
  private readonly lifecycle: MachineLifecycle;
  /** Listener exceptions swallowed so one bad listener cannot break the fleet. */
  listenerErrors = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: SimOptions,
    private readonly rng: SeededRandom,
    log: OpLog,
  ) {
    this.waiters = new MachineWaiters(clock);
    this.lifecycle = new MachineLifecycle(clock, options, rng, log, {
      changed: (record, type) => this.notify(record, type),
      remove: (record) => this.remove(record),
    });
  }

  // ---- reads -------------------------------------------------------------------------------

  list(scope: FleetScope): Machine[] {
    const machines = this.byScope.get(this.keyOf(scope));
    if (!machines) return [];
    const out: Machine[] = [];
    for (const record of machines.values()) out.push(copyMachine(record.machine));
    return out;
  }

  get(scope: FleetScope, id: string): Machine {
    return copyMachine(this.require(scope, id).machine);
  }

  find(scope: FleetScope, id: string): SimMachineRecord | undefined {
    const record = this.byId.get(id);
    return record && record.scopeKey === this.keyOf(scope) ? record : undefined;
  }

  /** scopeKey(scope), kept for the last scope object asked about: a client asks about one scope, call after call. */
  private keyOf(scope: FleetScope): string {
    if (scope !== this.lastScope || scope.app !== this.lastApp || scope.env !== this.lastEnv) {
      this.lastScope = scope;
      this.lastApp = scope.app;
      this.lastEnv = scope.env;
      this.lastKey = this.interned(scopeKey(scope));
    }
    return this.lastKey;
  }

  /**
   * One string per scope key, so `find` compares a record's key with the scope's by identity rather
   * than character by character (it runs for every API call and every change of a machine).
   */
  private interned(key: string): string {
    const known = this.keyStrings.get(key);
    if (known !== undefined) return known;
    this.keyStrings.set(key, key);
    return key;
  }

  /** Machines of every scope (tests, benchmarks). */
  get size(): number {
    return this.byId.size;
  }

  // ---- changes -----------------------------------------------------------------------------

  /** Create (and start) a machine; idempotent by launch id within the scope. */
  create(scope: FleetScope, spec: MachineSpec): Machine {
    const key = scopeKey(scope);
    const existing = this.byLaunch.get(`${key}\u0000${spec.launchId}`);
    if (existing !== undefined) {
      const record = this.byId.get(existing);
      if (record) return copyMachine(record.machine);
    }
    const record = this.add(scope, {
      group: spec.group,
      release: spec.release,
      role: spec.role,
      cordoned: spec.cordoned,
      state: 'created',
      health: 'unknown',
      deployId: spec.deployId,
      launchId: spec.launchId,
    });
    if (spec.env) record.machineEnv = { ...spec.env };
    if (spec.command !== undefined) record.command = spec.command;
    const snapshot = this.changed(record, 'created');
    this.lifecycle.bootChain(record, 'create');
    return snapshot;
  }

  /** Create a fleet at once: started, checks decided by each release's faults; no latency, no events of boot. */
  seed(scope: FleetScope, groups: { name: string; count: number }[], release: string): Machine[] {
    const out: Machine[] = [];
    const health = this.lifecycle.settledHealth(release);
    for (const group of groups) {
      for (let i = 0; i < group.count; i++) {
        const record = this.add(scope, {
          group: group.name,
          release,
          role: 'serving',
          cordoned: false,
          state: health === 'failed' ? 'failed' : 'started',
          health: health === 'failed' ? 'critical' : health,
        });
        out.push(this.changed(record, 'created'));
      }
    }
    return out;
  }

  /**
   * Seed the scope unless it has ever had a machine (`[sim] initial_release`: the fleet appears the
   * first time an environment is used; an environment someone emptied stays empty).
   */
  seedIfNew(scope: FleetScope, groups: { name: string; count: number }[], release: string): Machine[] {
    return this.used.has(scopeKey(scope)) ? [] : this.seed(scope, groups, release);
  }

  update(scope: FleetScope, id: string, update: MachineUpdate): Machine {
    const record = this.mutable(scope, id, 'update');
    const m = record.machine;
    const previous: PreviousConfig = {
      release: m.release,
      instanceVersion: m.instanceVersion,
      role: m.role,
      deployId: m.deployId,
    };
    m.release = update.release;
    m.instanceVersion = this.newVersion();
    if (update.role !== undefined) m.role = update.role;
    if (update.deployId !== undefined) m.deployId = update.deployId;
    m.state = 'stopping';
    m.health = 'unknown';
    record.target = 'started';
    const revert = this.rng.chance(this.options.faults.revertRate) ? previous : undefined;
    const snapshot = this.changed(record, 'updated');
    this.lifecycle.bootChain(record, 'update', revert);
    return snapshot;
  }

  start(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'start');
    const m = record.machine;
    // Already headed for started (booting, or stopping for an update): nothing to do.
    if (record.target === 'started' && m.state !== 'stopped' && m.state !== 'failed') return copyMachine(m);
    record.target = 'started';
    m.state = 'starting';
    m.health = 'unknown';
    const snapshot = this.changed(record, 'state');
    this.lifecycle.bootChain(record, null);
    return snapshot;
  }

  stop(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'stop');
    const m = record.machine;
    const alreadyStopping = record.target === 'stopped' && m.state === 'stopping';
    record.target = 'stopped';
    if (m.state === 'stopped' || alreadyStopping) return copyMachine(m);
    if (m.state === 'failed') {
      this.lifecycle.abortChain(record);
      m.state = 'stopped';
      m.health = 'unknown';
      return this.changed(record, 'state');
    }
    m.state = 'stopping';
    m.health = 'unknown';
    const snapshot = this.changed(record, 'state');
    this.lifecycle.stopChain(record);
    return snapshot;
  }

  destroy(scope: FleetScope, id: string): void {
    const record = this.require(scope, id);
    if (record.machine.state === 'destroying') return;
    this.lifecycle.beginDestroy(record);
  }

  cordon(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'cordon');
    if (record.machine.cordoned) return copyMachine(record.machine);
    record.machine.cordoned = true;
    return this.changed(record, 'cordon');
  }

  uncordon(scope: FleetScope, id: string, role?: MachineRole): Machine {
    const record = this.mutable(scope, id, 'uncordon');
    const m = record.machine;
    if (!m.cordoned && (role === undefined || m.role === role)) return copyMachine(m);
    m.cordoned = false;
    if (role !== undefined) m.role = role;
    return this.changed(record, 'cordon');
  }

  // ---- events and waits --------------------------------------------------------------------

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    const key = scopeKey(scope);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.listeners.get(key);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(key);
    };
  }

  /**
   * Resolve when the machine meets `condition`, judged on every change of it (no polling). Rejects
   * with `machine_failed` when it exits (state `failed`), stops while a start is awaited, or silently
   * reverts away from the pinned version; `not_found` when it is or becomes gone (unless waiting for
   * `destroyed`); `wait_timeout` after `timeoutMs`; the signal's reason when aborted.
   */
  /** Judge `wait` now, then on every change of its machine (machine-waiters.ts), until it settles. */
  startWait(wait: SimWait): void {
    wait.key = this.keyOf(wait.scope);
    this.waiters.add(wait, this.find(wait.scope, wait.id), wait.timeoutMs);
  }

  /** SimWaitHost: what a wait makes of the machine as it is now. */
  verdict(key: string, id: string, record: SimMachineRecord | undefined, condition: WaitCondition): WaitVerdict {
    return waitVerdict(this.closed, this.tombstones, key, id, record, condition);
  }

  /** Stop every lifecycle in flight and fail every wait: nothing of the fleet keeps a timer. */
  close(): void {
    this.closed = true;
    for (const record of this.byId.values()) this.lifecycle.abortChain(record);
    this.waiters.endAll();
  }

  // ---- persistence -------------------------------------------------------------------------

  exportState(): SimFleetState {
    const machines: SavedSimMachine[] = [];
    for (const record of this.byId.values()) machines.push(savedMachine(record));
    return { nextMachine: this.nextMachine, nextVersion: this.nextVersion, machines, scopes: [...this.used.values()] };
  }

  /**
   * Load a saved fleet. Machines caught mid-transition are settled where they were headed: a
   * machine that was starting or updating is started on its configured release with checks as that
   * release's faults say; a stopping one is stopped; a destroying one is gone. No events.
   */
  importState(state: SimFleetState): void {
    this.nextMachine = Math.max(this.nextMachine, state.nextMachine);
    this.nextVersion = Math.max(this.nextVersion, state.nextVersion);
    for (const scope of state.scopes ?? []) this.used.set(scopeKey(scope), { app: scope.app, env: scope.env });
    for (const saved of state.machines) {
      const record = settledMachine(saved, (release) => this.lifecycle.settledHealth(release));
      if (record) this.index(record);
    }
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private add(
    scope: FleetScope,
    fields: Omit<Machine, 'id' | 'app' | 'env' | 'instanceVersion' | 'createdAtMs' | 'updatedAtMs'>,
  ): SimMachineRecord {
    const now = this.clock.now();
    // Optional fields left out rather than deleted: a deleted property puts the object in dictionary
    // mode, and every read and copy of the machine was the slow kind (a create without a deploy id).
    const { deployId, launchId, ...rest } = fields;
    const machine: Machine = {
      id: machineId(this.nextMachine++),
      app: scope.app,
      env: scope.env,
      instanceVersion: this.newVersion(),
      createdAtMs: now,
      updatedAtMs: now,
      ...rest,
    };
    if (deployId !== undefined) machine.deployId = deployId;
    if (launchId !== undefined) machine.launchId = launchId;
    const record: SimMachineRecord = { machine, scopeKey: scopeKey(scope), target: 'started', revertedFrom: [] };
    this.index(record);
    return record;
  }

  private index(record: SimMachineRecord): void {
    record.scopeKey = this.interned(record.scopeKey);
    const m = record.machine;
    this.byId.set(m.id, record);
    let scoped = this.byScope.get(record.scopeKey);
    if (!scoped) this.byScope.set(record.scopeKey, (scoped = new Map()));
    if (!this.used.has(record.scopeKey)) this.used.set(record.scopeKey, { app: m.app, env: m.env });
    scoped.set(m.id, record);
    if (m.launchId !== undefined) this.byLaunch.set(`${record.scopeKey}\u0000${m.launchId}`, m.id);
  }

  private remove(record: SimMachineRecord): void {
    const m = record.machine;
    record.chain = undefined;
    this.byId.delete(m.id);
    this.byScope.get(record.scopeKey)?.delete(m.id);
    // A destroyed machine's launch id may be used again (as on Fly, where it is only metadata);
    // two live machines never share one.
    if (m.launchId !== undefined) this.byLaunch.delete(`${record.scopeKey}\u0000${m.launchId}`);
    m.state = 'destroyed';
    m.health = 'unknown';
    this.tombstones.set(m.id, { scopeKey: record.scopeKey, machine: m });
    if (this.tombstones.size > TOMBSTONES_KEPT) {
      const oldest = this.tombstones.keys().next().value;
      if (oldest !== undefined) this.tombstones.delete(oldest);
    }
    this.notify(record, 'destroyed');
  }

  private require(scope: FleetScope, id: string): SimMachineRecord {
    const record = this.find(scope, id);
    if (!record) throw machineNotFound(scope, id);
    return record;
  }

  /** A machine that can still be changed (not being destroyed). */
  private mutable(scope: FleetScope, id: string, op: MachineChangeOp): SimMachineRecord {
    const record = this.require(scope, id);
    if (record.machine.state === 'destroying') {
      throw machineBeingDestroyed(id, op);
    }
    return record;
  }

  private newVersion(): string {
    return `iv${(this.nextVersion++).toString().padStart(6, '0')}`;
  }

  /**
   * A change an API call made: recorded (`notify`), and a copy of the machine for the caller, which is
   * also the event's (both are read, never changed: one copy where there were two).
   */
  private changed(record: SimMachineRecord, type: MachineEvent['type']): Machine {
    record.machine.updatedAtMs = this.clock.now();
    const snapshot = copyMachine(record.machine);
    this.notify(record, type, snapshot);
    return snapshot;
  }

  /** Record a change: stamp it, tell the scope's listeners and the machine's waiters. */
  private notify(record: SimMachineRecord, type: MachineEvent['type'], copy?: Machine): void {
    const m = record.machine;
    const atMs = this.clock.now();
    m.updatedAtMs = atMs;
    const listeners = this.listeners.get(record.scopeKey);
    if (listeners && listeners.size > 0) {
      // One copy for all listeners (an event is read, never changed), and no array for the usual one.
      const event = { type, machine: copy ?? copyMachine(m), atMs };
      for (const listener of listeners.size === 1 ? listeners : [...listeners]) {
        try {
          listener(event);
        } catch {
          this.listenerErrors++;
        }
      }
    }
    this.waiters.changed(m.id, type === 'destroyed' ? undefined : record);
  }
}
