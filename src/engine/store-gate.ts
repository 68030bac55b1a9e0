// While the store cannot be written, a deploy issues no new provider operation: acting on the fleet
// without recording it would leave a journal that lies and a deploy nobody can resume. Operations
// wait at this gate; the deploy's poll reopens it as soon as the store answers again.

import { StoreError } from '../store/contract.js';

export class StoreGate {
  private opened: Promise<void> = Promise.resolve();
  private open: (() => void) | undefined;
  /** Why the store is unusable, while it is. */
  reason: string | undefined;

  get down(): boolean {
    return this.open !== undefined;
  }

  markDown(err: unknown): void {
    this.reason = err instanceof Error ? err.message : String(err);
    if (this.open) return;
    this.opened = new Promise((resolve) => (this.open = resolve));
  }

  markUp(): void {
    this.reason = undefined;
    const open = this.open;
    this.open = undefined;
    open?.();
  }

  /**
   * A store call of the run's own (its start, its plan): while the store is unreachable it is tried
   * again each time the deploy's poll finds the store answering, as an operation waits at the gate,
   * instead of failing a deploy that has not changed anything yet.
   */
  async call<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof StoreError && err.kind === 'unavailable')) throw err;
        this.markDown(err);
        await this.wait(signal);
      }
    }
  }

  /** Resolves at once while the store is usable, else when it is again (or rejects on abort). */
  wait(signal: AbortSignal): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void this.opened.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
