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
import { Chain, ChainSleeper } from './lifecycle-chain.js';
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

/** Where a run of phases goes on when its sleep is over. */
type Stage =
  | 'lead' // the create or update call's work: then starting
  | 'boot' // booted: started (or silently reverted)
  | 'boot-failure' // a boot-failure release's process: exits
  | 'command' // a release command ran: stopped, destroyed
  | 'checks' // checks decided: passing or critical, then maybe a flap and an exit
  | 'exit' // a later exit
  | 'flap' // checks go critical once
  | 'flap-checks' // and pass again
  | 'stop' // stopped
  | 'destroy'; // gone

/**
 * One run of a machine's lifecycle: boot (after a create, an update or a start), stop, destroy, or a
 * flap beside a booted machine's exit. Its phases are callbacks on clock timers, each resumed at the
 * microtask the async function they replaced resumed in (ChainSleeper), so the order of everything at
 * one instant of virtual time, and every draw, is unchanged.
 */
class LifecycleRun extends ChainSleeper {
  /** The phase slept, for the op log (undefined for a plain sleep). */
  op: SimLatencyOp | undefined = undefined;
  startMs = 0;

  constructor(
    private readonly lifecycle: MachineLifecycle,
    readonly record: SimMachineRecord,
    chain: Chain,
    public stage: Stage,
    readonly revert?: PreviousConfig,
  ) {
    super(chain);
  }

  resume(): void {
    this.lifecycle.resume(this);
  }

  /** A phase is logged one tick after its timer, where the `then` of its sleep logged it. */
  protected override ticked(tick: number): void {
    if (tick === 1 && this.op !== undefined) this.lifecycle.logPhase(this);
  }
}

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
  bootChain(record: SimMachineRecord, lead: 'create' | 'update' | null, revert?: PreviousConfig): void {
    const run = new LifecycleRun(this, record, this.newChain(record), lead ? 'lead' : 'boot', revert);
    this.phase(run, lead ?? 'boot');
  }

  stopChain(record: SimMachineRecord): void {
    this.phase(new LifecycleRun(this, record, this.newChain(record), 'stop'), 'stop');
  }

  beginDestroy(record: SimMachineRecord): void {
    record.target = 'destroyed';
    record.machine.state = 'destroying';
    record.machine.health = 'unknown';
    this.fleet.changed(record, 'state');
    this.phase(new LifecycleRun(this, record, this.newChain(record), 'destroy'), 'destroy');
  }

  /** A run's sleep is over: the next part of its lifecycle. */
  resume(run: LifecycleRun): void {
    const { record } = run;
    const m = record.machine;
    const faults = this.options.faults;
    switch (run.stage) {
      case 'lead':
        this.setState(record, 'starting');
        run.stage = 'boot';
        this.phase(run, 'boot');
        return;
      case 'boot': {
        const revert = run.revert;
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
        if (faults.bootFailureReleases.includes(m.release)) {
          run.stage = 'boot-failure';
          this.sleep(run, BOOT_FAILURE_AFTER_MS);
          return;
        }
        // A release command runs (modelled by a `checks` draw), exits 0 and the machine destroys itself
        // (Fly: auto_destroy). A failing command is a boot-failure release (above): `failed`, kept.
        run.stage = m.role === 'release-command' ? 'command' : 'checks';
        this.phase(run, 'checks');
        return;
      }
      case 'boot-failure':
      case 'exit':
        this.fail(record);
        return;
      case 'command':
        this.setState(record, 'stopped');
        this.beginDestroy(record);
        return;
      case 'checks': {
        if (faults.unhealthyReleases.includes(m.release)) {
          this.setHealth(record, 'critical');
          return;
        }
        this.setHealth(record, 'passing');
        const flap = this.rng.chance(faults.flapRate);
        const exit = this.rng.chance(faults.exitRate);
        const flapAfter = flap ? this.rng.between(FLAP_WINDOW_MS[0], FLAP_WINDOW_MS[1]) : 0;
        const exitAfter = exit ? this.rng.between(EXIT_WINDOW_MS[0], EXIT_WINDOW_MS[1]) : 0;
        if (flap) this.sleep(new LifecycleRun(this, record, run.chain, 'flap'), flapAfter);
        if (exit) {
          run.stage = 'exit';
          this.sleep(run, exitAfter);
        }
        return;
      }
      case 'flap':
        if (m.state !== 'started') return;
        this.setHealth(record, 'critical');
        run.stage = 'flap-checks';
        this.phase(run, 'checks');
        return;
      case 'flap-checks':
        if (m.state === 'started') this.setHealth(record, 'passing');
        return;
      case 'stop':
        record.chain = undefined;
        this.setState(record, 'stopped');
        return;
      case 'destroy':
        this.fleet.remove(record);
        return;
    }
  }

  /** A run's phase is over: in the op log, when it is kept. */
  logPhase(run: LifecycleRun): void {
    if (this.log.enabled)
      this.log.record({ machineId: run.record.machine.id, op: run.op!, startMs: run.startMs, endMs: this.clock.now() });
  }

  /** Sleep one sampled latency of `op`, logged (resumed where `await` of a `then` of the sleep did). */
  private phase(run: LifecycleRun, op: SimLatencyOp): void {
    const ms = latencyAt(this.options.latency[op], nextKeyedNormal(this.drawBase, run.record, op));
    run.op = op;
    run.startMs = this.clock.now();
    run.sleep(ms, 2);
  }

  /** A plain sleep, not logged (resumed where `await` of the sleep did). */
  private sleep(run: LifecycleRun, ms: number): void {
    run.op = undefined;
    run.sleep(ms, 1);
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
