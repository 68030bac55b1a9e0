// One wave of a plan, its steps in parallel under the wave's window (at most so many machines of a
// group out of traffic at once): the first failure stops the wave (no new step starts, in-flight ones
// finish), an abort stops it the same way, and a window that can never free a slot ends it with an error.

import type { Step, Wave } from '../domain/plan.js';
import { AbortFanout, type FanoutChild } from '../domain/abort-fanout.js';
import { after } from '../domain/clock.js';
import { describeError } from './errors.js';
import type { DeployPhase, ProgressListener } from './progress.js';
import { runStep, startUpdate, StepFailure, type StepContext, type UpdateEnd } from './step-runner.js';
import { promotedGroups, stepGroup, stepMachine, takesOutOfTraffic } from './wave-flow.js';
import { WindowSlots, type SlotWaiter } from './window-slots.js';

export type Outcome = { ok: true } | { ok: false; error: string; aborted: boolean };

/** What a wave needs of the deploy running it. */
export interface WaveHost {
  /** The deploy's abort signal. */
  signal: AbortSignal;
  phase: DeployPhase;
  emit: ProgressListener;
  note(kind: string, message: string, data?: unknown, machineId?: string | null, wave?: number | null): void;
  flush(): Promise<void>;
}

export async function runWave(host: WaveHost, ctx: StepContext, wave: Wave, waves: number): Promise<Outcome> {
  host.emit({ type: 'wave-start', wave, waves, phase: host.phase });
  host.note('wave_started', wave.label, { kind: wave.kind, steps: wave.steps.length }, null, wave.index);
  const run = new WaveRun(host, ctx, wave);
  // Once every step has started or queued for a slot (this instant's microtasks have run, before the
  // clock moves on): is any of them able to run at all?
  after(ctx.clock, 0, run.checkStuck);
  // Every step settles its StepJoin where an async step function would have returned, so the wave
  // goes on in the tick Promise.all over such functions did.
  await new Promise<void>((resolve, reject) => {
    const join = new StepJoin(wave.steps.length, resolve, reject);
    for (const step of wave.steps) new StepRun(run, step, join).begin();
  });
  const failure = run.failure;
  const ok = !failure && !host.signal.aborted;
  host.emit({ type: 'wave-end', wave, ok, phase: host.phase });
  host.note('wave_finished', wave.label, { ok }, null, wave.index);
  await host.flush();
  if (host.signal.aborted) {
    const reason = host.signal.reason;
    return { ok: false, error: reason instanceof Error ? reason.message : 'aborted', aborted: true };
  }
  if (failure) return { ok: false, error: describeError(failure), aborted: false };
  return { ok: true };
}

/** What the steps of one wave share: its window's slots, its abort, its first failure. */
class WaveRun {
  readonly waveAbort = new AbortController();
  // Each step listens to a signal of its own: one shared by thousands of waits is quadratic.
  readonly fanout: AbortFanout;
  readonly slots: Map<string, WindowSlots>;
  failure: StepFailure | Error | undefined;
  /**
   * Steps past their slot and not finished. When none is left while steps still wait for a slot,
   * nothing can ever free one: stop with an error rather than wait forever.
   */
  running = 0;
  readonly checkStuck: () => void;

  constructor(
    readonly host: WaveHost,
    readonly ctx: StepContext,
    readonly wave: Wave,
  ) {
    this.fanout = new AbortFanout([host.signal, this.waveAbort.signal]);
    const slots = new Map(Object.entries(wave.window ?? {}).map(([group, size]) => [group, new WindowSlots(size)]));
    this.slots = slots;
    this.fanout.onAbort((reason) => {
      for (const slot of slots.values()) slot.stop(reason);
    });
    this.checkStuck = () => {
      if (this.running > 0 || this.failure) return;
      const stuck = [...slots].filter(([, s]) => s.queued > 0);
      if (stuck.length === 0) return;
      this.failure = new Error(
        `no machine can leave traffic without going below desired − max_unavailable (${stuck.map(([g, s]) => `${g}: ${s.queued} waiting`).join(', ')}); nothing was left half-done`,
      );
      this.waveAbort.abort(this.failure);
    };
  }
}

const RESOLVED = Promise.resolve();

/**
 * Promise.all over the wave's steps without a promise per step: a step that ends settles it one tick
 * later, where Promise.all's reaction to that step's promise ran.
 */
class StepJoin {
  private left: number;
  private readonly settle: () => void;
  private error: { reason: unknown } | undefined;

  constructor(
    count: number,
    private readonly resolve: () => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    this.left = count;
    this.settle = () => (this.error ? this.reject(this.error.reason) : this.resolve());
    if (count === 0) resolve();
  }

  done(): void {
    if (--this.left === 0 && !this.error) void RESOLVED.then(this.settle);
  }

  /** A step threw (a progress listener did): the wave rejects, as Promise.all did, other steps go on. */
  threw(reason: unknown): void {
    if (this.error) return;
    this.error = { reason };
    void RESOLVED.then(this.settle);
  }
}

/**
 * One step of a wave, as callbacks on what it waits for (its slot, then its step), not an async
 * function: each goes on in the tick an await on the same promise resumed, so the event trace is that
 * of the async function it replaced.
 */
class StepRun implements SlotWaiter, UpdateEnd {
  private readonly ref: string | null;
  private readonly slot: WindowSlots | undefined;
  private child: FanoutChild | undefined;
  private counted = false;
  /** Its callbacks, made when first needed: a wave's steps may wait for a slot for most of the wave. */
  private succeeded: ((machineId: string | null) => void) | undefined;
  private failed: ((err: unknown) => void) | undefined;

  constructor(
    private readonly run: WaveRun,
    private readonly step: Step,
    private readonly join: StepJoin,
  ) {
    this.ref = stepMachine(step);
    const group = stepGroup(step);
    this.slot =
      run.slots.get(group ?? '') && takesOutOfTraffic(step, run.ctx.known) ? run.slots.get(group!) : undefined;
  }

  /** Slots are requested in step order, before any wait, so the window is first come first served. */
  begin(): void {
    if (this.slot) this.slot.enter(this);
    else this.granted();
  }

  /** Its slot is there (or it needs none): it starts on the next tick, as an await on that did. */
  granted(): void {
    void RESOLVED.then(() => {
      try {
        this.start();
      } catch (err) {
        this.caught(err);
      }
    });
  }

  /** No slot for it (the wave stopped): it fails on the next tick, as an await on that did. */
  refused(reason: unknown): void {
    this.callbacks();
    void Promise.reject(reason).then(undefined, this.failed);
  }

  /** Made here, not as class fields: the TypeScript loader names every field's closure (a defineProperty). */
  private callbacks(): void {
    this.succeeded ??= (machineId) => this.stepSucceeded(machineId);
    this.failed ??= (err) => this.caught(err);
  }

  /** The step returned (UpdateEnd, and the `succeeded` callback). */
  stepSucceeded(machineId: string | null): void {
    try {
      this.succeed(machineId);
    } catch (err) {
      this.caught(err);
      return;
    }
    this.finish(false);
  }

  /** The step threw (UpdateEnd). */
  stepFailed(err: unknown): void {
    this.caught(err);
  }

  /** The async function's catch: the step stopped or failed. */
  private caught(err: unknown): void {
    try {
      this.fail(err);
    } catch (thrown) {
      this.finish(true, thrown);
      return;
    }
    this.finish(false);
  }

  private start(): void {
    const { run, step } = this;
    // The step's signal is made once it has its slot: thousands of steps may wait for one.
    this.child = run.fanout.child();
    const signal = this.child.signal;
    run.running++;
    this.counted = true;
    run.host.emit({ type: 'step', step, machineId: this.ref, status: 'started' });
    // An update (most steps of a deploy) ends here on the ticks a `then` on runStep did, with no
    // promise or callback of its own.
    if (step.kind === 'update') return startUpdate(run.ctx, step, signal, this);
    this.callbacks();
    void runStep(run.ctx, step, signal).then(this.succeeded, this.failed);
  }

  private succeed(machineId: string | null): void {
    const { run, step, slot } = this;
    // A drained destroy keeps its slot: that machine never comes back into traffic.
    if (slot && !(step.kind === 'destroy' && step.drain)) slot.release();
    // A machine promoted into traffic opens a slot of its group's window.
    for (const group of promotedGroups(step, run.ctx)) run.slots.get(group)?.grant();
    run.host.emit({ type: 'step', step, machineId, status: 'succeeded' });
    run.host.note('step_succeeded', step.kind, undefined, machineId, run.wave.index);
  }

  private fail(err: unknown): void {
    const { run, step, ref } = this;
    // Stopped because another step failed or the deploy was aborted: not a failure of its own.
    if (run.fanout.signalAborted) {
      run.host.emit({ type: 'step', step, machineId: ref, status: 'skipped' });
      return;
    }
    const message = describeError(err);
    run.host.emit({ type: 'step', step, machineId: ref, status: 'failed', error: message });
    run.host.note('step_failed', message, undefined, err instanceof StepFailure ? err.machineId : ref, run.wave.index);
    if (!run.failure) {
      run.failure = err instanceof Error ? err : new Error(message);
      // One failed machine stops the wave: no new operations start; in-flight ones finish.
      run.waveAbort.abort(new Error('wave stopped: another machine failed'));
    }
  }

  /** The async function's finally, then its end: returned, or threw `thrown`. */
  private finish(threw: boolean, thrown?: unknown): void {
    const { run } = this;
    try {
      this.child?.done();
      if (this.counted) run.running--;
      // After the microtasks this step's end released: a step it handed a slot to is running then.
      if (run.running === 0) after(run.ctx.clock, 0, run.checkStuck);
    } catch (err) {
      this.join.threw(err);
      return;
    }
    if (threw) this.join.threw(thrown);
    else this.join.done();
  }
}
