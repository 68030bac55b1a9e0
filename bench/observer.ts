// Watches the simulated fleet through its event stream (no API calls, so nothing is added to what is
// measured): when the fleet is converged — exactly the desired number of machines, every one serving
// the target release, started, passing checks and in traffic — and how many extra machines existed at
// once. This is how the flyctl models learn when the fleet really converged (flyctl itself does not
// know), and a cross-check of runway's own summary.

import type { Machine } from '../src/domain/types.js';
import type { MachineEvent } from '../src/providers/contract.js';
import type { SimProvider } from '../src/providers/sim/sim-provider.js';
import { SCOPE } from './setup.js';

export class FleetObserver {
  private readonly machines = new Map<string, Machine>();
  private good = 0;
  private readonly unsubscribe: () => void;
  /** Most machines beyond `desired` that existed at once. */
  extraPeak = 0;
  /** Clock time of the last moment the fleet became converged (null while it never was). */
  convergedAt: number | null = null;
  private waiters: { resolve: (atMs: number) => void }[] = [];

  constructor(
    sim: SimProvider,
    initial: readonly Machine[],
    private readonly desired: number,
    private readonly target: string,
  ) {
    for (const m of initial) this.put(m);
    this.unsubscribe = sim.subscribe(SCOPE, (event) => this.onEvent(event));
  }

  get converged(): boolean {
    return this.machines.size === this.desired && this.good === this.desired;
  }

  /** Resolves with the clock time at which the fleet is (next) converged. */
  whenConverged(): Promise<number> {
    if (this.converged && this.convergedAt !== null) return Promise.resolve(this.convergedAt);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  close(): void {
    this.unsubscribe();
  }

  private isGood(m: Machine): boolean {
    return (
      m.role === 'serving' &&
      m.release === this.target &&
      m.state === 'started' &&
      m.health === 'passing' &&
      !m.cordoned
    );
  }

  private put(m: Machine): void {
    const before = this.machines.get(m.id);
    if (before && this.isGood(before)) this.good--;
    if (m.state === 'destroyed') {
      this.machines.delete(m.id);
    } else {
      this.machines.set(m.id, m);
      if (this.isGood(m)) this.good++;
    }
    this.extraPeak = Math.max(this.extraPeak, this.machines.size - this.desired);
  }

  private onEvent(event: MachineEvent): void {
    const was = this.converged;
    this.put(event.machine);
    if (!was && this.converged) {
      this.convergedAt = event.atMs;
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve(event.atMs);
    }
  }
}
