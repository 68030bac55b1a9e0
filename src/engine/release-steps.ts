// Release steps run once per deploy, in the configured order, before any serving machine changes
// (`release_steps = ["sidekiq-quiet", "release-command"]`). A failed step ends the deploy with the old
// release still serving everywhere.

import type { Clock } from '../domain/clock.js';
import type { FleetScope, Release } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';

export interface ReleaseStepContext {
  deployId: string;
  scope: FleetScope;
  target: Release;
  provider: Provider;
  clock: Clock;
  signal: AbortSignal;
  /** A line of the step's output (kept with the deploy's journal). */
  log(line: string): void;
}

export interface ReleaseStepReport {
  ok: boolean;
  /** One line for humans: what happened. */
  summary: string;
  /** Machine-readable details (counts, exit code, ...). */
  details?: Record<string, unknown>;
  /** Output lines (a release command's log); the last 100 are shown on failure, all are kept. */
  output?: string[];
}

export interface ReleaseStep {
  /** `release-command`, `sidekiq-quiet`, ... */
  readonly name: string;
  /** The deploy status when this step fails. */
  readonly failStatus: 'release_command_failed' | 'failed';
  run(ctx: ReleaseStepContext): Promise<ReleaseStepReport>;
}

/** Lines shown on failure (the whole output is kept in the journal). */
export const SHOWN_OUTPUT_LINES = 100;
