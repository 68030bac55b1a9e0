// One gate per provider session, like the store's (engine/store-gate.ts): while the provider does not
// answer (connection refused or reset, timeouts, 5xx, 429), no new operation is sent. One call at a
// time — the probe — retries with backoff; every other call waits here. The first answer of any kind
// opens the gate for all. An outage that lasts longer than `outageTimeoutMs` is given up: calls then
// fail (each after one attempt of its own), so the deploy can end and settle when the provider returns.

import { listenForAbort, type AbortHandler } from '../domain/abort-listeners.js';

export interface OutageState {
  /** Provider time the outage began. */
  sinceMs: number;
  /** The last failure seen, for humans. */
  reason: string;
}

export type OutageListener = (
  event: { type: 'down'; outage: OutageState } | { type: 'up'; outage: OutageState; atMs: number },
) => void;

export class ProviderGate {
  private outage: OutageState | undefined;
  /** A call holds the probe: it alone sends while the gate is closed. */
  private probing = false;
  private waiters = new Set<() => void>();
  private readonly listeners = new Set<OutageListener>();
  /** Failed probes during this outage (the probe's backoff grows with them). */
  failures = 0;
  /** Outages so far, and their total length (ms), for stats and for stretching waits. */
  outages = 0;
  private downMsTotal = 0;

  constructor(readonly outageTimeoutMs: number) {}

  get down(): OutageState | undefined {
    return this.outage;
  }

  /** Whether the current outage has lasted longer than the timeout. */
  exhausted(nowMs: number): boolean {
    return this.outage !== undefined && nowMs - this.outage.sinceMs >= this.outageTimeoutMs;
  }

  /** Total outage time up to `nowMs` (the running one included): waits are stretched by what they lost. */
  downMs(nowMs: number): number {
    return this.downMsTotal + (this.outage ? nowMs - this.outage.sinceMs : 0);
  }

  onChange(listener: OutageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  markDown(reason: string, nowMs: number): void {
    if (this.outage) {
      this.outage.reason = reason;
      return;
    }
    this.outages++;
    this.outage = { sinceMs: nowMs, reason };
    this.tell({ type: 'down', outage: { ...this.outage } });
  }

  markUp(nowMs: number): void {
    const outage = this.outage;
    if (!outage) return;
    this.outage = undefined;
    this.failures = 0;
    this.downMsTotal += nowMs - outage.sinceMs;
    this.wake();
    this.tell({ type: 'up', outage, atMs: nowMs });
  }

  /**
   * Resolves when this call may send: at once while the gate is open (false), or when it is opened
   * again (false), or when this call becomes the probe (true). Rejects when `signal` aborts.
   */
  async admit(nowMs: () => number, signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (!this.outage) return false;
      // Given up: every call tries once for itself (settling the fleet needs the first answer).
      if (this.exhausted(nowMs())) return false;
      if (!this.probing) {
        this.probing = true;
        return true;
      }
      await new Promise<void>((resolve, reject) => {
        // One listener per signal, however many calls wait with it (abort-listeners.ts): a bluegreen
        // cutover's changes share their step's signal, and eleven of them set off Node's leak warning.
        const onAbort: AbortHandler = {
          handleEvent: () => {
            this.waiters.delete(done);
            reject(signal!.reason ?? new Error('aborted'));
          },
        };
        const listening = signal ? listenForAbort(signal, onAbort) : undefined;
        const done = () => {
          listening?.stop(onAbort);
          this.waiters.delete(done);
          resolve();
        };
        this.waiters.add(done);
      });
    }
  }

  /** The probe is done (answered, failed for good, or aborted): another waiting call may take it. */
  releaseProbe(): void {
    if (!this.probing) return;
    this.probing = false;
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  private tell(event: Parameters<OutageListener>[0]): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch {
        // A listener must not break the provider.
      }
    }
  }
}
