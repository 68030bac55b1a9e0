// What the sidekiq-quiet step reports: each process's outcome and the step's details.

import type { BuiltinStepReport } from './step.js';

/** A process the step signalled (or found already quiet), and what became of it. */
export type SidekiqProcessOutcome = {
  identity: string;
  hostname: string | null;
  pid: number | null;
  tag: string | null;
  /**
   * - `quieted`: reports quiet = "true";
   * - `timed_out`: did not within the timeout (`reason` says what was seen);
   * - `gone`: stopped while we waited (left `processes`, or its hash expired): takes no jobs either;
   * - `not_signalled`: Redis failed before TSTP could be sent to it.
   */
  state: 'quieted' | 'timed_out' | 'gone' | 'not_signalled';
  /** It reported quiet before the step; no signal was sent. */
  alreadyQuiet: boolean;
  /** TSTP was pushed to its signal list by this run. */
  signalled: boolean;
  /** From sending TSTP to seeing quiet = "true". */
  ackMs: number | null;
  /** The last `busy` seen (jobs in progress). */
  busy: number | null;
  /** With waitIdle: whether busy reached 0 (or it stopped); null when not waited for. */
  idle: boolean | null;
  /** Why it timed out, was not signalled, is still busy or is gone, in words. */
  reason: string | null;
};

export type SidekiqSkippedIdentity = {
  identity: string;
  /** `embedded`: a Sidekiq inside another process (ignores signals); `dead`: no heartbeat for 60 s (no `info`). */
  reason: 'embedded' | 'dead';
};

/** The step's details; the CLI's --json prints these at the top level. */
export type SidekiqQuietDetails = {
  /** The Redis URL used, password hidden; null when none could be resolved. */
  redis: string | null;
  namespace: string | null;
  /** Live, non-embedded processes found. */
  found: number;
  /** Of those, how many report quiet (already quiet ones included). */
  quieted: number;
  /** Of those, how many did not report quiet in time (or could not be signalled). */
  timedOut: number;
  /** Identities in `processes` that were skipped: embedded or dead. */
  skipped: number;
  /** Processes that stopped while the step waited. */
  gone: number;
  waitIdle: boolean;
  /** With waitIdle: quieted processes that reached busy = 0 (or stopped). */
  idle: number;
  /** With waitIdle: quieted processes still busy at the idle timeout. */
  stillBusy: number;
  /** Why Redis could not be used, when the step was skipped (on_unavailable = "skip"). */
  unavailable: string | null;
  timedOutIdentities: string[];
  stillBusyIdentities: string[];
  processes: SidekiqProcessOutcome[];
  skippedIdentities: SidekiqSkippedIdentity[];
};

export type SidekiqQuietReport = BuiltinStepReport<SidekiqQuietDetails>;

export function plural(n: number, word: string, many = `${word}es`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function listed(ids: string[], max = 5): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;
}
