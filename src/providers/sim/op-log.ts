// The optional log of every simulated phase, from which the benchmark computes lower bounds
// (e.g. a machine cannot be healthy on the new release sooner than api + update + boot + checks).

import type { ProviderOp } from '../contract.js';
import type { SimLatencyOp } from './options.js';

export interface SimPhase {
  /** The machine the phase belongs to; absent for app-level API calls (list, a refused create). */
  machineId?: string;
  op: SimLatencyOp;
  /** For `op: 'api'`: which API call it was. */
  apiOp?: ProviderOp;
  startMs: number;
  endMs: number;
}

export class OpLog {
  readonly phases: SimPhase[] = [];

  constructor(public enabled: boolean) {}

  record(phase: SimPhase): void {
    if (this.enabled) this.phases.push(phase);
  }

  clear(): void {
    this.phases.length = 0;
  }
}
