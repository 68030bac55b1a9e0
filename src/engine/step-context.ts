// What a plan step runs with (StepContext), and what every kind of step does with it: a provider
// operation under the deploy's limit, the wait for a machine to run its release with passing checks
// and what its failure says, a change with the release's image (step-runner.ts, update-run.ts).

import type { FleetScope, Machine, StrategySettings } from '../domain/types.js';
import type { Clock } from '../domain/clock.js';
import type { StoreGate } from './store-gate.js';
import type { OpCall, OpLimit } from './op-limit.js';
import {
  ProviderError,
  type CallOptions,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
} from '../providers/contract.js';

export class StepFailure extends Error {
  constructor(
    message: string,
    readonly machineId: string | null,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

export interface StepHooks {
  /** A machine-changing call was accepted (for time-to-dispatch). */
  accepted(): void;
  created(machine: Machine, isNew: boolean): void;
  destroyed(machineId: string): void;
  failedMachine(machineId: string): void;
  /** The step changed a machine; for immediate's convergence tracking. */
  dispatched(machine: Machine): void;
}

export interface StepContext {
  /** Marked on every machine the deploy creates or changes, so its work is traceable on the fleet. */
  deployId: string;
  provider: Provider;
  scope: FleetScope;
  clock: Clock;
  settings: StrategySettings;
  /** Bounds provider operations in flight (waits are not operations: they hold no API slot). */
  limit: OpLimit;
  /** Machine ids by launch id, for steps that name machines created earlier in the plan. */
  idByLaunch: Map<string, string>;
  /** Machines as observed when the plan was made. */
  known: Map<string, Machine>;
  /** Machines this plan already took out of traffic (a cutover's blues): their destroy needs no cordon. */
  outOfTraffic: Set<string>;
  hooks: StepHooks;
  /** Closed while the store is unreachable: no operation starts until it answers again. */
  storeGate?: StoreGate;
  /** Wait for an explicit promote (bluegreen pause_before_cutover). */
  awaitPromote(signal: AbortSignal): Promise<void>;
  /**
   * Image of a release version, when the executor knows the release (the target, the rollback
   * release). Providers that run images (fly) put it on the machine; undefined lets them find it.
   */
  imageFor?(version: string): string | undefined;
}

/**
 * One provider operation under the concurrency limit. The signal is checked before the slot is taken
 * and again once it is ours (op-limit.ts), and handed to the provider, which drops the call if it is
 * still waiting for a rate-limit token: an abort never waits for operations that have not been sent.
 */
export function op<T>(ctx: StepContext, signal: AbortSignal, fn: (call: CallOptions) => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  return opWith(ctx, { signal }, fn);
}

/** `op` with the call's options given (a step may hand every call it makes the same options). */
export function opWith<T>(ctx: StepContext, call: OpCall, fn: (call: CallOptions) => Promise<T>): Promise<T> {
  const signal = call.signal;
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  // Never act on the fleet while the store cannot record it. (Not async: an open gate costs no
  // promise; this runs for every provider call of a deploy.)
  if (ctx.storeGate?.down) return ctx.storeGate.wait(signal).then(() => ctx.limit(fn, call));
  return ctx.limit(fn, call);
}

/** The provider's wait for `machine` to be started with passing checks on its release (and instance). */
export function waitForRelease(
  ctx: StepContext,
  machine: Machine,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Machine> {
  return ctx.provider.waitFor(
    ctx.scope,
    machine.id,
    { state: 'started', healthy: true, release: machine.release, instanceVersion: machine.instanceVersion },
    timeoutMs,
    signal,
  );
}

/**
 * Wait for the machine to run its release with passing checks; a failure names the machine. Not an
 * async function: every update step waits here for most of its time, and an async function's
 * generator outlived a scavenge or two with it. It settles on the tick the async function's
 * `return await` did (one after the wait's), and fails on it too.
 */
export function waitReady(
  ctx: StepContext,
  machine: Machine,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<Machine> {
  let waiting: Promise<Machine>;
  try {
    waiting = waitForRelease(ctx, machine, timeoutMs, signal);
  } catch (err) {
    // Thrown before it returned: the async function's catch ran at once and rejected its promise.
    return Promise.reject(waitFailure(ctx, machine, signal, err));
  }
  // An inline closure: one in a named const would be named (a defineProperty) by the TypeScript loader.
  return waiting.then(undefined, (err: unknown) => {
    throw waitFailure(ctx, machine, signal, err);
  });
}

/** What a failed wait fails its step with: an abort as it is, anything else naming the machine. */
export function waitFailure(ctx: StepContext, machine: Machine, signal: AbortSignal, err: unknown): unknown {
  if (signal.aborted) return err;
  ctx.hooks.failedMachine(machine.id);
  return new StepFailure(describeWaitFailure(machine, err), machine.id, err);
}

function describeWaitFailure(machine: Machine, err: unknown): string {
  if (err instanceof ProviderError) {
    if (err.kind === 'wait_timeout')
      return `machine ${machine.id} (${machine.group}) did not run ${machine.release} with passing checks in time`;
    if (err.kind === 'machine_failed')
      return `machine ${machine.id} (${machine.group}) failed on ${machine.release}: ${err.message}`;
  }
  return `machine ${machine.id} (${machine.group}): ${err instanceof Error ? err.message : String(err)}`;
}

/** The change with the release's image, when the executor knows it (providers that run images need it). */
export function withImage<T extends MachineSpec | MachineUpdate>(ctx: StepContext, change: T): T {
  const image = ctx.imageFor?.(change.release);
  return image === undefined ? change : { ...change, image };
}
