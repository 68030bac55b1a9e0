// The timers of one machine lifecycle, cancelled together when a later change supersedes it.

import { after, NO_TIMER, type Clock, type TimerHandle } from '../../domain/clock.js';

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

/**
 * What sleeps on a chain: a lifecycle's run of phases (machine-lifecycle.ts), resumed by `resume`
 * once its sleep is over. One object and one closure (its timer's) per run, whatever its number of
 * phases: the phases were async functions awaiting a promise per sleep, and a 10,000-machine deploy
 * runs tens of thousands of them.
 */
export abstract class ChainSleeper {
  /** The timer of the sleep in flight. */
  timer: TimerHandle = NO_TIMER;
  /** Ticks still to wait after the timer before `resume` (-1 while the timer runs). */
  private left = -1;
  private ticks = 0;
  /** The timer's callback, and each tick after it. */
  readonly fire: () => void;

  constructor(readonly chain: Chain) {
    // Made here, not as a class field: the TypeScript loader names every field's closure (a
    // defineProperty each), and a deploy makes one per machine phase.
    this.fire = () => this.step();
  }

  /** The sleep is over: go on with the run. Never called when the chain was cancelled first. */
  abstract resume(): void;

  /** Each tick after the timer (1, 2…), before `resume` or the next tick; for what ran there. */
  protected ticked(_tick: number): void {}

  /** Sleep `ms` on the chain, then `ticks` microtask ticks (see Chain.sleep). */
  sleep(ms: number, ticks: number): void {
    this.chain.sleep(this, ms, ticks);
  }

  /** @internal Chain.sleep */
  arm(ticks: number): void {
    this.left = -1;
    this.ticks = ticks;
  }

  private step(): void {
    if (this.left < 0) {
      this.chain.done(this);
      this.left = this.ticks;
    } else {
      this.ticked(this.ticks - this.left);
    }
    if (this.left > 0) {
      this.left--;
      void SETTLED.then(this.fire);
      return;
    }
    this.resume();
  }
}

/**
 * One lifecycle of a machine (boot, stop, destroy): its pending timers, cancelled together when a later
 * change supersedes it. Plain timers rather than an AbortController per lifecycle: a 10,000-machine
 * deploy starts tens of thousands of them, and the controllers, listeners and AbortError objects were
 * a large share of its CPU and garbage.
 */
export class Chain {
  cancelled = false;
  /**
   * Its sleeps in flight, in the order they began: usually one (a lifecycle's phases follow each other;
   * a flap sleeps beside the exit), so no collection until a second one.
   */
  private pending: ChainSleeper | ChainSleeper[] | undefined;

  constructor(private readonly clock: Clock) {}

  /**
   * `sleeper.resume()` after `ms`, then `ticks` microtask ticks: where the `await` of the async
   * function it replaced resumed (1 for a sleep's promise, 2 for a `then` of it), so everything at one
   * instant of virtual time happens in the same order. Never once the chain is cancelled (the await
   * then resumed only to return). A resume due when the chain is cancelled still comes, as it did.
   */
  sleep(sleeper: ChainSleeper, ms: number, ticks: number): void {
    if (this.cancelled) return;
    sleeper.arm(ticks);
    sleeper.timer = after(this.clock, ms, sleeper.fire);
    const pending = this.pending;
    if (pending === undefined) this.pending = sleeper;
    else if (Array.isArray(pending)) pending.push(sleeper);
    else this.pending = [pending, sleeper];
  }

  cancel(): void {
    this.cancelled = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    for (const sleeper of Array.isArray(pending) ? pending : [pending]) sleeper.timer.cancel();
  }

  /** A sleep ended on its own. */
  done(sleeper: ChainSleeper): void {
    const pending = this.pending;
    if (pending === sleeper) this.pending = undefined;
    else if (Array.isArray(pending)) {
      const i = pending.indexOf(sleeper);
      if (i >= 0) pending.splice(i, 1);
    }
  }
}
