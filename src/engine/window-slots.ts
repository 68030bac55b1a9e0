// Slots of a rolling window (Wave.window): at most `size` machines of a group out of traffic at once.
// Written here rather than taken from p-limit because a drained destroy keeps its slot for good (the
// machine never comes back into traffic), which a concurrency limiter cannot express.

export class WindowSlots {
  private free: number;
  private readonly waiting: { resolve: () => void; reject: (reason: unknown) => void }[] = [];

  constructor(size: number) {
    this.free = Math.max(1, size);
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
        reject,
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

  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.free++;
  }
}
