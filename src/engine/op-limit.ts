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
export type OpLimit = (<T>(fn: (call: OpCall) => Promise<T>, call: OpCall) => Promise<T>) & {
  /**
   * `runner`'s call (`runner.opFn(runner.opCall)`) under the limit, as the function does it: its promise
   * when it is sent at once; undefined when it queues, and then `runner.opStarted` has it once it is sent.
   */
  run(runner: OpRunner): Promise<unknown> | undefined;
  /**
   * A runner's call settled: its slot goes to the next call. Called by a runner whose `opHeld` the limit
   * set, in its first reaction to the call's promise (where the limit's own `then` on it would have run).
   */
  release(): void;
};

/**
 * A caller that is its own queue entry (an update step, update-run.ts): while it queues for a slot it
 * keeps no entry, promise or resolving functions, where a queued call of the function keeps them all
 * (for seconds of a 50,000-machine deploy, where most calls queue).
 */
export interface OpRunner {
  /** The queue's link (the op limit's own). */
  opNext: OpRunner | undefined;
  readonly opCall: OpCall;
  readonly opFn: (call: OpCall) => Promise<unknown>;
  /**
   * Its call was sent, after queueing: `answer` is the call's promise, which the function's promise
   * would now have been resolved with (adopting it).
   */
  opStarted(answer: Promise<unknown>): void;
  /**
   * Set by the limit when the call was sent: the runner gives its slot back (`release`) in its first
   * reaction to the call, on the tick the limit's own `then` on the call would have (the one before
   * it), so the limit keeps no promise and reaction of its own for the call. Not set for a call that
   * failed before it was sent (aborted): the limit releases that one itself.
   */
  opHeld: boolean;
}

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

/** A call of the function waiting for a slot: linked into the queue through itself (no queue node or closure of its own). */
class Queued implements OpRunner {
  opNext: OpRunner | undefined = undefined;
  opHeld = false;
  resolve: (result: Promise<unknown>) => void = noop;

  constructor(
    readonly opFn: (call: OpCall) => Promise<unknown>,
    readonly opCall: OpCall,
  ) {}

  opStarted(answer: Promise<unknown>): void {
    // Resolved with the call's promise, as the promise of the `then` that started it was with what its callback returned.
    this.resolve(answer);
  }
}

function noop(): void {}

/** `new Promise(capture)` leaves its resolve function here (the executor runs at once): no executor closure per call. */
let captured: ((result: Promise<unknown>) => void) | undefined;
const capture = (resolve: (result: Promise<unknown>) => void): void => {
  captured = resolve;
};

/** A first-in first-out list of queued calls. */
class QueuedList {
  private head: OpRunner | undefined;
  private tail: OpRunner | undefined;

  push(entry: OpRunner): void {
    if (this.tail) this.tail.opNext = entry;
    else this.head = entry;
    this.tail = entry;
  }

  shift(): OpRunner | undefined {
    const entry = this.head;
    if (entry === undefined) return undefined;
    this.head = entry.opNext;
    if (this.head === undefined) this.tail = undefined;
    entry.opNext = undefined;
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
    entry.opStarted(entry instanceof Queued ? start(entry.opFn, entry.opCall) : startRunner(entry));
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
  const startRunner = (runner: OpRunner): Promise<unknown> => {
    const call = runner.opCall;
    try {
      if (call.signal.aborted) throw call.signal.reason ?? new Error('aborted');
      const result = runner.opFn(call);
      runner.opHeld = true;
      return result;
    } catch (error) {
      const result = Promise.reject(error);
      result.then(next, next);
      return result;
    }
  };
  const limit = <T>(fn: (call: OpCall) => Promise<T>, call: OpCall): Promise<T> => {
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
  const run = (runner: OpRunner): Promise<unknown> | undefined => {
    if (active < concurrency) {
      active++;
      return startRunner(runner);
    }
    waiting.push(runner);
    return undefined;
  };
  return Object.assign(limit, { run, release: next });
}
