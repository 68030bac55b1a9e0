// Applies one plan step to the fleet through the provider. Each step is a short sequence of provider
// operations; between operations it checks the abort signal, so an abort stops a machine within one
// in-flight operation. Waits are pinned to the version the step put on the machine.

import type { CreateStep, CutoverStep, DestroyStep, MachineRef, Step, UpdateStep } from '../domain/plan.js';
import type { FleetScope, Machine, StrategySettings } from '../domain/types.js';
import type { Clock } from '../domain/clock.js';
import type { StoreGate } from './store-gate.js';
import type { OpLimit } from './op-limit.js';
import {
  ProviderError,
  type CallOptions,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
} from '../providers/contract.js';

/** Beyond the drain timeout, how long a machine may take to stop before it is killed. */
const STOP_GRACE_MS = 30_000;

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

export async function runStep(ctx: StepContext, step: Step, signal: AbortSignal): Promise<string | null> {
  switch (step.kind) {
    case 'update':
      return runUpdate(ctx, step, signal);
    case 'create':
      return runCreate(ctx, step, signal);
    case 'cutover':
      await runCutover(ctx, step, signal);
      return null;
    case 'destroy':
      return runDestroy(ctx, step, signal);
    case 'pause':
      await ctx.awaitPromote(signal);
      return null;
  }
}

/**
 * One provider operation under the concurrency limit. The signal is checked before the slot is taken
 * and again once it is ours (op-limit.ts), and handed to the provider, which drops the call if it is
 * still waiting for a rate-limit token: an abort never waits for operations that have not been sent.
 */
function op<T>(ctx: StepContext, signal: AbortSignal, fn: (call: CallOptions) => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  const call = { signal };
  // Never act on the fleet while the store cannot record it. (Not async: an open gate costs no
  // promise; this runs for every provider call of a deploy.)
  if (ctx.storeGate?.down) return ctx.storeGate.wait(signal).then(() => ctx.limit(fn, call));
  return ctx.limit(fn, call);
}

/**
 * Wait for the machine to run its release with passing checks; a failure names the machine. Not an
 * async function: every update step waits here for most of its time, and an async function's
 * generator outlived a scavenge or two with it. It settles on the tick the async function's
 * `return await` did (one after the wait's), and fails on it too.
 */
function waitReady(ctx: StepContext, machine: Machine, signal: AbortSignal, timeoutMs: number): Promise<Machine> {
  let waiting: Promise<Machine>;
  try {
    waiting = ctx.provider.waitFor(
      ctx.scope,
      machine.id,
      { state: 'started', healthy: true, release: machine.release, instanceVersion: machine.instanceVersion },
      timeoutMs,
      signal,
    );
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
function waitFailure(ctx: StepContext, machine: Machine, signal: AbortSignal, err: unknown): unknown {
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

/**
 * An update step: cordon (and drain), update unless the machine is already on the target, wait for it
 * checked, uncordon. Not an async function: a deploy runs one per machine, and its frame and the
 * closures and promises of its awaits were much of what a step cost. Each stage goes on one tick after
 * the call it waited for settled, where the `await` it replaced resumed, so the order of everything at
 * one instant of virtual time is unchanged.
 */
function runUpdate(ctx: StepContext, step: UpdateStep, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => startUpdate(ctx, step, signal, resolve, reject));
}

/**
 * An update step, ending in `succeeded` or `failed` on the tick `runStep(…).then(succeeded, failed)`
 * called them, without the promises between (the wave's steps, wave-runner.ts): runStep's promise
 * adopted the step's, and those two promises, their resolving functions and the adoption's reaction
 * lived as long as the step, for every machine of a deploy.
 */
export function startUpdate(
  ctx: StepContext,
  step: UpdateStep,
  signal: AbortSignal,
  succeeded: (machineId: string) => void,
  failed: (error: unknown) => void,
): void {
  const run = new UpdateRun(ctx, step, signal, succeeded, failed);
  run.next(undefined);
  // The tick the async runStep's promise adopted the step's (a `then` on it).
  void SETTLED.then(run.handOff);
}

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

class UpdateRun {
  /** What goes on when the call in flight settles. */
  private stage: 'start' | 'cordoned' | 'drained' | 'updated' | 'checking' | 'ready' | 'failing' | 'uncordoned' =
    'start';
  /** The machine as the update left it, while it is waited for (what a failed wait names). */
  private machine: Machine | undefined = undefined;
  /** What the wait failed with, named by `waitFailure` (stage 'failing'). */
  private failure: unknown = undefined;
  private readonly ok: (value: unknown) => void;
  private readonly stageFailed: (error: unknown) => void;
  /**
   * The end's way to `succeeded`/`failed`, as the promises did it: the adoption's tick ('adopting'),
   * then, once the step has ended too, a tick for each promise ('delivering', 'settling').
   */
  private ending: 'adopting' | 'adopted' | 'delivering' | 'settling' | 'done' = 'adopting';
  private ended = false;
  private endedOk = false;
  private outcome: unknown = undefined;
  /** Each tick of the way to the end. */
  readonly handOff: () => void;

  constructor(
    private readonly ctx: StepContext,
    private readonly step: UpdateStep,
    private readonly signal: AbortSignal,
    private readonly succeeded: (machineId: string) => void,
    private readonly stepFailed: (error: unknown) => void,
  ) {
    // Made here, not as class fields: the TypeScript loader names every field's closure (a defineProperty).
    this.ok = (value) => this.next(value);
    this.stageFailed = (error) => this.failed(error);
    this.handOff = () => this.handedOn();
  }

  /** The step ended (its promise would have settled now): only the first end counts, as a promise's. */
  private end(ok: boolean, outcome: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endedOk = ok;
    this.outcome = outcome;
    if (this.ending === 'adopted') this.deliver();
  }

  private resolve(machineId: string): void {
    this.end(true, machineId);
  }

  private reject(error: unknown): void {
    this.end(false, error);
  }

  private deliver(): void {
    this.ending = 'delivering';
    void SETTLED.then(this.handOff);
  }

  private handedOn(): void {
    switch (this.ending) {
      case 'adopting':
        this.ending = 'adopted';
        if (this.ended) this.deliver();
        return;
      case 'delivering':
        // runStep's promise settles here; its reaction, the caller's callback, runs a tick later.
        this.ending = 'settling';
        void SETTLED.then(this.handOff);
        return;
      case 'settling':
        this.ending = 'done';
        if (this.endedOk) this.succeeded(this.outcome as string);
        else this.stepFailed(this.outcome);
        return;
      default:
        return;
    }
  }

  /** Go on from the stage that waited, with what its call answered, until the next call or the end. */
  next(value: unknown): void {
    const { ctx, step, signal } = this;
    const { provider, scope } = ctx;
    try {
      switch (this.stage) {
        case 'start':
          if (step.cordon)
            return this.wait(
              'cordoned',
              op(ctx, signal, (call) => provider.cordon(scope, step.machineId, call)),
            );
          return this.update();
        case 'cordoned':
          if (provider.drain)
            return this.wait('drained', provider.drain(scope, step.machineId, ctx.settings.drainTimeoutMs));
          return this.update();
        case 'drained':
          return this.update();
        case 'updated':
          return this.updated(value as Machine);
        case 'checking':
          // waitReady's `then` settled here; the `await` on it resumed a tick later.
          this.stage = 'ready';
          void SETTLED.then(this.ok);
          return;
        case 'failing':
          return this.reject(this.failure);
        case 'ready':
          if (step.cordon)
            return this.wait(
              'uncordoned',
              op(ctx, signal, (call) => provider.uncordon(scope, step.machineId, undefined, call)),
            );
          return this.resolve(step.machineId);
        case 'uncordoned':
          return this.resolve(step.machineId);
      }
    } catch (error) {
      this.reject(error);
    }
  }

  /** The call in flight failed: the run fails with its error (a failed wait, named, a tick later). */
  private failed(error: unknown): void {
    if (this.stage !== 'checking') return this.reject(error);
    this.failLater(waitFailure(this.ctx, this.machine!, this.signal, error));
  }

  private failLater(failure: unknown): void {
    this.failure = failure;
    this.stage = 'failing';
    void SETTLED.then(this.ok);
  }

  /** Go on at `stage` one tick after `call` settles (as `await call` did); fail with its error. */
  private wait(stage: UpdateRun['stage'], call: unknown): void {
    this.stage = stage;
    void Promise.resolve(call).then(this.ok, this.stageFailed);
  }

  /**
   * Keyed by (machine, target version): a machine this deploy already put on the target (a resumed
   * deploy, a crash between update and uncordon) is only waited for, never updated twice.
   */
  private update(): void {
    const { ctx, step, signal } = this;
    const seen = ctx.known.get(step.machineId);
    const alreadyOnTarget =
      seen !== undefined && seen.release === step.to && seen.deployId === ctx.deployId && seen.state !== 'failed';
    if (alreadyOnTarget) return this.updated(seen);
    this.wait(
      'updated',
      op(ctx, signal, (call) =>
        ctx.provider.update(
          ctx.scope,
          step.machineId,
          withImage(ctx, { release: step.to, role: 'serving', deployId: ctx.deployId }),
          call,
        ),
      ),
    );
  }

  private updated(updated: Machine): void {
    const { ctx, step } = this;
    ctx.hooks.accepted();
    if (step.gate === 'none') ctx.hooks.dispatched(updated);
    if (step.gate === 'checks') return this.waitReady(updated);
    this.resolve(step.machineId);
  }

  /**
   * waitReady's wait, with what its `then` (naming a failure) and this run's `wait` did on their
   * ticks, without their promises and closure: a step waits here for most of its time.
   */
  private waitReady(machine: Machine): void {
    const { ctx, signal } = this;
    this.machine = machine;
    let waiting: Promise<Machine>;
    try {
      waiting = ctx.provider.waitFor(
        ctx.scope,
        machine.id,
        { state: 'started', healthy: true, release: machine.release, instanceVersion: machine.instanceVersion },
        ctx.settings.waitTimeoutMs,
        signal,
      );
    } catch (err) {
      // waitReady returned it rejected, named at once.
      return this.failLater(waitFailure(ctx, machine, signal, err));
    }
    this.stage = 'checking';
    void waiting.then(this.ok, this.stageFailed);
  }
}

async function runCreate(ctx: StepContext, step: CreateStep, signal: AbortSignal): Promise<string> {
  const { provider, scope } = ctx;
  const known = ctx.idByLaunch.get(step.launchId);
  const machine = await op(ctx, signal, (call) =>
    provider.create(
      scope,
      withImage(ctx, {
        group: step.group,
        release: step.release,
        role: step.role,
        cordoned: step.cordoned,
        launchId: step.launchId,
        deployId: ctx.deployId,
        ...(step.standsFor !== undefined ? { standsFor: step.standsFor } : {}),
        ...(step.forkVolumes ? { forkVolumes: true } : {}),
      }),
      call,
    ),
  );
  ctx.idByLaunch.set(step.launchId, machine.id);
  ctx.hooks.created(machine, known === undefined);
  ctx.hooks.accepted();
  if (step.gate === 'checks') await waitReady(ctx, machine, signal, ctx.settings.waitTimeoutMs);
  else ctx.hooks.dispatched(machine);
  if (step.promote) await op(ctx, signal, (call) => provider.uncordon(scope, machine.id, 'serving', call));
  return machine.id;
}

/** The change with the release's image, when the executor knows it (providers that run images need it). */
function withImage<T extends MachineSpec | MachineUpdate>(ctx: StepContext, change: T): T {
  const image = ctx.imageFor?.(change.release);
  return image === undefined ? change : { ...change, image };
}

function resolveRef(ctx: StepContext, ref: MachineRef): string {
  if ('machineId' in ref) return ref.machineId;
  const id = ctx.idByLaunch.get(ref.launchId);
  if (!id) throw new StepFailure(`no machine was created for launch ${ref.launchId}`, null);
  return id;
}

async function runCutover(ctx: StepContext, step: CutoverStep, signal: AbortSignal): Promise<void> {
  const { provider, scope } = ctx;
  const promote = step.promote.map((ref) => resolveRef(ctx, ref));
  // Traffic moves to the checked machines before the old ones leave, so capacity never dips.
  await Promise.all(promote.map((id) => op(ctx, signal, (call) => provider.uncordon(scope, id, 'serving', call))));
  ctx.hooks.accepted();
  await Promise.all(step.cordon.map((id) => op(ctx, signal, (call) => provider.cordon(scope, id, call))));
  for (const id of step.cordon) ctx.outOfTraffic.add(id);
}

async function runDestroy(ctx: StepContext, step: DestroyStep, signal: AbortSignal): Promise<string> {
  const { provider, scope } = ctx;
  const id = resolveRef(ctx, step.machine);
  try {
    if (step.drain) {
      if (!ctx.outOfTraffic.has(id)) await op(ctx, signal, (call) => provider.cordon(scope, id, call));
      if (provider.drain) await provider.drain(scope, id, ctx.settings.drainTimeoutMs);
      await op(ctx, signal, (call) => provider.stop(scope, id, { ...call, timeoutMs: ctx.settings.drainTimeoutMs }));
      // A graceful stop lets the process finish its requests; destroying it mid-stop would kill them.
      await provider
        .waitFor(scope, id, { state: 'stopped' }, ctx.settings.drainTimeoutMs + STOP_GRACE_MS, signal)
        .catch((err: unknown) => {
          // Not stopped in time (or it crashed while stopping): the destroy below kills it.
          if (signal.aborted || !(err instanceof ProviderError) || err.kind === 'not_found') throw err;
        });
    }
    await op(ctx, signal, (call) => provider.destroy(scope, id, call));
    // Gone means gone: counts of extra machines and the fleet after the deploy must be exact.
    await provider.waitFor(scope, id, { state: 'destroyed' }, ctx.settings.waitTimeoutMs, signal);
  } catch (err) {
    // Already gone is what we wanted.
    if (!(err instanceof ProviderError && err.kind === 'not_found')) throw err;
  }
  ctx.hooks.destroyed(id);
  ctx.hooks.accepted();
  return id;
}
