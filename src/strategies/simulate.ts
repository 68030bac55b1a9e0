// A pure model of a plan running on a fleet: every step succeeds, every gate passes. Used for the plan
// estimate (extra machines, unavailability) and by the property tests (does the plan keep its budgets,
// does it end where it should, does re-planning after any prefix continue correctly).
//
// Within a wave steps run concurrently, so the model takes the worst moment of each wave: every machine
// touched by an update or destroy is out of traffic at once, every machine the wave creates exists
// before any destroy of the wave completes. A cutover moves traffic to the promoted machines before it
// cordons the retired ones (as the executor does), so it dips to the lower of before and after.

import type { MachineRef, Plan, Step, WaveKind } from '../domain/plan.js';
import type { Machine, ProcessGroup } from '../domain/types.js';
import { isAvailable, isGone } from './fleet-view.js';

export type ModelPlan = Pick<Plan, 'deployId' | 'app' | 'env' | 'target' | 'waves'>;

export interface GroupMoment {
  group: string;
  desired: number;
  liveBefore: number;
  liveDuring: number;
  liveAfter: number;
  availableBefore: number;
  availableDuring: number;
  availableAfter: number;
  /** Machines the wave takes below the desired count beyond what was already missing before it. */
  unavailableByPlan: number;
}

export interface ModelWave {
  index: number;
  kind: WaveKind;
  /** One per desired process group, in the order of the groups. */
  groups: GroupMoment[];
  /** Machines the wave creates (launch ids not in the fleet yet). */
  creates: number;
  /** Σ over desired groups of machines beyond the desired count, at the wave's worst moment. */
  groupExtrasDuring: number;
  /** groupExtrasDuring plus machines of groups no longer configured. */
  extrasDuring: number;
}

export interface ModelRun {
  fleet: Machine[];
  /** Extras (as `extrasDuring`) before the first wave. */
  initialExtras: number;
  waves: ModelWave[];
}

/** Apply a plan's waves (all, or the first `waves`) to a model fleet; returns the fleet afterwards. */
export function applyPlanToModel(
  fleet: readonly Machine[],
  plan: ModelPlan,
  options: { waves?: number } = {},
): Machine[] {
  return simulatePlan(fleet, plan, [], options).fleet;
}

export function simulatePlan(
  fleet: readonly Machine[],
  plan: ModelPlan,
  groups: readonly ProcessGroup[],
  options: { waves?: number } = {},
): ModelRun {
  const model = new FleetModel(fleet, plan, groups);
  const initialExtras = model.extras(model.live).total;
  const waves: ModelWave[] = [];
  const limit = Math.min(plan.waves.length, options.waves ?? plan.waves.length);
  for (let i = 0; i < limit; i++) waves.push(model.applyWave(plan.waves[i]!));
  // The fleet afterwards is made when asked for: the plan estimate never reads it.
  return {
    get fleet() {
      return model.machines();
    },
    initialExtras,
    waves,
  };
}

/**
 * Mutable model fleet. Counters per group are kept incrementally, so 10,000 machines stay fast. The
 * machines are copied when the first wave is applied: a plan without waves (the confirming re-plan of
 * a converged fleet) copies none, where copying 50,000 was most of what that re-plan allocated.
 */
export class FleetModel {
  /** Whether the maps hold the model's own copies yet (until then, the caller's machines, only read). */
  private copied = false;
  private readonly byId = new Map<string, Machine>();
  private readonly byLaunch = new Map<string, Machine>();
  private readonly names: string[];
  private readonly desired: number[];
  private readonly index = new Map<string, number>();
  /** Per desired group (by index): machines, and machines in traffic. */
  readonly live: number[];
  readonly available: number[];
  /** Machines of groups that are not desired. */
  private others = 0;

  constructor(
    fleet: readonly Machine[],
    private readonly plan: ModelPlan,
    groups: readonly ProcessGroup[],
  ) {
    this.names = groups.map((g) => g.name);
    this.desired = groups.map((g) => g.count);
    groups.forEach((g, i) => this.index.set(g.name, i));
    this.live = groups.map(() => 0);
    this.available = groups.map(() => 0);
    for (const m of fleet) this.add(m);
  }

  /** The fleet as the model has it: copies of its own (never the caller's machines). */
  machines(): Machine[] {
    const machines = [...this.byId.values()];
    return this.copied ? machines : machines.map(copy);
  }

  /** Copy every machine before the first change (the caller's fleet is never changed). */
  private copyAll(): void {
    this.copied = true;
    for (const m of [...this.byId.values()]) {
      const own = copy(m);
      this.byId.set(own.id, own);
      if (own.launchId !== undefined && this.byLaunch.get(own.launchId) === m) this.byLaunch.set(own.launchId, own);
    }
  }

  get(ref: MachineRef): Machine | undefined {
    const id = (ref as { machineId?: string }).machineId;
    return id !== undefined ? this.byId.get(id) : this.byLaunch.get((ref as { launchId: string }).launchId);
  }

  private tally(m: Machine, sign: 1 | -1): void {
    if (m.app !== this.plan.app || m.env !== this.plan.env || m.role === 'release-command' || isGone(m)) return;
    const i = this.index.get(m.group);
    if (i === undefined) {
      this.others += sign;
      return;
    }
    this.live[i]! += sign;
    if (isAvailable(m)) this.available[i]! += sign;
  }

  private add(m: Machine): void {
    this.byId.set(m.id, m);
    if (m.launchId !== undefined) this.byLaunch.set(m.launchId, m);
    this.tally(m, 1);
  }

  private remove(m: Machine): void {
    this.tally(m, -1);
    this.byId.delete(m.id);
    if (m.launchId !== undefined && this.byLaunch.get(m.launchId) === m) this.byLaunch.delete(m.launchId);
  }

  /** Machines are the model's own copies (made before the first wave), so they change in place. */
  private change(m: Machine, mutate: (m: Machine) => void): void {
    this.tally(m, -1);
    mutate(m);
    this.tally(m, 1);
  }

  private need(ref: MachineRef, step: Step): Machine {
    const m = this.get(ref);
    if (!m) throw new Error(`model: ${step.kind} step names a machine that does not exist: ${JSON.stringify(ref)}`);
    return m;
  }

  /** Extras for per-group machine counts `live`: Σ over desired groups of max(0, live − desired), and that plus other groups' machines. */
  extras(live: readonly number[]): { groups: number; total: number } {
    let groups = 0;
    for (let i = 0; i < live.length; i++) groups += Math.max(0, live[i]! - this.desired[i]!);
    return { groups, total: groups + this.others };
  }

  applyWave(wave: Plan['waves'][number]): ModelWave {
    if (!this.copied) this.copyAll();
    const liveBefore = this.live.slice();
    const availableBefore = this.available.slice();
    const liveDuring = this.live.slice();
    const availableDuring = this.available.slice();
    const cutover = this.names.map(() => 0);
    const touched = new Set<string>();
    let creates = 0;
    const dip = (m: Machine) => {
      if (touched.has(m.id)) return;
      touched.add(m.id);
      const i = this.index.get(m.group);
      if (i !== undefined && isAvailable(m)) availableDuring[i]!--;
    };

    // Worst moment of the wave.
    for (const step of wave.steps) {
      switch (step.kind) {
        case 'update':
          dip(this.byId.get(step.machineId) ?? this.need({ machineId: step.machineId }, step));
          break;
        case 'destroy':
          dip(this.need(step.machine, step));
          break;
        case 'create':
          if (!this.byLaunch.has(step.launchId)) {
            creates++;
            const i = this.index.get(step.group);
            if (i !== undefined) liveDuring[i]!++;
          }
          break;
        case 'cutover': {
          for (const ref of step.promote) {
            const m = this.need(ref, step);
            const i = this.index.get(m.group);
            if (i !== undefined && !isAvailable(m) && m.state !== 'failed') cutover[i]!++;
          }
          for (const id of step.cordon) {
            const m = this.need({ machineId: id }, step);
            const i = this.index.get(m.group);
            if (i !== undefined && isAvailable(m)) cutover[i]!--;
          }
          break;
        }
        case 'pause':
          break;
      }
    }
    for (let i = 0; i < cutover.length; i++) availableDuring[i]! += Math.min(0, cutover[i]!);
    const extras = this.extras(liveDuring);

    // Effects.
    for (const step of wave.steps) this.applyStep(step);

    const groups = this.names.map((group, i): GroupMoment => {
      const desired = this.desired[i]!;
      return {
        group,
        desired,
        liveBefore: liveBefore[i]!,
        liveDuring: liveDuring[i]!,
        liveAfter: this.live[i]!,
        availableBefore: availableBefore[i]!,
        availableDuring: availableDuring[i]!,
        availableAfter: this.available[i]!,
        unavailableByPlan: Math.max(0, desired - availableDuring[i]!) - Math.max(0, desired - availableBefore[i]!),
      };
    });
    return {
      index: wave.index,
      kind: wave.kind,
      groups,
      creates,
      groupExtrasDuring: extras.groups,
      extrasDuring: extras.total,
    };
  }

  /** One step's effect on success. Mirrors src/engine/step-runner.ts. */
  applyStep(step: Step): void {
    switch (step.kind) {
      case 'update': {
        const m = this.byId.get(step.machineId) ?? this.need({ machineId: step.machineId }, step);
        const deployId = this.plan.deployId;
        this.change(m, (x) => {
          x.release = step.to;
          x.instanceVersion = `model:${step.to}`;
          x.role = 'serving';
          x.state = 'started';
          x.health = 'passing';
          x.deployId = deployId;
          if (step.cordon) x.cordoned = step.gate !== 'checks';
        });
        break;
      }
      case 'create': {
        const existing = this.byLaunch.get(step.launchId);
        const promote = (x: Machine) => {
          x.state = 'started';
          x.health = 'passing';
          if (step.promote) {
            x.role = 'serving';
            x.cordoned = false;
          }
        };
        const source = step.standsFor !== undefined ? this.byId.get(step.standsFor) : undefined;
        if (existing) {
          this.change(existing, promote);
        } else {
          const m: Machine = {
            id: `model:${step.launchId}`,
            app: this.plan.app,
            env: this.plan.env,
            group: step.group,
            release: step.release,
            instanceVersion: `model:${step.release}`,
            role: step.role,
            state: 'started',
            health: 'passing',
            cordoned: step.cordoned,
            deployId: this.plan.deployId,
            launchId: step.launchId,
            // A stand-in runs where the machine it stands in for runs, with forks of its volumes if any.
            region: source?.region,
            volumes: step.forkVolumes ? source?.volumes?.map((v) => `${v}>${step.launchId}`) : undefined,
            createdAtMs: 0,
            updatedAtMs: 0,
          };
          promote(m);
          this.add(m);
        }
        break;
      }
      case 'cutover':
        for (const ref of step.promote) {
          this.change(this.need(ref, step), (x) => {
            x.role = 'serving';
            x.cordoned = false;
          });
        }
        for (const id of step.cordon) {
          this.change(this.need({ machineId: id }, step), (x) => {
            x.cordoned = true;
          });
        }
        break;
      case 'destroy':
        this.remove(this.need(step.machine, step));
        break;
      case 'pause':
        break;
    }
  }
}

/** The model's own copy, every field present in one order (one object shape keeps the model fast). */
function copy(m: Machine): Machine {
  return {
    id: m.id,
    app: m.app,
    env: m.env,
    group: m.group,
    release: m.release,
    instanceVersion: m.instanceVersion,
    role: m.role,
    state: m.state,
    health: m.health,
    cordoned: m.cordoned,
    deployId: m.deployId,
    launchId: m.launchId,
    region: m.region,
    volumes: m.volumes,
    createdAtMs: m.createdAtMs,
    updatedAtMs: m.updatedAtMs,
  };
}
