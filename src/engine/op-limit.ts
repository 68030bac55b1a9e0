// The bound on a deploy's provider operations in flight (settings.max_concurrency). Written here rather
// than taken from p-limit, which the rest of the code base uses, because every provider call of a deploy
// passes through it (40,000 for 10,000 machines): p-limit makes five promises and as many closures per
// call, and starts it a turn later; this one calls at once when a slot is free and adds one promise.

import type { CallOptions } from '../providers/contract.js';

/** The options of one provider call, with the signal of the step it belongs to. */
export type OpCall = CallOptions & { signal: AbortSignal };

/**
 * Runs `fn(call)` when one of the slots is free, first come first served, unless `call.signal` has
 * aborted by then (it is not called: an abort never waits for operations that have not been sent);
 * its promise, as `fn` returned it.
 */
export type OpLimit = <T>(fn: (call: OpCall) => Promise<T>, call: OpCall) => Promise<T>;

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

/** A call waiting for a slot: linked into the queue through itself (no queue node, promise or closure of its own). */
class Queued {
  next: Queued | undefined = undefined;
  resolve: (result: Promise<unknown>) => void = noop;

  constructor(
    readonly fn: (call: OpCall) => Promise<unknown>,
    readonly call: OpCall,
  ) {}
}

function noop(): void {}

/** `new Promise(capture)` leaves its resolve function here (the executor runs at once): no executor closure per call. */
let captured: ((result: Promise<unknown>) => void) | undefined;
const capture = (resolve: (result: Promise<unknown>) => void): void => {
  captured = resolve;
};

/** A first-in first-out list of queued calls. */
class QueuedList {
  private head: Queued | undefined;
  private tail: Queued | undefined;

  push(entry: Queued): void {
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
  }

  shift(): Queued | undefined {
    const entry = this.head;
    if (entry === undefined) return undefined;
    this.head = entry.next;
    if (this.head === undefined) this.tail = undefined;
    entry.next = undefined;
    return entry;
  }
}

export function opLimit(concurrency: number): OpLimit {
  if (!(concurrency >= 1)) throw new Error(`concurrency must be >= 1, got ${concurrency}`);
  let active = 0;
  // Linked through the calls, not an array: shift() copies a large array, and a 50,000-machine wave
  // queues thousands. A queued call kept a promise waiting for its slot, its resolving functions,
  // the `then` that started it and its closure, for as long as it queued (seconds, at 50,000).
  const waiting = new QueuedList();
  // Calls handed a slot: each starts one tick later, where the `then` on its slot's promise did.
  const starting = new QueuedList();
  const startNext = (): void => {
    const entry = starting.shift()!;
    // Resolved with the call's promise, as that `then`'s promise was with what its callback returned.
    entry.resolve(start(entry.fn, entry.call));
  };
  // A finished call hands its slot to the first waiting one, so a newcomer never overtakes the queue.
  const next = (): void => {
    const entry = waiting.shift();
    if (entry) {
      starting.push(entry);
      void SETTLED.then(startNext);
    } else active--;
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
    const entry = new Queued(fn, call);
    const promise = new Promise<Promise<unknown>>(capture) as unknown as Promise<T>;
    entry.resolve = captured!;
    captured = undefined;
    waiting.push(entry);
    return promise;
  };
}
