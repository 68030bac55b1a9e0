// The timers of one machine lifecycle, cancelled together when a later change supersedes it.

import { after, type Clock } from '../../domain/clock.js';

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
  private pending: ChainSleep | ChainSleep[] | undefined;

  constructor(private readonly clock: Clock) {}

  /** Resolves true after `ms`, false as soon as the chain is cancelled. */
  sleep(ms: number): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const sleep = new ChainSleep(this, resolve);
      sleep.stop = after(this.clock, ms, sleep.fire);
      const pending = this.pending;
      if (pending === undefined) this.pending = sleep;
      else if (Array.isArray(pending)) pending.push(sleep);
      else this.pending = [pending, sleep];
    });
  }

  cancel(): void {
    this.cancelled = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    for (const sleep of Array.isArray(pending) ? pending : [pending]) {
      sleep.stop();
      sleep.resolve(false);
    }
  }

  /** A sleep ended on its own. */
  done(sleep: ChainSleep): void {
    const pending = this.pending;
    if (pending === sleep) this.pending = undefined;
    else if (Array.isArray(pending)) {
      const i = pending.indexOf(sleep);
      if (i >= 0) pending.splice(i, 1);
    }
  }
}

const noop = (): void => {};

/** One sleep of a chain: an object and one closure (its timer's) instead of a closure per role. */
class ChainSleep {
  stop: () => void = noop;

  constructor(
    private readonly chain: Chain,
    readonly resolve: (slept: boolean) => void,
  ) {
    // Made here, not as a class field: the TypeScript loader names every field's closure (a
    // defineProperty each), and a deploy makes one per machine phase.
    this.fire = () => {
      this.chain.done(this);
      this.resolve(!this.chain.cancelled);
    };
  }

  /** Its timer's callback. */
  readonly fire: () => void;
}
