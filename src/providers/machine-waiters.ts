// Waiting for a machine to meet a WaitCondition, shared by every provider: the verdict on the machine
// as it is (met, failed, or not yet), the waits registered per machine and judged on each of its
// changes (the sim and local providers, which see every change and so never poll), and the timeout
// error. Fly polls its API instead (fly/machine-wait.ts) and uses the verdict and the error from here.

import { after, type Clock } from '../domain/clock.js';
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
 * while a start is awaited (it will not start by itself); otherwise undefined.
 */
export function machineVerdict(
  id: string,
  machine: Machine,
  condition: WaitCondition,
  words: VerdictWords,
): WaitVerdict {
  if (meets(machine, condition)) return { machine: words.copy ? words.copy(machine) : { ...machine } };
  const prefix = words.prefix ?? '';
  const failed = (what: string): WaitVerdict => ({
    error: new ProviderError('machine_failed', `${prefix}machine ${id} ${what}`, { machineId: id, op: 'wait' }),
  });
  if (machine.state === 'failed') return failed(words.exited(machine));
  const reverted = words.reverted?.(machine);
  if (reverted !== undefined) return failed(reverted);
  if (condition.state === 'started' && machine.state === 'stopped')
    return failed('is stopped while waiting for it to start');
  return undefined;
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
  private readonly byMachine = new Map<string, Set<(record: Record | undefined) => void>>();

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

      let stopTimer = (): void => {};
      let set = this.byMachine.get(id);
      if (!set) this.byMachine.set(id, (set = new Set()));
      const finish = () => {
        const waiting = this.byMachine.get(id);
        if (waiting) {
          waiting.delete(check);
          if (waiting.size === 0) this.byMachine.delete(id);
        }
        stopTimer();
        signal?.removeEventListener('abort', onAbort);
      };
      const check = (record: Record | undefined) => {
        const verdict = judge(record);
        if (!verdict) return;
        finish();
        if ('machine' in verdict) resolve(verdict.machine);
        else reject(verdict.error);
      };
      const onAbort = () => {
        finish();
        reject(abortReason(signal!));
      };
      set.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
      stopTimer = after(this.clock, Math.max(0, timeoutMs), () => {
        finish();
        reject(timedOut());
      });
    });
  }

  /** The machine changed (`record` undefined: it is gone): judge its waits again. */
  changed(id: string, record: Record | undefined): void {
    const waiting = this.byMachine.get(id);
    if (waiting) for (const check of [...waiting]) check(record);
  }

  /** Judge every wait once more without its machine (on close: each then ends, as closed or gone). */
  endAll(): void {
    for (const [id, waiting] of [...this.byMachine]) {
      for (const check of [...waiting]) check(undefined);
      this.byMachine.delete(id);
    }
  }
}
