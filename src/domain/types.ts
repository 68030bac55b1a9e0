// The words of DESIGN.md as types. No I/O here.

export const STRATEGIES = ['immediate', 'rolling', 'bluegreen', 'canary', 'waves'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export type ProviderName = 'sim' | 'local' | 'fly';

/** An immutable version of the app. `version` is the tag people type (`v42`). */
export interface Release {
  version: string;
  image: string;
  configDigest?: string;
  notes?: string;
  createdAtMs: number;
}

export type MachineRole = 'serving' | 'green' | 'canary' | 'surge' | 'release-command';

/**
 * Observed lifecycle state of a machine. `failed` means the machine's process exited on its own
 * (crash, boot failure); it is what version-pinned waits fail fast on.
 */
export type MachineState =
  'created' | 'starting' | 'started' | 'stopping' | 'stopped' | 'failed' | 'destroying' | 'destroyed';

export type HealthState = 'unknown' | 'passing' | 'critical';

/** One unit of the fleet, as a provider observes it right now. */
export interface Machine {
  id: string;
  app: string;
  env: string;
  group: string;
  /** Release version the machine is configured with (what it runs once started). */
  release: string;
  /**
   * Provider's version of the machine's config; changes on every update. Waits pin to it so a
   * machine that silently reverts is never counted as converged.
   */
  instanceVersion: string;
  role: MachineRole;
  state: MachineState;
  health: HealthState;
  /** A cordoned machine receives no traffic. New machines that must not serve yet are created cordoned. */
  cordoned: boolean;
  /** Deploy that created or last changed this machine. */
  deployId?: string;
  /** Idempotency key of the create that made this machine (`<deployId>:<group>:<role>:<n>`). */
  launchId?: string;
  /** Exit code of the machine's process once it exited (a release command's result), when known. */
  exitCode?: number;
  /** Where the machine runs (Fly region), for providers that have regions. */
  region?: string;
  /**
   * Volumes attached to the machine (Fly: `config.mounts[].volume`). A machine with volumes is never
   * replaced by one without them: its group rolls in place unless new volumes may be forked.
   */
  volumes?: string[];
  createdAtMs: number;
  updatedAtMs: number;
}

/** Machines of one app in one environment: the unit a deploy acts on. */
export interface FleetScope {
  app: string;
  env: string;
}

export type DeployStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'aborted'
  | 'rolled_back'
  /** A release command (or another release step) failed before any serving machine changed. */
  | 'release_command_failed'
  | 'halted';

export const TERMINAL_STATUSES: readonly DeployStatus[] = [
  'succeeded',
  'failed',
  'aborted',
  'rolled_back',
  'halted',
  'release_command_failed',
];

export type OnFailure = 'rollback' | 'halt';

/** After an abort: put back what the deploy changed, or leave the fleet as it is (settled). */
export type OnAbort = 'rollback' | 'leave';

/** A budget given as a count of machines or as a fraction of a process group (0 < f <= 1). */
export type MachineBudget = { count: number } | { fraction: number };

/** Strategy settings of one environment, after config layering and defaults. */
export interface StrategySettings {
  strategy: StrategyName;
  maxUnavailable: MachineBudget;
  maxSurge: MachineBudget;
  /**
   * Fleet-wide cap on extra machines at once, from a connection budget (every machine holds database
   * connections, so doubling the pool doubles them). Undefined when no budget is configured.
   */
  maxExtraTotal?: number;
  /** Why maxExtraTotal has its value (shown in the plan). */
  surgeReason?: string;
  /** Most provider operations in flight at once. */
  maxConcurrency: number;
  /** Longest wait for one machine to reach the target version and pass checks. */
  waitTimeoutMs: number;
  /** For `immediate`: how long after dispatch machines have to converge before they are stragglers. */
  convergenceTimeoutMs: number;
  onFailure: OnFailure;
  /** What an abort does once in-flight operations are done; default `rollback`. */
  onAbort?: OnAbort;
  /** For `bluegreen`: stop after greens pass checks until someone promotes. */
  pauseBeforeCutover: boolean;
  /** Grace between cordoning a machine and stopping it, for in-flight requests. */
  drainTimeoutMs: number;
  /**
   * How a machine created to stand in for one with volumes gets its own: `none` (default) creates no
   * volumes, so groups with volumes roll in place; `fork` forks the stood-in machine's volumes.
   */
  newVolumes?: NewVolumes;
  /**
   * Regions rolled one after another, each checked before the next (`*`: every region not named).
   * Undefined: every region at once.
   */
  regionOrder?: string[];
  /**
   * The environment analyses each step (src/analysis/): a step that would put many machines on the new
   * release into traffic at once (waves' surge) puts one per group in first, so analysis judges the
   * release on one machine's share of the traffic before the rest.
   */
  analysisSpearhead?: boolean;
}

export const NEW_VOLUMES = ['none', 'fork'] as const;
export type NewVolumes = (typeof NEW_VOLUMES)[number];

/** Desired shape of one process group. */
export interface ProcessGroup {
  name: string;
  count: number;
  command?: string;
}

/** A health check of a process group's machines (`[[app.checks]]`). */
export interface CheckConfig {
  name: string;
  type: 'http' | 'tcp';
  /** Process group the check applies to; undefined = every group. */
  group?: string;
  path?: string;
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  gracePeriodMs: number;
}

/** The command run once before a release's machines change (`[app] release_command`). */
export interface ReleaseCommandConfig {
  command: string;
  timeoutMs: number;
}

/** Resolve a budget against a group size: at least 1 when the budget is non-zero. */
export function resolveBudget(budget: MachineBudget, groupSize: number): number {
  if ('count' in budget) return Math.max(0, Math.floor(budget.count));
  if (budget.fraction <= 0 || groupSize <= 0) return 0;
  return Math.max(1, Math.ceil(budget.fraction * groupSize));
}

/** The operations a provider offers, each a call (strategies/api-calls.ts counts what a plan step costs in them). */
export type ProviderOp =
  'list' | 'get' | 'create' | 'update' | 'start' | 'stop' | 'destroy' | 'cordon' | 'uncordon' | 'wait';
