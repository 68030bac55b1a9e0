// The one summary object a deploy ends with: printed last by `runway deploy --json`, stored with the
// deploy, and read by the benchmarks. Times are offsets from the deploy's start, in ms of the provider's clock (simulated for the sim
// provider: `clock` says so).

import type { DeployStatus, StrategyName } from '../domain/types.js';

// Shares its first fields with the store's DeployRecord but stays its own type: it is the
// `runway deploy --json` contract (README), which must not change when a record gains a column.
export interface DeploySummary {
  deployId: string;
  app: string;
  env: string;
  release: string;
  previousRelease: string | null;
  strategy: StrategyName;
  status: DeployStatus;
  /** Epoch ms the deploy started (wall-clock time). */
  startedAtMs: number;
  /**
   * Present ("simulated") when the durations below were measured on a simulated clock (the sim
   * provider): minutes of simulated time may have passed in seconds.
   */
  clock?: 'simulated';
  /** Ms after start when every change had been accepted by the provider; null if never. */
  dispatchedAtMs: number | null;
  /** Ms after start when every machine ran the target and passed checks; null if never. */
  convergedAtMs: number | null;
  /** Ms after start when the deploy ended. */
  finishedAtMs: number;
  machines: {
    total: number;
    onTarget: number;
    /** Machines that exited or never passed checks during the deploy. */
    failed: number;
    /** Machines that had not converged when the convergence timeout ran out. */
    stragglers: number;
  };
  failedMachineIds: string[];
  /**
   * Serving machines out of traffic (cordoned or stopped) when a deploy that did not succeed ended:
   * what settling could not put back (the provider did not answer). Empty when the fleet serves.
   */
  leftOutOfTraffic?: string[];
  /**
   * Present when the fleet could not be listed at the end: the counts are those of the last listing,
   * made this many ms after the start (null: none was ever made).
   */
  fleetListedAtMs?: number | null;
  stragglerIds: string[];
  /** Most machines beyond the desired count that existed at once. */
  extraMachinesPeak: number;
  /** Provider API calls made, including retries. */
  apiCalls: number;
  /** 429 answers received. */
  rateLimited: number;
  error: string | null;
}

/** Exit codes of `runway deploy` (documented in README and `runway deploy --help`). */
export const EXIT = {
  ok: 0,
  failed: 1,
  badInput: 2,
  aborted: 3,
  locked: 4,
  internal: 70,
} as const;

export function exitCodeFor(status: DeployStatus): number {
  switch (status) {
    case 'succeeded':
      return EXIT.ok;
    case 'aborted':
      return EXIT.aborted;
    default:
      return EXIT.failed;
  }
}
