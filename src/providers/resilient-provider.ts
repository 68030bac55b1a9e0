// The one place where rate limits and retries live (DESIGN.md, architecture 4). Wraps any Provider:
//  - throttles itself with the same token buckets the API enforces (rate-limit/fly-limits.ts), so a
//    well-behaved runway is never answered 429;
//  - retries retryable ProviderErrors: 429 after its Retry-After, 503 and timeouts with exponential
//    backoff and seeded jitter, up to `maxAttempts` attempts, then throws the last error;
//  - never retries the rest (not_found, conflict, unauthorized, bad_request, machine_failed,
//    wait_timeout) nor anything that is not a ProviderError (an abort);
//  - re-issues waits in chunks of at most 60 s (Fly caps a wait at 60 s) until the caller's timeout.
//
// Retrying mutations after a timeout (the change may have happened):
//  - create is retried: every provider's create is idempotent by `spec.launchId`, so a retry returns
//    the machine the timed-out attempt made instead of making a second one;
//  - a destroy whose answer was lost is not sent again blindly: the machine is read first, and gone
//    (or going) is done; a resend refused as not found or as a conflict (on Fly, the lease went with
//    the machine) is settled by another read;
//  - an update whose answer was lost (timeout, 5xx, connection reset) is never sent blindly again:
//    the machine is read first, and when it already runs the release for this deploy that is the
//    answer; a resend that the provider refuses as a conflict (fly: current_version no longer
//    matches, because the lost attempt was applied late) is settled by another read;
//  - start/stop/cordon/uncordon are retried as they are: each sets an absolute target (state,
//    cordon flag), so applying it twice ends in the same place.
//
// Outages (with `outageTimeoutMs`, as every session sets it): a retryable failure closes the
// ProviderGate; no new operation is sent while it is closed, one call probes with backoff and jitter
// (Retry-After honoured), and the first answer opens it: a call's own, or any request's the inner
// provider reports (`onAnswer`: fly's waits and changes are several requests each). Retries then stop
// at the outage timeout, not after a number of attempts, and waits are stretched by the outage time
// they lost.

import type { TrafficSnapshot } from '../domain/traffic.js';
import type { Clock } from '../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../domain/types.js';
import {
  ProviderError,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type CallOptions,
  type Provider,
  type ProviderOp,
  type StopOptions,
  type WaitArgs,
} from './contract.js';
import { ProviderGate } from './provider-gate.js';
import { DestroySend, UpdateSend } from './resilient-changes.js';
import { ResilientWait, type WaitHost } from './resilient-wait.js';
import { FLY_RATE_LIMITS, RateLimiter } from './rate-limit/fly-limits.js';
import { SeededRandom } from '../domain/random.js';
import {
  AGAIN_AT_ONCE,
  backoffDelay,
  GIVE_UP,
  retryAfterDelay,
  retrying,
  retryingAfter,
  type RetryDecision,
} from '../domain/backoff.js';
import {
  DEFAULT_RETRY,
  emptyResilientStats,
  MAX_WAIT_CHUNK_MS,
  type ResilientOptions,
  type ResilientStats,
  type RetryableKind,
  type RetryPolicy,
} from './resilient-options.js';

export {
  DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS,
  DEFAULT_RETRY,
  emptyResilientStats,
  MAX_WAIT_CHUNK_MS,
  type ResilientOptions,
  type ResilientStats,
  type RetryPolicy,
} from './resilient-options.js';

export class ResilientProvider implements Provider {
  readonly name: string;
  readonly retry: RetryPolicy;
  stats: ResilientStats = emptyResilientStats();
  readonly subscribe?: (scope: FleetScope, listener: (event: MachineEvent) => void) => () => void;
  /** The inner provider's drain, when it has one (not an API call: neither throttled nor retried). */
  readonly drain?: (scope: FleetScope, id: string, timeoutMs: number) => Promise<void>;
  /** The inner provider's release check, when it has one (local work: neither throttled nor retried). */
  readonly checkRelease?: (scope: FleetScope, release: string, options?: CallOptions) => Promise<void>;
  /** The inner provider's request counters, when it has them (its own proxy: neither throttled nor retried). */
  readonly traffic?: (scope: FleetScope, options?: CallOptions) => Promise<TrafficSnapshot>;
  /** The inner provider's logs, when it has them (not a Machines API call: neither throttled nor retried). */
  readonly logs?: (scope: FleetScope, id: string) => Promise<string[]>;
  /** The inner provider's deploy marker, when it has one (no API call). */
  readonly workingFor?: (deployId: string) => void;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter | undefined;
  private readonly rng: SeededRandom;
  private readonly maxWaitChunkMs: number;
  /** What every wait needs of this provider (resilient-wait.ts). */
  private readonly waits: WaitHost;
  /** Closed while the provider does not answer (only with `outageTimeoutMs`). */
  readonly gate: ProviderGate | undefined;
  private readonly now = (): number => this.clock.now();
  /** An update found done after a lost answer (resilient-changes.ts). */
  private readonly recovered = (): void => {
    this.stats.changesRecovered++;
  };

  constructor(
    readonly inner: Provider,
    options: ResilientOptions,
  ) {
    this.name = inner.name;
    this.clock = options.clock;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    if (!(this.retry.maxAttempts >= 1))
      throw new Error(`retry.maxAttempts must be >= 1, got ${this.retry.maxAttempts}`);
    this.limiter = options.limits === false ? undefined : new RateLimiter(options.limits ?? FLY_RATE_LIMITS);
    this.rng = SeededRandom.fromSeed(options.seed ?? 1);
    this.maxWaitChunkMs = Math.max(1, options.maxWaitChunkMs ?? MAX_WAIT_CHUNK_MS);
    this.gate = options.outageTimeoutMs === undefined ? undefined : new ProviderGate(options.outageTimeoutMs);
    // Every answer the provider gives opens the gate, those inside a call that fails in the end
    // included (one 503 among a wait's slices and polls): an outage is the provider answering nothing.
    const gate = this.gate;
    if (gate) inner.onAnswer?.(() => gate.markUp(this.clock.now()));
    // Passed through as they are (bound to the inner provider), or absent when it has none.
    this.subscribe = inner.subscribe?.bind(inner);
    this.drain = inner.drain?.bind(inner);
    this.logs = inner.logs?.bind(inner);
    this.traffic = inner.traffic?.bind(inner);
    this.workingFor = inner.workingFor?.bind(inner);
    this.checkRelease = inner.checkRelease?.bind(inner);
    this.waits = {
      inner,
      clock: this.clock,
      gate,
      maxWaitChunkMs: this.maxWaitChunkMs,
      retryFirst: (wait, error) => this.retried('wait', wait.scope, wait.id, wait.sendFn(), wait.signal, { error }),
      nextChunks: (wait, error) => this.nextChunks(wait, error),
    };
  }

  list(scope: FleetScope, options?: CallOptions): Promise<Machine[]> {
    return this.call('list', scope, undefined, () => this.inner.list(scope), options);
  }

  get(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('get', scope, id, () => this.inner.get(scope, id), options);
  }

  /** Retried safely: the inner create is idempotent by `spec.launchId`. */
  create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    return this.call('create', scope, undefined, () => this.inner.create(scope, spec), options);
  }

  /** Never sent twice blindly: after a lost answer, the machine is read before any resend (resilient-changes.ts). */
  update(scope: FleetScope, id: string, update: MachineUpdate, options?: CallOptions): Promise<Machine> {
    return this.call('update', scope, id, new UpdateSend(this.inner, this.recovered, scope, id, update).send, options);
  }

  start(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('start', scope, id, () => this.inner.start(scope, id), options);
  }

  stop(scope: FleetScope, id: string, options?: StopOptions): Promise<Machine> {
    return this.call('stop', scope, id, () => this.inner.stop(scope, id, options), options);
  }

  /** Retried; after an attempt whose answer was lost, the machine is read first: gone is done (resilient-changes.ts). */
  destroy(scope: FleetScope, id: string, options?: CallOptions): Promise<void> {
    return this.call('destroy', scope, id, new DestroySend(this.inner, scope, id).send, options);
  }

  cordon(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('cordon', scope, id, () => this.inner.cordon(scope, id), options);
  }

  uncordon(scope: FleetScope, id: string, role?: MachineRole, options?: CallOptions): Promise<Machine> {
    return this.call('uncordon', scope, id, () => this.inner.uncordon(scope, id, role), options);
  }

  /**
   * Wait up to `timeoutMs` in all, in calls of at most 60 s each; a chunk that times out is
   * re-issued until the deadline. Every chunk is throttled and retried like any call.
   */
  waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    this.stats.calls.wait++;
    this.stats.totalCalls++;
    const wait = new ResilientWait(this.waits, scope, id, condition, timeoutMs, signal);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    // The first chunk outside the loop: most waits end within it, and then make no frame of the loop.
    // `attempt` inlined, with the wait's own handler instead of a closure of its own.
    let first: Promise<Machine>;
    if (this.sendsAtOnce('wait', scope, id, signal)) {
      this.stats.attempts.wait++;
      let answer: Promise<Machine>;
      try {
        answer = wait.send();
      } catch (error) {
        answer = Promise.reject(error);
      }
      first = answer.then(this.gate ? this.answered : undefined, wait.failed);
    } else {
      wait.retriedFromStart();
      first = this.retried('wait', scope, id, wait.sendFn(), signal);
    }
    return first.then(undefined, wait.failed);
  }

  /** A chunk of a wait failed with `error`: re-issue chunks while it timed out before the deadline. */
  private async nextChunks(wait: ResilientWait, error: unknown): Promise<Machine> {
    const { id, signal } = wait;
    for (;;) {
      if (!(error instanceof ProviderError && error.kind === 'wait_timeout')) throw error;
      if (this.clock.now() >= wait.deadline()) throw wait.timedOut(error);
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (wait.deadline() - this.clock.now() <= 0) throw wait.timedOut();
      this.stats.waitChunks++;
      try {
        return await this.attempt('wait', wait.scope, id, wait.sendFn(), signal);
      } catch (next) {
        error = next;
      }
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  resetStats(): void {
    this.stats = emptyResilientStats();
  }

  private call<T>(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    send: () => Promise<T>,
    options?: CallOptions,
  ): Promise<T> {
    this.stats.calls[op]++;
    this.stats.totalCalls++;
    return this.attempt(op, scope, machineId, send, options?.signal);
  }

  /** Throttle, send, and retry what may be retried (behind the gate, when outages are ridden out). */
  private attempt<T>(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    send: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const gate = this.gate;
    if (this.sendsAtOnce(op, scope, machineId, signal)) {
      this.stats.attempts[op]++;
      let answer: Promise<T>;
      try {
        answer = send();
      } catch (error) {
        answer = Promise.reject(error);
      }
      return answer.then(gate ? this.answered : undefined, (error: unknown) =>
        this.retried(op, scope, machineId, send, signal, { error }),
      );
    }
    return this.retried(op, scope, machineId, send, signal);
  }

  /**
   * Most calls find the gate open and their token there: sent at once, as the retry loop would, but
   * without its closures and promises, which are made only when this first attempt fails. (`take`
   * spends a token only when there is one, as `reserve` would then; otherwise the loop reserves it.)
   */
  private sendsAtOnce(op: ProviderOp, scope: FleetScope, machineId: string | undefined, signal?: AbortSignal): boolean {
    const gate = this.gate;
    return (
      (gate === undefined || (gate.down === undefined && !signal?.aborted)) &&
      (this.limiter === undefined || this.limiter.take(op, scope, machineId, this.clock.now()) === 0)
    );
  }

  /** An answer says the provider is there (only with a gate). */
  private readonly answered = <T>(answer: T): T => {
    this.gate?.markUp(this.clock.now());
    return answer;
  };

  /** The retry loop of `attempt`; from the first attempt's failure when `failedFirst` (it was sent). */
  private async retried<T>(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    send: () => Promise<T>,
    signal: AbortSignal | undefined,
    failedFirst?: { error: unknown },
  ): Promise<T> {
    const gate = this.gate;
    const now = this.now;
    let probe = false;
    // A call that keeps failing while the provider answers others (a machine on a host that is down)
    // is no outage, and the gate never gives it up: it ends after provider_outage_timeout of its own
    // failures, the time the gate was shut not counted (that is the outage timeout's). Not a wait's
    // chunk: it is many requests, one 5xx among them fails it, and the wait's deadline bounds it. Nor
    // a 429: that is the provider answering "later" to an app whose rate limit others share too.
    const bounded = op !== 'wait';
    let failingSince: number | undefined;
    let downAtFailing = 0;
    // Only the send's own failures are judged: an abort while waiting at the gate or for a token ends the call.
    let sent = failedFirst !== undefined;
    const sendOnce = async (): Promise<T> => {
      sent = false;
      if (gate && !probe) probe = await gate.admit(now, signal);
      // Most calls find their token there: no promise to wait on then.
      const throttled = this.throttle(op, scope, machineId, signal);
      if (throttled) await throttled;
      this.stats.attempts[op]++;
      sent = true;
      const answer = await send();
      gate?.markUp(now());
      return answer;
    };
    const decide = (error: unknown, attempt: number): RetryDecision => {
      if (!sent || !(error instanceof ProviderError)) return GIVE_UP;
      if (!error.retryable) {
        // Any answer, a refusal included, says the provider is there.
        gate?.markUp(now());
        return GIVE_UP;
      }
      if (error.kind === 'rate_limited') this.stats.rateLimited++;
      if (gate) {
        gate.markDown(error.message, now());
        if (gate.exhausted(now())) {
          this.stats.gaveUp++;
          throw this.outageError(gate, error);
        }
        const own = bounded && error.kind !== 'rate_limited';
        if (own && failingSince === undefined) {
          failingSince = now();
          downAtFailing = gate.downMs(failingSince);
        } else if (
          own &&
          failingSince !== undefined &&
          now() - failingSince - (gate.downMs(now()) - downAtFailing) >= gate.outageTimeoutMs
        ) {
          this.stats.gaveUp++;
          throw this.failingError(gate, error, now() - failingSince);
        }
      } else if (attempt >= this.retry.maxAttempts) {
        this.stats.gaveUp++;
        return GIVE_UP;
      }
      this.stats.retries++;
      this.stats.retriesByKind[error.kind as RetryableKind]++;
      // The probe backs off; the others wait at the gate for its answer. A 429 is always waited
      // out by the call that got it (its Retry-After is about that call's bucket).
      if (gate && probe) gate.failures++;
      if (!gate || probe || error.kind === 'rate_limited')
        return this.backoff(error, gate ? Math.max(1, gate.failures) : attempt);
      return AGAIN_AT_ONCE;
    };
    try {
      return await (failedFirst
        ? retryingAfter(this.clock, failedFirst.error, 1, sendOnce, decide, signal)
        : retrying(this.clock, sendOnce, decide, signal));
    } finally {
      if (probe) gate!.releaseProbe();
    }
  }

  private outageError(gate: ProviderGate, last: ProviderError): ProviderError {
    const since = gate.down?.sinceMs ?? this.clock.now();
    const seconds = Math.round((this.clock.now() - since) / 1000);
    return new ProviderError(
      'unavailable',
      `${this.name}: the provider has not answered for ${seconds} s (provider_outage_timeout ${Math.round(gate.outageTimeoutMs / 1000)} s): ${last.message}`,
      {
        ...last.details,
      },
    );
  }

  private failingError(gate: ProviderGate, last: ProviderError, failingMs: number): ProviderError {
    return new ProviderError(
      last.kind,
      `${this.name}: failed for ${Math.round(failingMs / 1000)} s while the provider answered other calls (provider_outage_timeout ${Math.round(gate.outageTimeoutMs / 1000)} s): ${last.message}`,
      { ...last.details },
    );
  }

  /** How long to wait before attempt `attempt + 1`. */
  private backoff(error: ProviderError, attempt: number): number {
    if (error.kind === 'rate_limited') return retryAfterDelay(this.retry, error.details.retryAfterMs);
    return backoffDelay(this.retry, attempt, this.rng);
  }

  /** Take a slot of the op's bucket (first come, first served); a sleep until it is ours, if it is not yet. */
  private throttle(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> | undefined {
    if (!this.limiter) return undefined;
    const wait = this.limiter.reserve(op, scope, machineId, this.clock.now());
    if (wait <= 0) return undefined;
    this.stats.throttled++;
    this.stats.throttledMs += wait;
    return this.clock.sleep(wait, signal);
  }
}
