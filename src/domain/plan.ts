// A plan is data (DESIGN.md, architecture 1): ordered waves of steps. Strategies build plans from the
// observed fleet; the executor applies them. Every step is idempotent and keyed by machine and
// target version, so a plan rebuilt from the fleet after a crash only contains what remains.

import type { MachineRole, ProcessGroup, Release, StrategyName, StrategySettings, Machine } from './types.js';

/** A machine named by id (exists now) or by launch id (created by an earlier step of this plan). */
export type MachineRef = { machineId: string } | { launchId: string };

/**
 * Update a machine in place to `to`. With `cordon`, the machine is taken out of traffic first and only
 * put back once it runs `to` and passes checks (waves: nothing serves the new release unchecked).
 * `gate: 'checks'` waits for the target version and passing checks; `'none'` only for the API to accept.
 */
export interface UpdateStep {
  kind: 'update';
  machineId: string;
  group: string;
  from: string;
  to: string;
  cordon: boolean;
  gate: 'checks' | 'none';
}

/**
 * Create a machine on `release`. `cordoned` machines get no traffic until promoted; `gate: 'checks'`
 * waits until it runs the release and passes checks.
 */
export interface CreateStep {
  kind: 'create';
  launchId: string;
  group: string;
  release: string;
  role: MachineRole;
  cordoned: boolean;
  gate: 'checks' | 'none';
  /**
   * Once the gate passes, uncordon the machine and mark it `serving` (scale-up creates, waves' surge
   * machines). Without it the machine stays an extra until a cutover promotes it (or it is destroyed).
   */
  promote: boolean;
  /**
   * The machine this one stands in for (green for blue, surge for the machine it replaces, canary for
   * the spearhead): the new machine goes to its region and copies its config.
   */
  standsFor?: string;
  /** Give the new machine forks of `standsFor`'s volumes (settings.newVolumes = fork). */
  forkVolumes?: boolean;
}

/** Put checked extra machines into traffic as `serving` and take `retire` out of traffic, in one step. */
export interface CutoverStep {
  kind: 'cutover';
  promote: MachineRef[];
  cordon: string[];
}

/** Cordon, drain, stop and destroy a machine (old blue, canary, surplus). */
export interface DestroyStep {
  kind: 'destroy';
  machine: MachineRef;
  group: string;
  /** Drain first: the machine may be serving traffic. */
  drain: boolean;
}

/** Wait for an explicit promote before going on (bluegreen `pause_before_cutover`). */
export interface PauseStep {
  kind: 'pause';
  reason: string;
}

export type Step = UpdateStep | CreateStep | CutoverStep | DestroyStep | PauseStep;

export type WaveKind =
  'spearhead' | 'batch' | 'create' | 'cutover' | 'destroy' | 'canary' | 'surge' | 'pause' | 'dispatch';

/** A set of steps run concurrently; the next wave starts when every step of this one is done. */
export interface Wave {
  index: number;
  kind: WaveKind;
  label: string;
  steps: Step[];
  /**
   * A rolling window instead of a barrier. Consecutive waves that carry a window run as one flow: a step
   * of a later wave starts as soon as its group has a free slot, instead of after the whole wave before.
   * `window[group]` is the group's slack when the flow starts: machines in traffic minus
   * (desired − max_unavailable); it may be zero or less. A step that takes a machine in traffic out
   * needs a slot; an update gives it back when the machine is checked and back in traffic, a drained
   * destroy keeps it (the machine never comes back), and every machine the flow promotes into traffic
   * (a promoted create, a cutover) adds one. So at every moment at least desired − max_unavailable
   * machines serve — the same guarantee as the barrier waves, which the model (simulate.ts) checks.
   */
  window?: Record<string, number>;
  /**
   * The regions this wave acts in when the plan rolls regions in order (settings.regionOrder). Waves of
   * different regions never run as one flow: each region is done and checked before the next starts.
   */
  regions?: string[];
}

export interface PlanInput {
  deployId: string;
  app: string;
  env: string;
  /** Every observed machine of the environment, including extras left by this or earlier deploys. */
  fleet: Machine[];
  target: Release;
  /** Desired process groups (name and count). */
  groups: ProcessGroup[];
  settings: StrategySettings;
}

export interface PlanEstimate {
  /** Most machines beyond the desired count that exist at once while the plan runs. */
  extraMachinesPeak: number;
  /** Most machines of one group out of traffic at once (cordoned, stopped or restarting). */
  unavailablePeak: number;
  /** Provider API calls the plan is expected to make, by operation. */
  apiCalls: Record<string, number>;
  apiCallsTotal: number;
}

export interface Plan {
  deployId: string;
  app: string;
  env: string;
  strategy: StrategyName;
  target: string;
  /** The release most serving machines ran before the plan (for rollback). */
  previous?: string;
  settings: StrategySettings;
  waves: Wave[];
  estimate: PlanEstimate;
  /** Human notes the plan wants to show (surge lowered for a connection budget, machines skipped...). */
  notes: string[];
}
