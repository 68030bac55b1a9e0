// Slots of a rolling window (Wave.window): how many more machines of a group may leave traffic while
// at least `desired − max_unavailable` stay in. Written here rather than taken from p-limit because
// the count moves both ways: a drained destroy keeps its slot for good (that machine never comes
// back), and a machine promoted into traffic adds one (`grant`). It may start at or below zero (a
// group short of machines) and opens as new machines come in.

import Queue from 'yocto-queue';

/** A step waiting for a slot, told when it has one or is refused (at the moment a promise would settle). */
export interface SlotWaiter {
  granted(): void;
  refused(reason: unknown): void;
}

export class WindowSlots {
  private free: number;
  // A queue, not an array: shift() copies a large array, and a 50,000-machine window queues thousands.
  private readonly waiting = new Queue<SlotWaiter>();
  private stopped: { reason: unknown } | undefined;

  constructor(size: number) {
    this.free = size;
  }

  /**
   * Resolves when a slot is ours, first come first served; rejects once `stop` was called. (No abort
   * signal per waiting step: a wave queues thousands of them, and one `stop` refuses them all.)
   */
  acquire(): Promise<void> {
    return new Promise((resolve, reject) => this.enter({ granted: resolve, refused: reject }));
  }

  /**
   * `acquire` without a promise: `waiter` is granted its slot (now, or when one frees) or refused, each
   * where `acquire`'s promise would have settled. A wave's steps wait this way: thousands of them may
   * queue for the whole wave, and a promise and its resolving functions each was much of what they held.
   */
  enter(waiter: SlotWaiter): void {
    if (this.stopped) return waiter.refused(this.stopped.reason);
    if (this.free > 0 && this.waiting.size === 0) {
      this.free--;
      return waiter.granted();
    }
    this.waiting.enqueue(waiter);
  }

  /** The wave stopped: steps waiting for a slot, and any that asks later, are refused with `reason`. */
  stop(reason: unknown): void {
    this.stopped ??= { reason };
    for (let entry = this.waiting.dequeue(); entry; entry = this.waiting.dequeue()) entry.refused(reason);
  }

  /** A machine came back into traffic (an update done) or a new one went in (a promoted machine). */
  release(): void {
    this.free++;
    while (this.free > 0 && this.waiting.size > 0) {
      this.free--;
      this.waiting.dequeue()!.granted();
    }
  }

  /** Steps waiting for a slot. */
  get queued(): number {
    return this.waiting.size;
  }

  /** A machine entered traffic that was not there when the window was sized. */
  grant(): void {
    this.release();
  }
}
