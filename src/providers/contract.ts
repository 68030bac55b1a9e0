// The one contract every provider (sim, local, fly) implements, and the shared contract test
// suite (test/providers/contract-suite.ts) checks. The executor only ever talks to this.

import type { TrafficSnapshot } from '../domain/traffic.js';
import type { FleetScope, Machine, MachineRole, ProviderOp } from '../domain/types.js';
import type { ProviderGate } from './provider-gate.js';

/** What a new machine should be. */
export interface MachineSpec {
  group: string;
  release: string;
  role: MachineRole;
  /** Created without traffic (Fly: skip_service_registration) until uncordoned. */
  cordoned: boolean;
  deployId?: string;
  /** Idempotency key: a provider never creates two machines with one launch id. */
  launchId: string;
  /** Extra environment (release command: RELEASE_COMMAND=1). */
  env?: Record<string, string>;
  /** Command override (release command machines). */
  command?: string;
  /**
   * Image reference of `release` (Release.image), filled by the executor when it knows the release.
   * Providers that run images (fly) need it; the sim ignores it. Absent: the provider finds the image
   * of a machine already on `release`, or derives one.
   */
  image?: string;
  /**
   * The machine the new one stands in for (green, surge, canary): providers with regions place the new
   * machine in its region and start from its config.
   */
  standsFor?: string;
  /**
   * Give the new machine forks of `standsFor`'s volumes. Without it a provider refuses to create a
   * machine standing in for one with volumes: a machine is never given without its volume.
   */
  forkVolumes?: boolean;
}

/** An in-place change of a machine's release (and optionally its role/deploy marker). */
export interface MachineUpdate {
  release: string;
  role?: MachineRole;
  deployId?: string;
  /** Image reference of `release`, as in MachineSpec.image. */
  image?: string;
}

/**
 * Per-call options. `signal` aborts a call that has not been sent yet (waiting for a rate-limit token
 * or a retry backoff); once sent, a call completes, so abort stops within one in-flight operation.
 */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface StopOptions extends CallOptions {
  /** Signal sent to the machine's process (e.g. SIGINT), not to be confused with `signal`. */
  killSignal?: string;
  timeoutMs?: number;
}

/**
 * A condition a wait is pinned to. `instanceVersion` or `release` pins it so that a machine that
 * comes back on another version never satisfies it.
 */
export interface WaitCondition {
  state: 'started' | 'stopped' | 'destroyed';
  release?: string;
  instanceVersion?: string;
  /** Also require passing checks (started only). */
  healthy?: boolean;
}

export type ProviderErrorKind =
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'bad_request'
  | 'machine_failed'
  | 'wait_timeout';

/** Every provider failure is one of these, so retries and messages are decided in one place. */
export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: {
      status?: number;
      retryAfterMs?: number;
      machineId?: string;
      op?: ProviderOp;
    } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  get retryable(): boolean {
    return this.kind === 'rate_limited' || this.kind === 'unavailable' || this.kind === 'timeout';
  }
}

/** The operations of a provider: a domain word (strategies count them), re-exported here for providers. */
export type { ProviderOp } from '../domain/types.js';

/** A change a provider observed on a machine. `machine` is the state after the change. */
export interface MachineEvent {
  type: 'created' | 'updated' | 'state' | 'health' | 'cordon' | 'destroyed';
  machine: Machine;
  atMs: number;
}

/** A wait's arguments: the machine (scope, id), what to wait for, for how long at most, and an abort signal. */
export type WaitArgs = [
  scope: FleetScope,
  id: string,
  condition: WaitCondition,
  timeoutMs: number,
  signal?: AbortSignal,
];

export interface Provider {
  readonly name: string;

  /** Every machine of the scope that is not destroyed, including extra (green/canary/surge) machines. */
  list(scope: FleetScope, options?: CallOptions): Promise<Machine[]>;
  get(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine>;
  /**
   * Create and start a machine. Idempotent by `spec.launchId`: if a machine with that launch id
   * already exists, it is returned instead of creating another.
   */
  create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine>;
  /** Change the machine's release in place; the machine restarts on it. Returns the new instanceVersion. */
  update(scope: FleetScope, id: string, update: MachineUpdate, options?: CallOptions): Promise<Machine>;
  start(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine>;
  stop(scope: FleetScope, id: string, options?: StopOptions): Promise<Machine>;
  destroy(scope: FleetScope, id: string, options?: CallOptions): Promise<void>;
  cordon(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine>;
  /** Put the machine into traffic. Also marks an extra machine as `serving` when `role` is given. */
  uncordon(scope: FleetScope, id: string, role?: MachineRole, options?: CallOptions): Promise<Machine>;
  /**
   * Resolve when the machine meets `condition`; reject fast with `machine_failed` when it exits,
   * with `not_found` if destroyed (unless waiting for destroyed), with `wait_timeout` after `timeoutMs`.
   * Event-driven where the provider has events. Implementations take `...[scope, id, condition,
   * timeoutMs, signal]: WaitArgs`, so the signature is written once; the waiting is machine-waiters.ts.
   */
  waitFor(...args: WaitArgs): Promise<Machine>;
  /**
   * Wait until requests in flight on a cordoned machine have finished (at most `timeoutMs`).
   * Providers whose proxy tracks connections implement it; others rely on the machine's graceful stop.
   */
  drain?(scope: FleetScope, id: string, timeoutMs: number): Promise<void>;
  /**
   * Output of a machine's process (a release command's log), oldest line first, where the provider can
   * read it. Not an API call of the Fly Machines API (its logs live elsewhere), so optional.
   */
  logs?(scope: FleetScope, id: string): Promise<string[]>;
  /**
   * Refuse a release the provider cannot run (local: its artifact or a command is missing) with a
   * `bad_request` ProviderError, before any machine changes. The executor calls it first; providers
   * that only learn it when a machine boots leave it out.
   */
  checkRelease?(scope: FleetScope, release: string, options?: CallOptions): Promise<void>;
  /**
   * Requests the provider's own proxy answered, per machine, counted since the proxy started
   * (analysis' `proxy` source). Only providers that route requests themselves (local) have it.
   */
  traffic?(scope: FleetScope, options?: CallOptions): Promise<TrafficSnapshot>;
  /**
   * Closed while the provider does not answer (providers behind a ResilientProvider that rides out
   * outages): the deploy says it is waiting for the provider, and since when.
   */
  readonly gate?: ProviderGate;
  /**
   * Be told of every answer of the provider's API that shows it is there (not a 5xx, a 429 or a
   * timeout), for providers whose calls make several requests (fly: a wait is slices and GETs, a
   * change takes a lease): a call that fails in the end still heard the provider answer. The
   * ResilientProvider opens its gate on each. Returns the unsubscribe function.
   */
  onAnswer?(listener: () => void): () => void;
  /** Subscribe to machine changes of a scope; returns an unsubscribe function. */
  subscribe?(scope: FleetScope, listener: (event: MachineEvent) => void): () => void;
  /**
   * The deploy this provider's changes are for, told by the engine before its first change. Providers
   * with machine leases (fly) clear, rather than wait out, the leases Fly handed a dead earlier run of
   * the same deploy with the machines it created (a resume, a takeover).
   */
  workingFor?(deployId: string): void;
  close?(): Promise<void>;
}

/** A wait condition as errors name it: `started healthy on v2 (3)`. Shared so every provider says it alike. */
export function describeCondition(condition: WaitCondition): string {
  const parts: string[] = [condition.state];
  if (condition.healthy) parts.push('healthy');
  if (condition.release !== undefined) parts.push(`on ${condition.release}`);
  if (condition.instanceVersion !== undefined) parts.push(`(${condition.instanceVersion})`);
  return parts.join(' ');
}

/** True when the machine satisfies a wait condition. Shared so every provider judges alike. */
export function meets(machine: Machine, condition: WaitCondition): boolean {
  if (condition.release !== undefined && machine.release !== condition.release) return false;
  if (condition.instanceVersion !== undefined && machine.instanceVersion !== condition.instanceVersion) return false;
  if (condition.state === 'destroyed') return machine.state === 'destroyed';
  if (machine.state !== condition.state) return false;
  if (condition.healthy && machine.health !== 'passing') return false;
  return true;
}
