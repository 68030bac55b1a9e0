// A simulated machine's lifecycle, driven only by the injected Clock: boot (create or update),
// checks, stop and destroy, each phase a sampled latency, with the release's faults (boot failure,
// unhealthy, silent revert, later exit, one flap). The fleet (fleet.ts) starts lifecycles and is told
// of every change they make.

import type { Clock } from '../../domain/clock.js';
import type { SeededRandom } from '../../domain/random.js';
import type { HealthState, MachineRole, MachineState } from '../../domain/types.js';
import type { MachineEvent } from '../contract.js';
import { keyedDrawBase, nextKeyedNormal } from './keyed-draws.js';
import { latencyAt } from './latency.js';
import { Chain } from './lifecycle-chain.js';
import type { OpLog } from './op-log.js';
import type { SimLatencyOp, SimOptions } from './options.js';
import type { SimMachineRecord } from './sim-machine.js';

/** A machine on a boot-failure release exits this long after it started. */
export const BOOT_FAILURE_AFTER_MS = 500;
/** With `exitRate`, a machine exits at a uniform time in this window after its checks pass. */
export const EXIT_WINDOW_MS: readonly [number, number] = [5_000, 120_000];
/** With `flapRate`, checks go critical once at a uniform time in this window after passing. */
export const FLAP_WINDOW_MS: readonly [number, number] = [1_000, 30_000];

/** The config an update replaced: what a silent revert brings back. */
export interface PreviousConfig {
  release: string;
  instanceVersion: string;
  role: MachineRole;
  deployId: string | undefined;
}

/** What a lifecycle tells the fleet: each change of a machine, and its end once destroyed. */
export interface LifecycleFleet {
  changed(record: SimMachineRecord, type: MachineEvent['type']): void;
  remove(record: SimMachineRecord): void;
}

const passOn = (ok: boolean): boolean => ok;

export class MachineLifecycle {
  /** Salt of the phases' keyed draws (keyed-draws.ts): the same machine's k-th boot lasts the same under any client. */
  private readonly drawBase: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: SimOptions,
    private readonly rng: SeededRandom,
    private readonly log: OpLog,
    private readonly fleet: LifecycleFleet,
  ) {
    this.drawBase = keyedDrawBase(rng);
  }

  /**
   * created/stopping -> (create|update latency) -> starting -> (boot) -> started -> (checks) -> passing,
   * with the release's faults: boot failure (failed shortly after starting), unhealthy (critical),
   * silent revert (back on the previous version), later exit, one flap.
   */
  async bootChain(record: SimMachineRecord, lead: 'create' | 'update' | null, revert?: PreviousConfig): Promise<void> {
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
        this.fleet.changed(record, 'updated');
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

  async stopChain(record: SimMachineRecord): Promise<void> {
    const signal = this.newChain(record);
    if (!(await this.phase(record, 'stop', signal))) return;
    record.chain = undefined;
    this.setState(record, 'stopped');
  }

  beginDestroy(record: SimMachineRecord): void {
    record.target = 'destroyed';
    record.machine.state = 'destroying';
    record.machine.health = 'unknown';
    this.fleet.changed(record, 'state');
    void this.destroyChain(record);
  }

  private async destroyChain(record: SimMachineRecord): Promise<void> {
    const signal = this.newChain(record);
    if (!(await this.phase(record, 'destroy', signal))) return;
    this.fleet.remove(record);
  }

  /**
   * Sleep one sampled latency of `op`, logged; false when the chain was superseded. Not an async
   * function (one per phase is garbage), but it settles in the same microtask one would: one `then`.
   */
  private phase(record: SimMachineRecord, op: SimLatencyOp, signal: Chain): Promise<boolean> {
    const ms = latencyAt(this.options.latency[op], nextKeyedNormal(this.drawBase, record, op));
    const slept = this.sleep(ms, signal);
    if (!this.log.enabled) return slept.then(passOn);
    const startMs = this.clock.now();
    return slept.then((ok) => {
      if (ok) this.log.record({ machineId: record.machine.id, op, startMs, endMs: this.clock.now() });
      return ok;
    });
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

  abortChain(record: SimMachineRecord): void {
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
    this.fleet.changed(record, 'state');
  }

  private setState(record: SimMachineRecord, state: MachineState): void {
    record.machine.state = state;
    this.fleet.changed(record, 'state');
  }

  private setHealth(record: SimMachineRecord, health: HealthState): void {
    record.machine.health = health;
    this.fleet.changed(record, 'health');
  }

  /** What a machine on `release` ends up as once it has settled. */
  settledHealth(release: string): HealthState | 'failed' {
    const faults = this.options.faults;
    if (faults.bootFailureReleases.includes(release)) return 'failed';
    if (faults.unhealthyReleases.includes(release)) return 'critical';
    return 'passing';
  }
}
