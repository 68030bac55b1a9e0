// One simulated API call in flight (sim-provider.ts `call`): an object instead of an async function,
// a promise per sleep and a closure per role, since a 10,000-machine deploy makes tens of thousands.

import type { AbortListening } from '../../domain/abort-listeners.js';
import { NO_TIMER, type TimerHandle } from '../../domain/clock.js';
import type { ProviderError, ProviderOp } from '../contract.js';
import type { SimWait } from './sim-wait.js';

/** What a call in flight needs of its provider. */
export interface CallAnswerer {
  /** Calls sleeping out their latency or timeout (failed when the provider closes). */
  readonly sleeping: SleepingCalls;
  /** The latency has passed: apply the call and settle it (may throw: the call fails with it). */
  answer(call: SimCall): void;
  /** The error a timed-out call fails with once its timeout has passed. */
  timeoutError(call: SimCall): ProviderError;
}

const noop = (): void => {};

/**
 * The calls asleep, in the order they fell asleep: a list linked through the calls themselves, since
 * tens of thousands come and go and a Set reallocates its table as it grows and shrinks.
 */
export class SleepingCalls {
  private head: SimCall | undefined;
  private tail: SimCall | undefined;

  add(call: SimCall): void {
    call.prev = this.tail;
    call.next = undefined;
    if (this.tail) this.tail.next = call;
    else this.head = call;
    this.tail = call;
    call.asleep = true;
  }

  delete(call: SimCall): void {
    if (!call.asleep) return;
    call.asleep = false;
    if (call.prev) call.prev.next = call.next;
    else this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    else this.tail = call.prev;
    call.prev = call.next = undefined;
  }

  /** Every call asleep now, in order (a copy: stopping one unlinks it). */
  all(): SimCall[] {
    const out: SimCall[] = [];
    for (let call = this.head; call; call = call.next) out.push(call);
    return out;
  }
}
/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

/**
 * One API call in flight: its state, the abort listener on its caller's signal (EventListener
 * object), and one closure, `fire`, that is both its timer's callback and the tick after it.
 */
export class SimCall {
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  /** The timer of its sleep. */
  timer: TimerHandle = NO_TIMER;
  /** Its listening to the caller's signal, while asleep. */
  listening: AbortListening | undefined = undefined;
  /** Its links in the provider's SleepingCalls. */
  prev: SimCall | undefined = undefined;
  next: SimCall | undefined = undefined;
  asleep = false;
  startMs = 0;
  latency = 0;
  refusal: ProviderError | undefined = undefined;
  timedOut = false;
  applyDespiteTimeout = false;
  /** Sleeping out the rest of a timeout (its answer is the timeout error). */
  timingOut = false;
  /** A wait call's wait, which settles the call once answered (sim-wait.ts). */
  wait: SimWait | undefined = undefined;
  /** Whether the next `fire` is the tick after the timer (or after a failure), not the timer itself. */
  private ticked = false;
  /** What the call fails with on its next tick (aborted, closed), if anything. */
  private failure: unknown = undefined;
  private failed = false;

  constructor(
    private readonly provider: CallAnswerer,
    readonly op: ProviderOp,
    readonly machineId: string | undefined,
    readonly apply: () => unknown,
    readonly signal: AbortSignal | undefined,
  ) {
    // Closures made here, not as class fields: the TypeScript loader names every field's closure
    // (a defineProperty each), and these are made per call.
    this.settleWith = (resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    };
    this.fire = () => this.step();
  }

  /** The promise's executor: the call keeps its resolving functions. */
  readonly settleWith: (resolve: (value: unknown) => void, reject: (error: unknown) => void) => void;
  /** Its timer's callback, and the tick after it. */
  readonly fire: () => void;

  private step(): void {
    if (!this.ticked) {
      // The timer: the sleep is over; what follows runs one tick later, where an `await` resumed.
      this.provider.sleeping.delete(this);
      this.listening?.stop(this);
      this.ticked = true;
      void SETTLED.then(this.fire);
      return;
    }
    this.ticked = false;
    if (this.failed) return this.reject(this.failure);
    if (this.timingOut) return this.reject(this.provider.timeoutError(this));
    try {
      this.provider.answer(this);
    } catch (error) {
      this.reject(error);
    }
  }

  /** Fail on the next tick (as a rejected sleep awaited there would). */
  failNextTick(error: unknown): void {
    this.failed = true;
    this.failure = error;
    this.ticked = true;
    void SETTLED.then(this.fire);
  }

  /** The caller's signal aborted (EventListener object). */
  handleEvent(): void {
    this.stop(this.signal!.reason ?? new Error('aborted'));
  }

  /** End the sleep now with `error` (aborted, or the provider closed). */
  stop(error: unknown): void {
    this.timer.cancel();
    this.provider.sleeping.delete(this);
    this.listening?.stop(this);
    this.failNextTick(error);
  }
}
