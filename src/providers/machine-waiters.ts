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
  /** The waits of each machine: one Waiter (the usual case, no collection), or several in arrival order. */
  private readonly byMachine = new Map<string, Waiter<Record> | Waiter<Record>[]>();

  constructor(private readonly clock: Clock) {}

  wait(
    id: string,
    current: Record | undefined,
    judge: (record: Record | undefined) => WaitVerdict,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    timedOut: () => ProviderError,
  ): Promise<Machine> {
    return new Promise<Machine>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const first = judge(current);
      if (first) return 'machine' in first ? resolve(first.machine) : reject(first.error);
      const waiter = new Waiter(this, id, judge, signal, timedOut, resolve, reject);
      const waiting = this.byMachine.get(id);
      if (waiting === undefined) this.byMachine.set(id, waiter);
      else if (Array.isArray(waiting)) waiting.push(waiter);
      else this.byMachine.set(id, [waiting, waiter]);
      if (signal) waiter.listening = listenForAbort(signal, waiter);
      waiter.timer = after(this.clock, Math.max(0, timeoutMs), waiter.timeout);
    });
  }

  /** The machine changed (`record` undefined: it is gone): judge its waits again. */
  changed(id: string, record: Record | undefined): void {
    const waiting = this.byMachine.get(id);
    if (waiting === undefined) return;
    if (Array.isArray(waiting)) for (const waiter of [...waiting]) waiter.check(record);
    else waiting.check(record);
  }

  /** Judge every wait once more without its machine (on close: each then ends, as closed or gone). */
  endAll(): void {
    for (const [id, waiting] of [...this.byMachine]) {
      for (const waiter of Array.isArray(waiting) ? [...waiting] : [waiting]) waiter.check(undefined);
      this.byMachine.delete(id);
    }
  }

  /** A wait ended: it is no longer judged. */
  remove(waiter: Waiter<Record>): void {
    const waiting = this.byMachine.get(waiter.id);
    if (waiting === waiter) this.byMachine.delete(waiter.id);
    else if (Array.isArray(waiting)) {
      const i = waiting.indexOf(waiter);
      if (i >= 0) waiting.splice(i, 1);
      if (waiting.length === 0) this.byMachine.delete(waiter.id);
    }
  }
}

/**
 * One wait: an object (the abort listener itself) and one closure (its timer's), since a
 * 10,000-machine deploy makes tens of thousands of them.
 */
class Waiter<Record> {
  timer: TimerHandle = NO_TIMER;
  /** Its listening to the signal, when it has one. */
  listening: AbortListening | undefined = undefined;

  constructor(
    private readonly waiters: MachineWaiters<Record>,
    readonly id: string,
    private readonly judge: (record: Record | undefined) => WaitVerdict,
    private readonly signal: AbortSignal | undefined,
    private readonly timedOut: () => ProviderError,
    private readonly resolve: (machine: Machine) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    // Made here, not as a class field: the TypeScript loader names every field's closure (a
    // defineProperty each), and a deploy makes one per wait.
    this.timeout = () => {
      this.finish();
      this.reject(this.timedOut());
    };
  }

  /** Its timer's callback. */
  readonly timeout: () => void;

  check(record: Record | undefined): void {
    const verdict = this.judge(record);
    if (!verdict) return;
    this.finish();
    if ('machine' in verdict) this.resolve(verdict.machine);
    else this.reject(verdict.error);
  }

  /** The signal aborted (EventListener object). */
  handleEvent(): void {
    this.finish();
    this.reject(abortReason(this.signal!));
  }

  private finish(): void {
    this.waiters.remove(this);
    this.timer.cancel();
    this.listening?.stop(this);
  }
}
