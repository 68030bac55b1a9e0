// An update step (cordon, update, wait for the machine checked, uncordon) as a small state machine on
// its calls' `then` callbacks: most steps of a deploy are updates, one per machine.

import type { UpdateStep } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';
import type { CallOptions } from '../providers/contract.js';
import type { OpCall, OpRunner } from './op-limit.js';
import { opWith, waitFailure, waitForRelease, withImage, type StepContext } from './step-context.js';

/**
 * An update step: cordon (and drain), update unless the machine is already on the target, wait for it
 * checked, uncordon. Not an async function: a deploy runs one per machine, and its frame and the
 * closures and promises of its awaits were much of what a step cost. Each stage goes on one tick after
 * the call it waited for settled, where the `await` it replaced resumed, so the order of everything at
 * one instant of virtual time is unchanged.
 */
export function runUpdate(ctx: StepContext, step: UpdateStep, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    startUpdate(ctx, step, signal, { stepSucceeded: resolve, stepFailed: reject }),
  );
}

/** Where an update step started by `startUpdate` ends. */
export interface UpdateEnd {
  stepSucceeded(machineId: string): void;
  stepFailed(error: unknown): void;
}

/**
 * An update step, ending in `end` on the tick `runStep(…).then(succeeded, failed)` called those
 * callbacks, without the promises between (the wave's steps, wave-runner.ts): runStep's promise
 * adopted the step's, and those two promises, their resolving functions and the adoption's reaction
 * lived as long as the step, for every machine of a deploy.
 */
export function startUpdate(ctx: StepContext, step: UpdateStep, signal: AbortSignal, end: UpdateEnd): void {
  const run = new UpdateRun(ctx, step, signal, end);
  run.next(undefined);
  // The tick the async runStep's promise adopted the step's (a `then` on it).
  void SETTLED.then(run.handOff);
}

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

/**
 * Where a call that queued for a slot is on its way back (`relayed`): the function's queued promise,
 * resolved with the call's, adopted it a tick after it was sent ('adopting'), settled a tick after it
 * ('answering'), and the step went on a tick after that ('delivering', 'failing').
 */
const enum Relay {
  None,
  Adopting,
  Answering,
  Delivering,
  Failing,
}

class UpdateRun implements OpRunner {
  /** What goes on when the call in flight settles. */
  private stage: 'start' | 'cordoned' | 'drained' | 'updated' | 'checking' | 'ready' | 'failing' | 'uncordoned' =
    'start';
  /** The machine as the update left it, while it is waited for (what a failed wait names). */
  private machine: Machine | undefined = undefined;
  /** What the wait failed with, named by `waitFailure` (stage 'failing'). */
  private failure: unknown = undefined;
  private readonly ok: (value: unknown) => void;
  /** Makes the step's provider calls (`send`), and the options they are all given. */
  readonly opFn: (call: CallOptions) => Promise<Machine>;
  private call: OpCall | undefined = undefined;
  /** The op limit's queue link, while a call of the step queues for a slot. */
  opNext: OpRunner | undefined = undefined;
  /** The call in flight holds a slot of the limit, which this run gives back when the call settles. */
  opHeld = false;
  private relay = Relay.None;
  /** The queued call's promise once sent, then what it settled with (`relay`). */
  private relaying: unknown = undefined;
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
    private readonly whenDone: UpdateEnd,
  ) {
    // Made here, not as class fields: the TypeScript loader names every field's closure (a defineProperty).
    this.ok = (value) => (this.relay === Relay.None ? this.answered(value) : this.relayed(value));
    this.opFn = (call) => this.sendCall(call);
    this.stageFailed = (error) => (this.relay === Relay.None ? this.refused(error) : this.relayFailed(error));
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
        if (this.endedOk) this.whenDone.stepSucceeded(this.outcome as string);
        else this.whenDone.stepFailed(this.outcome);
        return;
      default:
        return;
    }
  }

  /** Go on from the stage that waited, with what its call answered, until the next call or the end. */
  next(value: unknown): void {
    const { ctx, step } = this;
    const { provider, scope } = ctx;
    try {
      switch (this.stage) {
        case 'start':
          if (step.cordon) return this.send('cordoned');
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
          if (step.cordon) return this.send('uncordoned');
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
    const { ctx, step } = this;
    const seen = ctx.known.get(step.machineId);
    const alreadyOnTarget =
      seen !== undefined && seen.release === step.to && seen.deployId === ctx.deployId && seen.state !== 'failed';
    if (alreadyOnTarget) return this.updated(seen);
    this.send('updated');
  }

  /**
   * The provider call that leads to `stage` (cordon, update, uncordon), under the deploy's limit, and
   * on at `stage` one tick after it settles. The stage is set before the call is made: the one
   * closure that makes every call of the step (`sendFn`) knows by it which call to make.
   */
  private send(stage: 'cordoned' | 'updated' | 'uncordoned'): void {
    this.stage = stage;
    const { ctx } = this;
    const call = (this.call ??= { signal: this.signal });
    if (call.signal.aborted || ctx.storeGate?.down) return this.wait(stage, opWith(ctx, call, this.opFn));
    // Sent at once, or queued with this run as the entry (opStarted, once it is sent).
    const sent = ctx.limit.run(this);
    if (sent) void sent.then(this.ok, this.stageFailed);
  }

  get opCall(): OpCall {
    return this.call!;
  }

  /**
   * The queued call was sent: go on from it on the ticks the function's promise did, adopting the
   * call's promise a tick later, settling a tick after it, and its `then` a tick after that.
   */
  opStarted(answer: Promise<unknown>): void {
    this.relaying = answer;
    this.relay = Relay.Adopting;
    void SETTLED.then(this.ok);
  }

  /** The call in flight answered (or a stage's tick came): its slot back first, as the limit's `then` did. */
  private answered(value: unknown): void {
    this.releaseSlot();
    this.next(value);
  }

  private refused(error: unknown): void {
    this.releaseSlot();
    this.failed(error);
  }

  private releaseSlot(): void {
    if (!this.opHeld) return;
    this.opHeld = false;
    this.ctx.limit.release();
  }

  private relayed(value: unknown): void {
    switch (this.relay) {
      case Relay.Adopting: {
        const answer = this.relaying as Promise<unknown>;
        this.relaying = undefined;
        this.relay = Relay.Answering;
        void answer.then(this.ok, this.stageFailed);
        return;
      }
      case Relay.Answering:
        this.releaseSlot();
        this.relaying = value;
        this.relay = Relay.Delivering;
        void SETTLED.then(this.ok);
        return;
      default: {
        const outcome = this.relaying;
        const failed = this.relay === Relay.Failing;
        this.relaying = undefined;
        this.relay = Relay.None;
        if (failed) this.failed(outcome);
        else this.next(outcome);
      }
    }
  }

  private relayFailed(error: unknown): void {
    this.releaseSlot();
    this.relaying = error;
    this.relay = Relay.Failing;
    void SETTLED.then(this.ok);
  }

  /** The call `send` asked for (once the limit lets it go). */
  private sendCall(call: CallOptions): Promise<Machine> {
    const { ctx, step } = this;
    const { provider, scope } = ctx;
    switch (this.stage) {
      case 'cordoned':
        return provider.cordon(scope, step.machineId, call);
      case 'updated':
        return provider.update(
          scope,
          step.machineId,
          withImage(ctx, { release: step.to, role: 'serving', deployId: ctx.deployId }),
          call,
        );
      default:
        return provider.uncordon(scope, step.machineId, undefined, call);
    }
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
      waiting = waitForRelease(ctx, machine, ctx.settings.waitTimeoutMs, signal);
    } catch (err) {
      // waitReady returned it rejected, named at once.
      return this.failLater(waitFailure(ctx, machine, signal, err));
    }
    this.stage = 'checking';
    void waiting.then(this.ok, this.stageFailed);
  }
}
