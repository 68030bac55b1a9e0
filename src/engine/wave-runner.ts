// One wave of a plan, its steps in parallel under the wave's window (at most so many machines of a
// group out of traffic at once): the first failure stops the wave (no new step starts, in-flight ones
// finish), an abort stops it the same way, and a window that can never free a slot ends it with an error.

import type { Wave } from '../domain/plan.js';
import { AbortFanout } from '../domain/abort-fanout.js';
import { describeError } from './errors.js';
import type { DeployPhase, ProgressListener } from './progress.js';
import { runStep, StepFailure, type StepContext } from './step-runner.js';
import { promotedGroups, stepGroup, stepMachine, takesOutOfTraffic } from './wave-flow.js';
import { WindowSlots } from './window-slots.js';

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
  const waveAbort = new AbortController();
  // Each step listens to a signal of its own: one shared by thousands of waits is quadratic.
  const fanout = new AbortFanout([host.signal, waveAbort.signal]);
  let failure: StepFailure | Error | undefined;
  const slots = new Map(Object.entries(wave.window ?? {}).map(([group, size]) => [group, new WindowSlots(size)]));
  fanout.onAbort((reason) => {
    for (const slot of slots.values()) slot.stop(reason);
  });
  // Steps past their slot and not finished. When none is left while steps still wait for a slot,
  // nothing can ever free one: stop with an error rather than wait forever.
  let running = 0;
  const checkStuck = () => {
    if (running > 0 || failure) return;
    const stuck = [...slots].filter(([, s]) => s.queued > 0);
    if (stuck.length === 0) return;
    failure = new Error(
      `no machine can leave traffic without going below desired − max_unavailable (${stuck.map(([g, s]) => `${g}: ${s.queued} waiting`).join(', ')}); nothing was left half-done`,
    );
    waveAbort.abort(failure);
  };
  // Once every step has started or queued for a slot: is any of them able to run at all?
  setImmediate(checkStuck);
  await Promise.all(
    wave.steps.map(async (step) => {
      const ref = stepMachine(step);
      // Slots are requested in step order, before any await, so the window is first come first served.
      const slot =
        slots.get(stepGroup(step) ?? '') && takesOutOfTraffic(step, ctx.known)
          ? slots.get(stepGroup(step)!)
          : undefined;
      const acquired = slot?.acquire();
      // The step's signal is made once it has its slot: thousands of steps may wait for one.
      let child: { signal: AbortSignal; done(): void } | undefined;
      let counted = false;
      try {
        await acquired;
        child = fanout.child();
        const signal = child.signal;
        running++;
        counted = true;
        host.emit({ type: 'step', step, machineId: ref, status: 'started' });
        const machineId = await runStep(ctx, step, signal);
        // A drained destroy keeps its slot: that machine never comes back into traffic.
        if (slot && !(step.kind === 'destroy' && step.drain)) slot.release();
        // A machine promoted into traffic opens a slot of its group's window.
        for (const group of promotedGroups(step, ctx)) slots.get(group)?.grant();
        host.emit({ type: 'step', step, machineId, status: 'succeeded' });
        host.note('step_succeeded', step.kind, undefined, machineId, wave.index);
      } catch (err) {
        // Stopped because another step failed or the deploy was aborted: not a failure of its own.
        if (fanout.signalAborted) {
          host.emit({ type: 'step', step, machineId: ref, status: 'skipped' });
          return;
        }
        const message = describeError(err);
        host.emit({ type: 'step', step, machineId: ref, status: 'failed', error: message });
        host.note('step_failed', message, undefined, err instanceof StepFailure ? err.machineId : ref, wave.index);
        if (!failure) {
          failure = err instanceof Error ? err : new Error(message);
          // One failed machine stops the wave: no new operations start; in-flight ones finish.
          waveAbort.abort(new Error('wave stopped: another machine failed'));
        }
      } finally {
        child?.done();
        if (counted) running--;
        // After the microtasks this step's end released: a step it handed a slot to is running then.
        if (running === 0) setImmediate(checkStuck);
      }
    }),
  );
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
