// The simulated fleet: every machine of every app/environment, its lifecycle driven only by the
// injected Clock, events per scope, and event-driven waits. No API concerns here (latency of the
// API, rate limits, injected API errors): those are the SimProvider's. Every method here acts at
// once, as the API's backend does when a request reaches it.

import type { Clock } from '../../domain/clock.js';
import type { FleetScope, HealthState, Machine, MachineRole, MachineState } from '../../domain/types.js';
import {
  meets,
  ProviderError,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type WaitCondition,
} from '../contract.js';
import { sampleLatency } from './latency.js';
import type { OpLog } from './op-log.js';
import type { SimLatencyOp, SimOptions } from './options.js';
import type { SeededRandom } from '../../domain/random.js';

/** A machine on a boot-failure release exits this long after it started. */
export const BOOT_FAILURE_AFTER_MS = 500;
/** With `exitRate`, a machine exits at a uniform time in this window after its checks pass. */
export const EXIT_WINDOW_MS: readonly [number, number] = [5_000, 120_000];
/** With `flapRate`, checks go critical once at a uniform time in this window after passing. */
export const FLAP_WINDOW_MS: readonly [number, number] = [1_000, 30_000];
/** Destroyed machines remembered so a wait for `destroyed` that comes late still resolves. */
const TOMBSTONES_KEPT = 100_000;

/** Where a machine is headed; what it settles to when a saved fleet is loaded mid-transition. */
export type SimTarget = 'started' | 'stopped' | 'destroyed';

/** One machine as the sim keeps it. `machine` is mutated in place; callers only ever get copies. */
export interface SimMachineRecord {
  machine: Machine;
  scopeKey: string;
  target: SimTarget;
  /** MachineSpec.env (environment variables), kept as given. */
  machineEnv?: Record<string, string>;
  command?: string;
  /** instanceVersions this machine silently reverted from (flyctl#4921). */
  revertedFrom: string[];
  /** Release of the last silent revert's lost update. */
  revertedRelease?: string;
  /** The lifecycle in flight; cancelled when the next change supersedes it. */
  chain?: Chain;
}

/** A saved machine: the public fields plus what the sim needs to settle it. */
export type SavedSimMachine = Machine & {
  target: SimTarget;
  machineEnv?: Record<string, string>;
  command?: string;
  revertedFrom?: string[];
  revertedRelease?: string;
};

export interface SimFleetState {
  nextMachine: number;
  nextVersion: number;
  machines: SavedSimMachine[];
  /** Scopes that have ever had a machine (so `seedIfNew` seeds an environment only once). */
  scopes?: FleetScope[];
}

interface Waiter {
  scopeKey: string;
  condition: WaitCondition;
  /** Called on every change of the machine (undefined once it is gone). */
  check(record: SimMachineRecord | undefined): void;
}

/** The config an update replaced: what a silent revert brings back. */
interface PreviousConfig {
  release: string;
  instanceVersion: string;
  role: MachineRole;
  deployId: string | undefined;
}

type Verdict = { machine: Machine } | { error: ProviderError } | undefined;

export function scopeKey(scope: FleetScope): string {
  return `${scope.app}\u0000${scope.env}`;
}

function copy(machine: Machine): Machine {
  return { ...machine };
}

/**
 * One lifecycle of a machine (boot, stop, destroy): its pending timers, cancelled together when a later
 * change supersedes it. Plain timers rather than an AbortController per lifecycle: a 10,000-machine
 * deploy starts tens of thousands of them, and the controllers, listeners and AbortError objects were
 * a large share of its CPU and garbage.
 */
class Chain {
  cancelled = false;
  private readonly pending = new Set<() => void>();

  constructor(private readonly clock: Clock) {}

  /** Resolves true after `ms`, false as soon as the chain is cancelled. */
  sleep(ms: number): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const stop = after(this.clock, ms, () => {
        this.pending.delete(cancel);
        resolve(!this.cancelled);
      });
      const cancel = () => {
        stop();
        resolve(false);
      };
      this.pending.add(cancel);
    });
  }

  cancel(): void {
    this.cancelled = true;
    for (const cancel of this.pending) cancel();
    this.pending.clear();
  }
}

/** `clock.after`, or a sleep with an AbortController on a clock without it. */
function after(clock: Clock, ms: number, fire: () => void): () => void {
  if (clock.after) return clock.after(ms, fire);
  const controller = new AbortController();
  clock.sleep(ms, controller.signal).then(fire, () => {});
  return () => controller.abort(CANCELLED);
}

const CANCELLED = new Error('cancelled');

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** Fly-looking 14-hex machine id, unique per counter value (the low 24 bits are the counter). */
function machineId(n: number): string {
  const mix = Math.imul(n ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  return mix.toString(16).padStart(8, '0') + (n & 0xffffff).toString(16).padStart(6, '0');
}

export class SimFleet {
  private readonly byId = new Map<string, SimMachineRecord>();
  /** scope key -> machines of the scope, in creation order. */
  private readonly byScope = new Map<string, Map<string, SimMachineRecord>>();
  /** scope key + launch id -> machine id. */
  private readonly byLaunch = new Map<string, string>();
  private readonly tombstones = new Map<string, { scopeKey: string; machine: Machine }>();
  private readonly listeners = new Map<string, Set<(event: MachineEvent) => void>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Scopes that have ever had a machine, by key. */
  private readonly used = new Map<string, FleetScope>();
  private nextMachine = 1;
  private nextVersion = 1;
  private closed = false;
  /** Listener exceptions swallowed so one bad listener cannot break the fleet. */
  listenerErrors = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: SimOptions,
    private readonly rng: SeededRandom,
    private readonly log: OpLog,
  ) {}

  // ---- reads -------------------------------------------------------------------------------

  list(scope: FleetScope): Machine[] {
    const machines = this.byScope.get(scopeKey(scope));
    if (!machines) return [];
    const out: Machine[] = [];
    for (const record of machines.values()) out.push(copy(record.machine));
    return out;
  }

  get(scope: FleetScope, id: string): Machine {
    return copy(this.require(scope, id).machine);
  }

  find(scope: FleetScope, id: string): SimMachineRecord | undefined {
    const record = this.byId.get(id);
    return record && record.scopeKey === scopeKey(scope) ? record : undefined;
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
      if (record) return copy(record.machine);
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
    void this.bootChain(record, 'create');
    return snapshot;
  }

  /** Create a fleet at once: started, checks decided by each release's faults; no latency, no events of boot. */
  seed(scope: FleetScope, groups: { name: string; count: number }[], release: string): Machine[] {
    const out: Machine[] = [];
    const health = this.settledHealth(release);
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
    const previous: PreviousConfig = { release: m.release, instanceVersion: m.instanceVersion, role: m.role, deployId: m.deployId };
    m.release = update.release;
    m.instanceVersion = this.newVersion();
    if (update.role !== undefined) m.role = update.role;
    if (update.deployId !== undefined) m.deployId = update.deployId;
    m.state = 'stopping';
    m.health = 'unknown';
    record.target = 'started';
    const revert = this.rng.chance(this.options.faults.revertRate) ? previous : undefined;
    const snapshot = this.changed(record, 'updated');
    void this.bootChain(record, 'update', revert);
    return snapshot;
  }

  start(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'start');
    const m = record.machine;
    // Already headed for started (booting, or stopping for an update): nothing to do.
    if (record.target === 'started' && m.state !== 'stopped' && m.state !== 'failed') return copy(m);
    record.target = 'started';
    m.state = 'starting';
    m.health = 'unknown';
    const snapshot = this.changed(record, 'state');
    void this.bootChain(record, null);
    return snapshot;
  }

  stop(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'stop');
    const m = record.machine;
    const alreadyStopping = record.target === 'stopped' && m.state === 'stopping';
    record.target = 'stopped';
    if (m.state === 'stopped' || alreadyStopping) return copy(m);
    if (m.state === 'failed') {
      this.abortChain(record);
      m.state = 'stopped';
      m.health = 'unknown';
      return this.changed(record, 'state');
    }
    m.state = 'stopping';
    m.health = 'unknown';
    const snapshot = this.changed(record, 'state');
    void this.stopChain(record);
    return snapshot;
  }

  destroy(scope: FleetScope, id: string): void {
    const record = this.require(scope, id);
    if (record.machine.state === 'destroying') return;
    this.beginDestroy(record);
  }

  cordon(scope: FleetScope, id: string): Machine {
    const record = this.mutable(scope, id, 'cordon');
    if (record.machine.cordoned) return copy(record.machine);
    record.machine.cordoned = true;
    return this.changed(record, 'cordon');
  }

  uncordon(scope: FleetScope, id: string, role?: MachineRole): Machine {
    const record = this.mutable(scope, id, 'uncordon');
    const m = record.machine;
    if (!m.cordoned && (role === undefined || m.role === role)) return copy(m);
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
  waitFor(scope: FleetScope, id: string, condition: WaitCondition, timeoutMs: number, signal?: AbortSignal): Promise<Machine> {
    return new Promise<Machine>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      if (this.closed) return reject(new ProviderError('unavailable', 'sim provider is closed', { op: 'wait', machineId: id }));
      const key = scopeKey(scope);
      const first = this.verdict(key, id, this.find(scope, id), condition);
      if (first) return 'machine' in first ? resolve(first.machine) : reject(first.error);

      let stopTimer = (): void => {};
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const finish = () => {
        const current = this.waiters.get(id);
        if (current) {
          current.delete(waiter);
          if (current.size === 0) this.waiters.delete(id);
        }
        stopTimer();
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        scopeKey: key,
        condition,
        check: (record) => {
          const verdict = this.verdict(key, id, record, condition);
          if (!verdict) return;
          finish();
          if ('machine' in verdict) resolve(verdict.machine);
          else reject(verdict.error);
        },
      };
      const onAbort = () => {
        finish();
        reject(abortReason(signal!));
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      stopTimer = after(this.clock, Math.max(0, timeoutMs), () => {
          finish();
          const m = this.find(scope, id)?.machine;
          const seen = m ? `; machine is ${m.state}/${m.health} on ${m.release} (${m.instanceVersion})` : '';
          reject(
            new ProviderError('wait_timeout', `machine ${id} did not reach ${describe(condition)} within ${timeoutMs} ms${seen}`, {
              machineId: id,
              op: 'wait',
            }),
          );
      });
    });
  }

  /** Stop every lifecycle in flight and fail every wait: nothing of the fleet keeps a timer. */
  close(): void {
    this.closed = true;
    for (const record of this.byId.values()) this.abortChain(record);
    for (const [id, set] of [...this.waiters]) {
      for (const waiter of [...set]) waiter.check(undefined);
      this.waiters.delete(id);
    }
  }

  // ---- persistence -------------------------------------------------------------------------

  exportState(): SimFleetState {
    const machines: SavedSimMachine[] = [];
    for (const record of this.byId.values()) {
      const saved: SavedSimMachine = { ...record.machine, target: record.target };
      if (record.machineEnv) saved.machineEnv = { ...record.machineEnv };
      if (record.command !== undefined) saved.command = record.command;
      if (record.revertedFrom.length > 0) saved.revertedFrom = [...record.revertedFrom];
      if (record.revertedRelease !== undefined) saved.revertedRelease = record.revertedRelease;
      machines.push(saved);
    }
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
      const { target, machineEnv, command, revertedFrom, revertedRelease, ...machine } = saved;
      if (target === 'destroyed' || machine.state === 'destroying' || machine.state === 'destroyed') continue;
      if (target === 'stopped') {
        if (machine.state !== 'failed') machine.state = 'stopped';
        machine.health = machine.state === 'failed' ? 'critical' : 'unknown';
      } else if (machine.state !== 'failed') {
        const settled = this.settledHealth(machine.release);
        if (machine.role === 'release-command' && settled !== 'failed') continue; // ran and destroyed itself
        machine.state = settled === 'failed' ? 'failed' : 'started';
        machine.health = settled === 'failed' ? 'critical' : settled;
      }
      const record: SimMachineRecord = {
        machine,
        scopeKey: scopeKey({ app: machine.app, env: machine.env }),
        target,
        revertedFrom: revertedFrom ?? [],
      };
      if (machineEnv) record.machineEnv = machineEnv;
      if (command !== undefined) record.command = command;
      if (revertedRelease !== undefined) record.revertedRelease = revertedRelease;
      this.index(record);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * created/stopping -> (create|update latency) -> starting -> (boot) -> started -> (checks) -> passing,
   * with the release's faults: boot failure (failed shortly after starting), unhealthy (critical),
   * silent revert (back on the previous version), later exit, one flap.
   */
  private async bootChain(
    record: SimMachineRecord,
    lead: 'create' | 'update' | null,
    revert?: PreviousConfig,
  ): Promise<void> {
    const signal = this.newChain(record);
    const m = record.machine;
    try {
      if (lead) {
        if (!(await this.phase(record, lead, signal))) return;
        this.setState(record, 'starting');
      }
      if (!(await this.phase(record, 'boot', signal))) return;
      if (revert) {
        record.revertedFrom.push(m.instanceVersion);
        record.revertedRelease = m.release;
        m.release = revert.release;
        m.instanceVersion = revert.instanceVersion;
        m.role = revert.role;
        if (revert.deployId === undefined) delete m.deployId;
        else m.deployId = revert.deployId;
        m.state = 'started';
        m.health = 'unknown';
        this.changed(record, 'updated');
      } else {
        this.setState(record, 'started');
      }
      const faults = this.options.faults;
      if (faults.bootFailureReleases.includes(m.release)) {
        if (!(await this.sleep(BOOT_FAILURE_AFTER_MS, signal))) return;
        this.fail(record);
        return;
      }
      if (m.role === 'release-command') {
        // The command runs (modelled by a `checks` draw), exits 0 and the machine destroys itself
        // (Fly: auto_destroy). A failing command is a boot-failure release (above): `failed`, kept.
        if (!(await this.phase(record, 'checks', signal))) return;
        this.setState(record, 'stopped');
        this.beginDestroy(record);
        return;
      }
      if (!(await this.phase(record, 'checks', signal))) return;
      if (faults.unhealthyReleases.includes(m.release)) {
        this.setHealth(record, 'critical');
        return;
      }
      this.setHealth(record, 'passing');
      const flap = this.rng.chance(faults.flapRate);
      const exit = this.rng.chance(faults.exitRate);
      const flapAfter = flap ? this.rng.between(FLAP_WINDOW_MS[0], FLAP_WINDOW_MS[1]) : 0;
      const exitAfter = exit ? this.rng.between(EXIT_WINDOW_MS[0], EXIT_WINDOW_MS[1]) : 0;
      if (flap) void this.flap(record, flapAfter, signal);
      if (exit) {
        if (!(await this.sleep(exitAfter, signal))) return;
        this.fail(record);
      }
    } catch (error) {
      if (!signal.cancelled) throw error;
    }
  }

  private async flap(record: SimMachineRecord, afterMs: number, signal: Chain): Promise<void> {
    if (!(await this.sleep(afterMs, signal))) return;
    if (record.machine.state !== 'started') return;
    this.setHealth(record, 'critical');
    if (!(await this.phase(record, 'checks', signal))) return;
    if (record.machine.state === 'started') this.setHealth(record, 'passing');
  }

  private async stopChain(record: SimMachineRecord): Promise<void> {
    const signal = this.newChain(record);
    if (!(await this.phase(record, 'stop', signal))) return;
    record.chain = undefined;
    this.setState(record, 'stopped');
  }

  private beginDestroy(record: SimMachineRecord): void {
    record.target = 'destroyed';
    record.machine.state = 'destroying';
    record.machine.health = 'unknown';
    this.changed(record, 'state');
    void this.destroyChain(record);
  }

  private async destroyChain(record: SimMachineRecord): Promise<void> {
    const signal = this.newChain(record);
    if (!(await this.phase(record, 'destroy', signal))) return;
    this.remove(record);
  }

  /** Sleep one sampled latency of `op`, logged; false when the chain was superseded. */
  private async phase(record: SimMachineRecord, op: SimLatencyOp, signal: Chain): Promise<boolean> {
    const ms = sampleLatency(this.options.latency[op], this.rng);
    const startMs = this.clock.now();
    if (!(await this.sleep(ms, signal))) return false;
    if (this.log.enabled) this.log.record({ machineId: record.machine.id, op, startMs, endMs: this.clock.now() });
    return true;
  }

  private sleep(ms: number, chain: Chain): Promise<boolean> {
    return chain.sleep(ms);
  }

  private newChain(record: SimMachineRecord): Chain {
    this.abortChain(record);
    const chain = new Chain(this.clock);
    record.chain = chain;
    return chain;
  }

  private abortChain(record: SimMachineRecord): void {
    if (record.chain) {
      record.chain.cancel();
      record.chain = undefined;
    }
  }

  private fail(record: SimMachineRecord): void {
    record.machine.state = 'failed';
    record.machine.health = 'critical';
    // A simulated process that dies exits 1 (a release command's result is read from it).
    record.machine.exitCode = 1;
    this.changed(record, 'state');
  }

  private setState(record: SimMachineRecord, state: MachineState): void {
    record.machine.state = state;
    this.changed(record, 'state');
  }

  private setHealth(record: SimMachineRecord, health: HealthState): void {
    record.machine.health = health;
    this.changed(record, 'health');
  }

  /** What a machine on `release` ends up as once it has settled. */
  private settledHealth(release: string): HealthState | 'failed' {
    const faults = this.options.faults;
    if (faults.bootFailureReleases.includes(release)) return 'failed';
    if (faults.unhealthyReleases.includes(release)) return 'critical';
    return 'passing';
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private add(
    scope: FleetScope,
    fields: Omit<Machine, 'id' | 'app' | 'env' | 'instanceVersion' | 'createdAtMs' | 'updatedAtMs'>,
  ): SimMachineRecord {
    const now = this.clock.now();
    const machine: Machine = {
      id: machineId(this.nextMachine++),
      app: scope.app,
      env: scope.env,
      instanceVersion: this.newVersion(),
      createdAtMs: now,
      updatedAtMs: now,
      ...fields,
    };
    if (machine.deployId === undefined) delete machine.deployId;
    if (machine.launchId === undefined) delete machine.launchId;
    const record: SimMachineRecord = { machine, scopeKey: scopeKey(scope), target: 'started', revertedFrom: [] };
    this.index(record);
    return record;
  }

  private index(record: SimMachineRecord): void {
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
    this.changed(record, 'destroyed');
  }

  private require(scope: FleetScope, id: string): SimMachineRecord {
    const record = this.find(scope, id);
    if (!record) {
      throw new ProviderError('not_found', `machine ${id} not found in ${scope.app}/${scope.env}`, { status: 404, machineId: id });
    }
    return record;
  }

  /** A machine that can still be changed (not being destroyed). */
  private mutable(scope: FleetScope, id: string, op: 'update' | 'start' | 'stop' | 'cordon' | 'uncordon'): SimMachineRecord {
    const record = this.require(scope, id);
    if (record.machine.state === 'destroying') {
      throw new ProviderError('conflict', `machine ${id} is being destroyed`, { status: 409, machineId: id, op });
    }
    return record;
  }

  private newVersion(): string {
    return `iv${(this.nextVersion++).toString().padStart(6, '0')}`;
  }

  /** Record a change: stamp it, tell the scope's listeners and the machine's waiters. Returns a copy. */
  private changed(record: SimMachineRecord, type: MachineEvent['type']): Machine {
    const m = record.machine;
    const atMs = this.clock.now();
    m.updatedAtMs = atMs;
    const snapshot = copy(m);
    const listeners = this.listeners.get(record.scopeKey);
    if (listeners && listeners.size > 0) {
      // One copy for all listeners (an event is read, never changed), and no array for the usual one.
      const event = { type, machine: copy(m), atMs };
      for (const listener of listeners.size === 1 ? listeners : [...listeners]) {
        try {
          listener(event);
        } catch {
          this.listenerErrors++;
        }
      }
    }
    const waiters = this.waiters.get(m.id);
    if (waiters) {
      const alive = type === 'destroyed' ? undefined : record;
      for (const waiter of [...waiters]) waiter.check(alive);
    }
    return snapshot;
  }

  private verdict(key: string, id: string, record: SimMachineRecord | undefined, condition: WaitCondition): Verdict {
    if (this.closed) return { error: new ProviderError('unavailable', 'sim provider is closed', { machineId: id, op: 'wait' }) };
    if (!record || record.scopeKey !== key) {
      const tomb = this.tombstones.get(id);
      if (condition.state === 'destroyed' && tomb && tomb.scopeKey === key) return { machine: copy(tomb.machine) };
      return { error: new ProviderError('not_found', `machine ${id} not found (destroyed)`, { status: 404, machineId: id, op: 'wait' }) };
    }
    const m = record.machine;
    if (meets(m, condition)) return { machine: copy(m) };
    if (m.state === 'failed') {
      return {
        error: new ProviderError('machine_failed', `machine ${id} exited (failed) on ${m.release} (${m.instanceVersion})`, {
          machineId: id,
          op: 'wait',
        }),
      };
    }
    const pinnedVersion = condition.instanceVersion;
    if (
      (pinnedVersion !== undefined && record.revertedFrom.includes(pinnedVersion)) ||
      (pinnedVersion === undefined &&
        condition.release !== undefined &&
        record.revertedRelease === condition.release &&
        m.release !== condition.release)
    ) {
      return {
        error: new ProviderError(
          'machine_failed',
          `machine ${id} reverted: it came back on ${m.release} (${m.instanceVersion}) instead of ${describe(condition)}`,
          { machineId: id, op: 'wait' },
        ),
      };
    }
    if (condition.state === 'started' && m.state === 'stopped') {
      return {
        error: new ProviderError('machine_failed', `machine ${id} is stopped while waiting for it to start`, {
          machineId: id,
          op: 'wait',
        }),
      };
    }
    return undefined;
  }
}

function describe(condition: WaitCondition): string {
  const parts: string[] = [condition.state];
  if (condition.healthy) parts.push('healthy');
  if (condition.release !== undefined) parts.push(`on ${condition.release}`);
  if (condition.instanceVersion !== undefined) parts.push(`(${condition.instanceVersion})`);
  return parts.join(' ');
}
