// What a deploy run is given: the request (what to deploy where, how) and the engine's dependencies
// (provider, store, clocks, the owner it runs as), and the two ways a run ends early by design.

import type { AnalysisSpec, MetricSources } from '../domain/analysis.js';
import type { Clock } from '../domain/clock.js';
import type { FleetScope, ProcessGroup, Release, StrategySettings } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';
import type { Store } from '../store/contract.js';
import type { ProgressListener } from './progress.js';
import type { ReleaseStep } from './release-steps.js';

export interface DeployRequest {
  deployId: string;
  scope: FleetScope;
  target: Release;
  groups: ProcessGroup[];
  settings: StrategySettings;
  /** Known when resuming; otherwise taken from the first plan. */
  previousRelease?: string | null;
  /** Release steps to run before any serving machine changes (release command, sidekiq quiet). */
  releaseSteps?: ReleaseStep[];
  /** Metrics of the new release against the old one's, after each step (src/analysis/). */
  analysis?: AnalysisSpec;
  /** Look up the release to roll back to. */
  findRelease(version: string): Promise<Release | undefined>;
}

export interface EngineDeps {
  provider: Provider;
  store: Store;
  clock: Clock;
  onProgress?: ProgressListener;
  /** Provider calls made so far (the resilient layer counts retries too). */
  apiStats?: () => { calls: number; rateLimited: number };
  /**
   * Wall-clock time for what other processes read: heartbeats of the deploy and its lock, and the
   * polling for abort and promote requests. Defaults to `clock` (tests and benchmarks on virtual time);
   * the CLI passes a RealClock, since a sim deploy's simulated time runs faster than the wall clock.
   */
  wallClock?: Clock;
  /**
   * The owner this run heart-beats as. When another owner takes the deploy over (this process was
   * presumed dead), the run stops at once and leaves everything to the new owner.
   */
  owner?: string;
  /**
   * The process running this deploy is stopping (a `runway server` sent SIGTERM): no new operation
   * starts, in-flight ones finish, nothing is rolled back or settled, and the deploy is left running
   * and unowned, for another instance (or the restarted one, or `runway deploy resume`) to finish in
   * the same direction.
   */
  stepBack?: AbortSignal;
  /** Where the request's analysis reads its metrics (src/analysis/sources.ts opens them). */
  metricSources?: MetricSources;
  /** How often the store is asked whether someone requested an abort or a promote. */
  pollMs?: number;
  heartbeatMs?: number;
}

export class Aborted extends Error {
  constructor(readonly by: string) {
    super(`aborted by ${by}`);
    this.name = 'Aborted';
  }
}

/** The provider refused the target release before anything changed. */
export class ReleaseRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseRefused';
  }
}
