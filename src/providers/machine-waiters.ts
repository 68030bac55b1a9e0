// Waiting for a machine to meet a WaitCondition, shared by every provider: the verdict on the machine
// as it is (met, failed, or not yet), the waits registered per machine and judged on each of its
// changes (the sim and local providers, which see every change and so never poll), and the timeout
// error. Fly polls its API instead (fly/machine-wait.ts) and uses the verdict and the error from here.

import { listenForAbort, type AbortListening } from '../domain/abort-listeners.js';
import { after, NO_TIMER, type Clock, type TimerHandle } from '../domain/clock.js';
import type { Machine } from '../domain/types.js';
import { describeCondition, meets, ProviderError, type WaitCondition } from './contract.js';

/** A wait's verdict: the machine (met), the error it fails with, or undefined to keep waiting. */
export type WaitVerdict = { machine: Machine } | { error: ProviderError } | undefined;

/** How one provider words what went wrong with a machine. */
export interface VerdictWords {
  /** Put before each message ('fly: '; nothing for the in-process providers). */
  prefix?: string;
  /** After "machine <id> " when it exited (state failed). */
  exited(machine: Machine): string;
  /** After "machine <id> " when it went back to (or runs) another release or instance; undefined when it did not. */
  reverted?(machine: Machine): string | undefined;
  /** The machine handed to a met wait (default a shallow copy). */
  copy?(machine: Machine): Machine;
}

/**
 * The verdict on a machine that is there: met; machine_failed when it exited, reverted, or is stopped
 * while a start is awaited (it will not start by itself); otherwise undefined. `revertedWhy`, when given,
 * is used instead of `words.reverted` (so a provider judging every change needs no `words` per call).
 */
export function machineVerdict(
  id: string,
  machine: Machine,
  condition: WaitCondition,
  words: VerdictWords,
  revertedWhy?: string,
): WaitVerdict {
  if (meets(machine, condition)) return { machine: words.copy ? words.copy(machine) : { ...machine } };
  if (machine.state === 'failed') return machineFailed(words, id, words.exited(machine));
  const reverted = revertedWhy ?? words.reverted?.(machine);
  if (reverted !== undefined) return machineFailed(words, id, reverted);
  if (condition.state === 'started' && machine.state === 'stopped')
    return machineFailed(words, id, 'is stopped while waiting for it to start');
  return undefined;
}

function machineFailed(words: VerdictWords, id: string, what: string): WaitVerdict {
  const prefix = words.prefix ?? '';
  return {
    error: new ProviderError('machine_failed', `${prefix}machine ${id} ${what}`, { machineId: id, op: 'wait' }),
  };
}

/** A wait ran out: what it waited for and, when known, what the machine looks like. */
export function waitTimeoutError(
  prefix: string,
  id: string,
  condition: WaitCondition,
  timeoutMs: number,
  seen: Machine | undefined,
): ProviderError {
  const state = seen ? `; machine is ${seen.state}/${seen.health} on ${seen.release} (${seen.instanceVersion})` : '';
  return new ProviderError(
    'wait_timeout',
    `${prefix}machine ${id} did not reach ${describeCondition(condition)} within ${timeoutMs} ms${state}`,
    { machineId: id, op: 'wait' },
  );
}

/** The not_found a wait ends with when its machine is gone. */
export function goneError(prefix: string, id: string, where: string): ProviderError {
  return new ProviderError('not_found', `${prefix}machine ${id} not found${where} (destroyed)`, {
    status: 404,
    machineId: id,
    op: 'wait',
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/**
 * The waits on machines of one provider that sees every change of its machines: each wait is judged
 * now, then on every change it is told of (`changed`), until a verdict, its timeout or its signal.
 * `Record` is the provider's record of a machine, undefined once the machine is gone.
 */
export class MachineWaiters<Record> {
  /** The waits of each machine: one wait (the usual case, no collection), or several in arrival order. */
  private readonly byMachine = new Map<string, MachineWait<Record> | MachineWait<Record>[]>();

  constructor(private readonly clock: Clock) {}

  wait(
    id: string,
    current: Record | undefined,
    judge: (record: Record | undefined) => WaitVerdict,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timedOut: () => ProviderError,
  ): Promise<Machine> {
    return new Promise<Machine>((resolve, reject) =>
      this.add(new ClosureWait(id, signal, judge, timedOut, resolve, reject), current, timeoutMs),
    );
  }

  /**
   * Judge `wait` on `current` now (or fail it, when its signal has aborted); unless that settles it,
   * judge it on every change of its machine until a verdict, `timeoutMs` or its signal.
   */
  add(wait: MachineWait<Record>, current: Record | undefined, timeoutMs: number): void {
    const signal = wait.signal;
    if (signal?.aborted) return wait.settle(undefined, abortReason(signal));
    const first = wait.judge(current);
    if (first) return 'machine' in first ? wait.settle(first.machine, undefined) : wait.settle(undefined, first.error);
    wait.waiters = this;
    const id = wait.id;
    const waiting = this.byMachine.get(id);
    if (waiting === undefined) this.byMachine.set(id, wait);
    else if (Array.isArray(waiting)) waiting.push(wait);
    else this.byMachine.set(id, [waiting, wait]);
    if (signal) wait.listening = listenForAbort(signal, wait);
    wait.timer = after(this.clock, Math.max(0, timeoutMs), wait.timeout);
  }

  /** The machine changed (`record` undefined: it is gone): judge its waits again. */
  changed(id: string, record: Record | undefined): void {
    const waiting = this.byMachine.get(id);
    if (waiting === undefined) return;
    if (Array.isArray(waiting)) for (const wait of [...waiting]) wait.check(record);
    else waiting.check(record);
  }

  /** Judge every wait once more without its machine (on close: each then ends, as closed or gone). */
  endAll(): void {
    for (const [id, waiting] of [...this.byMachine]) {
      for (const wait of Array.isArray(waiting) ? [...waiting] : [waiting]) wait.check(undefined);
      this.byMachine.delete(id);
    }
  }

  /** A wait ended: it is no longer judged. */
  remove(wait: MachineWait<Record>): void {
    const waiting = this.byMachine.get(wait.id);
    if (waiting === wait) this.byMachine.delete(wait.id);
    else if (Array.isArray(waiting)) {
      const i = waiting.indexOf(wait);
      if (i >= 0) waiting.splice(i, 1);
      if (waiting.length === 0) this.byMachine.delete(wait.id);
    }
  }
}

/**
 * One wait on a machine, as one object: the abort listener itself (EventListener object), with one
 * closure (its timer's), since a 10,000-machine deploy makes tens of thousands of them. What it
 * judges and how it settles are its subclass's: a provider can make its wait the one object its call
 * keeps while waiting (the sim's, sim-wait.ts), with no closures or promise of its own.
 */
export abstract class MachineWait<Record> {
  timer: TimerHandle = NO_TIMER;
  /** Its listening to the signal, when it has one. */
  listening: AbortListening | undefined = undefined;
  /** Where it is registered (MachineWaiters.add). */
  waiters: MachineWaiters<Record> | undefined = undefined;
  /** Its timer's callback (and whatever else a subclass schedules with it once the wait is over). */
  readonly timeout: () => void;

  constructor(
    readonly id: string,
    readonly signal: AbortSignal | undefined,
  ) {
    // Made here, not as a class field: the TypeScript loader names every field's closure (a
    // defineProperty each), and a deploy makes one per wait.
    this.timeout = () => this.fire();
  }

  /** The verdict on the machine as it is now (undefined: not yet). */
  abstract judge(record: Record | undefined): WaitVerdict;
  /** What the wait fails with when its time is up. */
  abstract timedOut(): ProviderError;
  /** The wait is over: met with `machine`, or failed with `error` (when `machine` is undefined). */
  abstract settle(machine: Machine | undefined, error: unknown): void;

  /** `timeout` was called: the timer, unless a subclass scheduled it for its own use. */
  protected fire(): void {
    this.finish();
    this.settle(undefined, this.timedOut());
  }

  check(record: Record | undefined): void {
    const verdict = this.judge(record);
    if (!verdict) return;
    this.finish();
    if ('machine' in verdict) this.settle(verdict.machine, undefined);
    else this.settle(undefined, verdict.error);
  }

  /** The signal aborted (EventListener object). */
  handleEvent(): void {
    this.finish();
    this.settle(undefined, abortReason(this.signal!));
  }

  private finish(): void {
    this.waiters!.remove(this);
    this.timer.cancel();
    this.listening?.stop(this);
  }
}

/** A wait judged by closures, settling a promise at once. */
class ClosureWait<Record> extends MachineWait<Record> {
  constructor(
    id: string,
    signal: AbortSignal | undefined,
    private readonly judged: (record: Record | undefined) => WaitVerdict,
    private readonly timedOutError: () => ProviderError,
    private readonly resolve: (machine: Machine) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    super(id, signal);
  }

  judge(record: Record | undefined): WaitVerdict {
    return this.judged(record);
  }

  timedOut(): ProviderError {
    return this.timedOutError();
  }

  settle(machine: Machine | undefined, error: unknown): void {
    if (machine) this.resolve(machine);
    else this.reject(error);
  }
}
