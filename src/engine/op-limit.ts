// The bound on a deploy's provider operations in flight (settings.max_concurrency). Written here rather
// than taken from p-limit, which the rest of the code base uses, because every provider call of a deploy
// passes through it (40,000 for 10,000 machines): p-limit makes five promises and as many closures per
// call, and starts it a turn later; this one calls at once when a slot is free and adds one promise.

import Queue from 'yocto-queue';
import type { CallOptions } from '../providers/contract.js';

/** The options of one provider call, with the signal of the step it belongs to. */
export type OpCall = CallOptions & { signal: AbortSignal };

/**
 * Runs `fn(call)` when one of the slots is free, first come first served, unless `call.signal` has
 * aborted by then (it is not called: an abort never waits for operations that have not been sent);
 * its promise, as `fn` returned it.
 */
export type OpLimit = <T>(fn: (call: OpCall) => Promise<T>, call: OpCall) => Promise<T>;

export function opLimit(concurrency: number): OpLimit {
  if (!(concurrency >= 1)) throw new Error(`concurrency must be >= 1, got ${concurrency}`);
  let active = 0;
  // A queue, not an array: shift() copies a large array, and a 50,000-machine wave queues thousands.
  const waiting = new Queue<() => void>();
  // A finished call hands its slot to the first waiting one, so a newcomer never overtakes the queue.
  const next = (): void => {
    const wake = waiting.dequeue();
    if (wake) wake();
    else active--;
  };
  const start = <T>(fn: (call: OpCall) => Promise<T>, call: OpCall): Promise<T> => {
    let result: Promise<T>;
    try {
      if (call.signal.aborted) throw call.signal.reason ?? new Error('aborted');
      result = fn(call);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(next, next);
    return result;
  };
  return <T>(fn: (call: OpCall) => Promise<T>, call: OpCall): Promise<T> => {
    if (active < concurrency) {
      active++;
      return start(fn, call);
    }
    return new Promise<void>((resolve) => waiting.enqueue(resolve)).then(() => start(fn, call));
  };
}
