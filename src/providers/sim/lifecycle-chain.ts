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
  private readonly pending = new Set<() => void>();

  constructor(private readonly clock: Clock) {}

  /** Resolves true after `ms`, false as soon as the chain is cancelled. */
  sleep(ms: number): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const stop = after(this.clock, ms, () => {
        this.pending.delete(cancel);
        resolve(!this.cancelled);
      });
      const cancel = () => {
        stop();
        resolve(false);
      };
      this.pending.add(cancel);
    });
  }

  cancel(): void {
    this.cancelled = true;
    for (const cancel of this.pending) cancel();
    this.pending.clear();
  }
}
