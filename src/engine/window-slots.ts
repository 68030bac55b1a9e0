// Slots of a rolling window (Wave.window): how many more machines of a group may leave traffic while
// at least `desired − max_unavailable` stay in. Written here rather than taken from p-limit because
// the count moves both ways: a drained destroy keeps its slot for good (that machine never comes
// back), and a machine promoted into traffic adds one (`grant`). It may start at or below zero (a
// group short of machines) and opens as new machines come in.

import Queue from 'yocto-queue';

export class WindowSlots {
  private free: number;
  // A queue, not an array: shift() copies a large array, and a 50,000-machine window queues thousands.
  private readonly waiting = new Queue<{ resolve: () => void; reject: (reason: unknown) => void }>();
  private stopped: { reason: unknown } | undefined;

  constructor(size: number) {
    this.free = size;
  }

  /**
   * Resolves when a slot is ours, first come first served; rejects once `stop` was called. (No abort
   * signal per waiting step: a wave queues thousands of them, and one `stop` refuses them all.)
   */
  acquire(): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped.reason);
    if (this.free > 0 && this.waiting.size === 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiting.enqueue({ resolve, reject });
    });
  }

  /** The wave stopped: steps waiting for a slot, and any that asks later, are refused with `reason`. */
  stop(reason: unknown): void {
    this.stopped ??= { reason };
    for (let entry = this.waiting.dequeue(); entry; entry = this.waiting.dequeue()) entry.reject(reason);
  }

  /** A machine came back into traffic (an update done) or a new one went in (a promoted machine). */
  release(): void {
    this.free++;
    while (this.free > 0 && this.waiting.size > 0) {
      this.free--;
      this.waiting.dequeue()!.resolve();
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
