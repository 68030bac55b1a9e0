// The release-step contract: what the deploy engine hands a step, and what the step hands back.
//
// A release step runs once per deploy, before any serving machine changes (e.g. `sidekiq-quiet`:
// tell the old Sidekiq processes to stop taking jobs). The engine calls `run(context)` and reads the
// report; the CLI (`runway release-step run NAME`) calls the same `run` to use a step alone.
//
// Contract for `run`:
// - It RESOLVES with a report for every outcome it can name: success, a deliberate skip (e.g.
//   Redis unreachable with on_unavailable = "skip"), and failures (bad input, unreachable service,
//   refused credentials, timeouts). `ok` says whether the deploy may go on.
// - It REJECTS only when `context.signal` aborts (with `signal.reason`, like Clock.sleep) or on a
//   bug. Whatever the step changed before an abort stays changed; it says so in `context.log`.
// - It never calls Date.now()/setTimeout itself: time comes from `context.clock` (RealClock when
//   absent), so the engine's virtual clock drives its waits.
// - It releases what it opened (connections, timers) before settling.

import type { Clock } from '../../domain/clock.js';

/** What the engine gives a release step. */
export interface BuiltinStepContext {
  /**
   * The environment's effective variables and secrets, by name (organisation < app < environment,
   * secrets included). Steps read service URLs from here (e.g. REDIS_URL).
   */
  readonly vars: Readonly<Record<string, string>>;
  /** Aborted when the deploy is aborted (or Ctrl-C on the CLI): the step stops waiting and rejects. */
  readonly signal: AbortSignal;
  /** One line for humans about progress (the engine keeps it in the deploy's journal). */
  log(line: string): void;
  /**
   * The time source for every wait and duration; RealClock when absent. A step that talks to a real
   * service (sidekiq-quiet: Redis) needs a clock that follows real time: under a VirtualClock its
   * timeouts would pass while it waits on the network.
   */
  readonly clock?: Clock;
}

/**
 * - `succeeded`: the step did what it is for.
 * - `skipped`: it deliberately did nothing (its configuration allows going on without it); ok.
 * - `failed`: the deploy should not go on; `error` says why.
 */
export type StepStatus = 'succeeded' | 'skipped' | 'failed';

/**
 * Why a step failed, for exit codes and policy:
 * - `bad_input`: the step's options or the variables it reads are wrong (nothing was changed);
 * - `auth`: a service refused the credentials or lacks a permission (nothing was changed, unless
 *   the report's details say otherwise);
 * - `unreachable`: a service the step needs could not be reached;
 * - `timeout`: what the step waited for did not happen in time (details name who/what);
 * - `internal`: anything else.
 */
export type StepErrorKind = 'bad_input' | 'auth' | 'unreachable' | 'timeout' | 'internal';

export interface StepError {
  kind: StepErrorKind;
  /** A specific message a human can act on (names the service, the identity, the variable...). */
  message: string;
}

/** Step-specific, JSON-serialisable details (a type alias, so it is a Record<string, unknown>). */
export type StepDetails = Record<string, unknown>;

/** What a step reports. JSON-serialisable; `ok`/`summary`/`details` match the engine's ReleaseStepReport. */
export type BuiltinStepReport<D extends StepDetails = StepDetails> = {
  /** The step's name, e.g. `sidekiq-quiet`. */
  step: string;
  /** May the deploy go on? true for `succeeded` and `skipped`, false for `failed`. */
  ok: boolean;
  status: StepStatus;
  /** One line for humans: what happened (counts, who timed out, why it failed). */
  summary: string;
  /** Machine-readable details (counts, per-process outcomes); their shape is per step. */
  details: D;
  /** Present exactly when status is `failed`. */
  error?: StepError;
  /** How long run() took, on the context's clock. */
  durationMs: number;
};

/** A built-in release step, configured, ready to run (once per deploy; runs may repeat: idempotent). */
export interface ConfiguredStep<D extends StepDetails = StepDetails> {
  /** e.g. `sidekiq-quiet`. */
  readonly name: string;
  run(context: BuiltinStepContext): Promise<BuiltinStepReport<D>>;
}
