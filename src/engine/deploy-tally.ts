// What a deploy run measures as it goes, for its summary: when it started, when the provider accepted
// the last change (time-to-dispatch), when the fleet converged, how many machines exist against the
// desired count (extra machines' peak), and which machines failed or straggled.

import type { Clock } from '../domain/clock.js';

export class DeployTally {
  startedAt = 0;
  dispatchedAt: number | null = null;
  lastAccepted: number | null = null;
  convergedAt: number | null = null;
  live = 0;
  extraPeak = 0;
  readonly failed = new Set<string>();
  stragglers: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly desiredTotal: number,
  ) {}

  start(): void {
    this.startedAt = this.clock.now();
  }

  /** Machines that exist now (after the first listing), for the extra machines' peak. */
  seen(live: number): void {
    this.live = live;
    this.trackExtras();
  }

  created(): void {
    this.live++;
    this.trackExtras();
  }

  destroyed(): void {
    this.live--;
  }

  accepted(): void {
    this.lastAccepted = this.clock.now();
  }

  /** Every change of a deploy's plan was accepted: time-to-dispatch is when the last one was. */
  dispatched(): number {
    this.dispatchedAt = this.lastAccepted ?? this.clock.now();
    return this.dispatchedAt - this.startedAt;
  }

  /** The fleet is on the target (since `at`, default now); returns ms since the start. */
  converged(at?: number): number {
    const now = at ?? this.clock.now();
    this.dispatchedAt ??= now;
    this.convergedAt = now;
    return now - this.startedAt;
  }

  private trackExtras(): void {
    this.extraPeak = Math.max(this.extraPeak, this.live - this.desiredTotal);
  }
}
