// Slots of a rolling window (Wave.window): how many more machines of a group may leave traffic while
// at least `desired − max_unavailable` stay in. Written here rather than taken from p-limit because
// the count moves both ways: a drained destroy keeps its slot for good (that machine never comes
// back), and a machine promoted into traffic adds one (`grant`). It may start at or below zero (a
// group short of machines) and opens as new machines come in.

export class WindowSlots {
  private free: number;
  private readonly waiting: { resolve: () => void }[] = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Resolves when a slot is ours, first come first served; rejects when `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free > 0 && this.waiting.length === 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** A machine came back into traffic (an update done) or a new one went in (a promoted machine). */
  release(): void {
    this.free++;
    while (this.free > 0 && this.waiting.length > 0) {
      this.free--;
      this.waiting.shift()!.resolve();
    }
  }

  /** Steps waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A machine entered traffic that was not there when the window was sized. */
  grant(): void {
    this.release();
  }
}
