// The `sim` provider: the simulated fleet behind a Fly-like API. Every call costs an `api` latency
// draw, counts in `stats`, may be refused by Fly's documented rate limits (429 + Retry-After), and
// may fail as configured (503, timeouts after which the change may or may not have happened).
// Time is the injected Clock's only; randomness is the seeded SeededRandom's only.

import { AbortFanout } from '../../domain/abort-fanout.js';
import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import {
  ProviderError,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
  type ProviderOp,
  type StopOptions,
  type WaitArgs,
} from '../contract.js';
import { PROVIDER_OPS, zeroByOp, type CallCounts, type CountsByOp } from '../provider-ops.js';
import { FLY_RATE_LIMITS, RateLimiter, type RateLimitTable } from '../rate-limit/fly-limits.js';
import { SimFleet, type SimFleetState } from './fleet.js';
import { keyedDrawBase, nextKeyedNormal } from './keyed-draws.js';
import { latencyAt, sampleLatency } from './latency.js';
import { OpLog, type SimPhase } from './op-log.js';
import type { SimOptions } from './options.js';
import { SeededRandom } from '../../domain/random.js';
import { resolveSimOptions, type SimOptionsInput } from './resolve-options.js';

/** The keyed-draw op of each API call (`api:update`…), built once: a template per call is garbage. */
const API_DRAW_OP = Object.fromEntries(PROVIDER_OPS.map((op) => [op, `api:${op}`])) as Record<ProviderOp, string>;

/** How long a call that times out takes before the caller sees the timeout (unless set). */
export const DEFAULT_API_TIMEOUT_MS = 10_000;

/** `calls`: API calls received, by op (refused ones included). */
export interface SimStats extends CallCounts {
  /** Calls answered 429 (rate limited), in all and by op. */
  rateLimited: number;
  rateLimitedByOp: CountsByOp;
  /** Calls answered 503 (injected `errorRate`). */
  unavailable: number;
  /** Calls that timed out (injected `timeoutRate`), and how many of those still made their change. */
  timeouts: number;
  timeoutsApplied: number;
}

export interface SimProviderSettings {
  /** Record every simulated phase in `ops` (benchmarks derive lower bounds from it). */
  recordOps?: boolean;
  /** How long a timed-out call takes (default 10 s). */
  apiTimeoutMs?: number;
  /** Limits enforced when `options.rateLimits` is on (default: Fly's documented ones). */
  limits?: Readonly<RateLimitTable>;
  /** Continue a saved random sequence (SimState.rng) instead of starting from `options.seed`. */
  rngState?: readonly number[];
}

/** The whole simulated world, as JSON: every machine, the id counters, and the random state. */
export interface SimState {
  format: 'runway-sim/1';
  savedAtMs: number;
  rng: number[];
  fleet: SimFleetState;
}

export function emptySimStats(): SimStats {
  return {
    calls: zeroByOp(),
    totalCalls: 0,
    rateLimited: 0,
    rateLimitedByOp: zeroByOp(),
    unavailable: 0,
    timeouts: 0,
    timeoutsApplied: 0,
  };
}

export class SimProvider implements Provider {
  readonly name = 'sim';
  readonly options: SimOptions;
  stats: SimStats = emptySimStats();
  private readonly rng: SeededRandom;
  /** Salt of the API calls' keyed draws (keyed-draws.ts). */
  private readonly drawBase: number;
  private readonly fleet: SimFleet;
  private readonly log: OpLog;
  private readonly limiter: RateLimiter;
  private readonly apiTimeoutMs: number;
  private closed = false;
  /** Aborts every API call in flight on close, so no timer outlives the provider. */
  /** Ends every sleep when the provider closes; a fan-out, since thousands of calls sleep at once. */
  private readonly closer = new AbortFanout([]);
  /** Sleeps in flight on a clock with `after`: failed when the provider closes. */
  private readonly sleepers = new Set<Sleeper>();
  /** The clock's cancellable timers, bound once (every simulated call sleeps on one). */
  private readonly after: ((ms: number, fire: () => void) => () => void) | undefined;

  constructor(
    private readonly clock: Clock,
    options: SimOptionsInput = {},
    settings: SimProviderSettings = {},
  ) {
    this.options = resolveSimOptions(options);
    this.rng = settings.rngState ? SeededRandom.fromState(settings.rngState) : SeededRandom.fromSeed(this.options.seed);
    this.drawBase = keyedDrawBase(this.rng);
    this.log = new OpLog(settings.recordOps ?? false);
    this.limiter = new RateLimiter(settings.limits ?? FLY_RATE_LIMITS);
    this.apiTimeoutMs = settings.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS;
    this.fleet = new SimFleet(clock, this.options, this.rng, this.log);
    this.after = clock.after?.bind(clock);
  }

  // ---- the Provider contract ---------------------------------------------------------------

  list(scope: FleetScope): Promise<Machine[]> {
    return this.call('list', scope, undefined, () => this.fleet.list(scope));
  }

  get(scope: FleetScope, id: string): Promise<Machine> {
    return this.call('get', scope, id, () => this.fleet.get(scope, id));
  }

  create(scope: FleetScope, spec: MachineSpec): Promise<Machine> {
    return this.call('create', scope, undefined, () => this.fleet.create(scope, spec));
  }

  update(scope: FleetScope, id: string, update: MachineUpdate): Promise<Machine> {
    return this.call('update', scope, id, () => this.fleet.update(scope, id, update));
  }

  start(scope: FleetScope, id: string): Promise<Machine> {
    return this.call('start', scope, id, () => this.fleet.start(scope, id));
  }

  stop(scope: FleetScope, id: string, _options?: StopOptions): Promise<Machine> {
    return this.call('stop', scope, id, () => this.fleet.stop(scope, id));
  }

  destroy(scope: FleetScope, id: string): Promise<void> {
    return this.call('destroy', scope, id, () => this.fleet.destroy(scope, id));
  }

  cordon(scope: FleetScope, id: string): Promise<Machine> {
    return this.call('cordon', scope, id, () => this.fleet.cordon(scope, id));
  }

  uncordon(scope: FleetScope, id: string, role?: MachineRole): Promise<Machine> {
    return this.call('uncordon', scope, id, () => this.fleet.uncordon(scope, id, role));
  }

  /**
   * One wait call: costs an API latency (and a `wait` rate-limit token), then resolves on the first
   * change that meets the condition. The sim does not cap `timeoutMs` at Fly's 60 s; the resilient
   * provider chunks long waits.
   */
  waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    return this.call('wait', scope, id, () => this.fleet.waitFor(scope, id, condition, timeoutMs, signal), signal);
  }

  /** What a simulated process printed: a release command's run, in a few synthetic lines. */
  async logs(scope: FleetScope, id: string): Promise<string[]> {
    let m;
    try {
      m = this.fleet.get(scope, id);
    } catch {
      m = undefined;
    }
    if (!m) return [`machine ${id} is gone; the sim keeps no logs of destroyed machines`];
    const lines = [`[sim] ${m.role} machine ${m.id} on ${m.release}`];
    if (m.state === 'failed') lines.push(`[sim] process exited with code ${m.exitCode ?? 1}`);
    return lines;
  }

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    return this.fleet.subscribe(scope, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closer.abort(new ProviderError('unavailable', 'sim provider is closed'));
    for (const sleeper of [...this.sleepers]) sleeper.stop(new ProviderError('unavailable', 'sim provider is closed'));
    this.fleet.close();
  }

  // ---- sim extras --------------------------------------------------------------------------

  /** Create `count` started machines per group at once: no latency, no rate limits, no stats. */
  seed(scope: FleetScope, groups: { name: string; count: number }[], release: string): Machine[] {
    return this.fleet.seed(scope, groups, release);
  }

  /** Seed the scope only if it has never had a machine (see SimFleet.seedIfNew); returns what was made. */
  seedIfNew(scope: FleetScope, groups: { name: string; count: number }[], release: string): Machine[] {
    return this.fleet.seedIfNew(scope, groups, release);
  }

  /** Every simulated phase so far (empty unless constructed with `recordOps: true`). */
  get ops(): readonly SimPhase[] {
    return this.log.phases;
  }

  /** Machines in every scope. */
  get machineCount(): number {
    return this.fleet.size;
  }

  /** Listener exceptions swallowed so far (a listener must not throw). */
  get listenerErrors(): number {
    return this.fleet.listenerErrors;
  }

  resetStats(): void {
    this.stats = emptySimStats();
    this.log.clear();
  }

  toJSON(): SimState {
    return {
      format: 'runway-sim/1',
      savedAtMs: this.clock.now(),
      rng: this.rng.state(),
      fleet: this.fleet.exportState(),
    };
  }

  /**
   * A provider with a saved fleet. Machines caught mid-transition are settled (see SimFleet.importState);
   * the random state continues where it was saved unless `options.seed` should restart it (`reseed`).
   */
  static fromJSON(
    state: SimState,
    clock: Clock,
    options: SimOptionsInput = {},
    settings: SimProviderSettings & { reseed?: boolean } = {},
  ): SimProvider {
    if (state.format !== 'runway-sim/1') throw new Error(`unknown sim state format ${String(state.format)}`);
    const { reseed, ...rest } = settings;
    const rngState = reseed || !Array.isArray(state.rng) ? undefined : state.rng;
    const provider = new SimProvider(clock, options, rngState ? { ...rest, rngState } : rest);
    provider.fleet.importState(state.fleet);
    return provider;
  }

  // ---- the API layer -----------------------------------------------------------------------

  /**
   * One API call. Arrival decides everything (rate limit, injected failure) at once, so a client
   * that throttles with the same buckets and sends at the right moment is never refused; the answer
   * comes one `api` latency later. The change (`apply`) happens when the answer is made.
   */
  private async call<T>(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    apply: () => T | Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.closed) throw new ProviderError('unavailable', 'sim provider is closed', { op, machineId });
    const stats = this.stats;
    stats.calls[op]++;
    stats.totalCalls++;
    const startMs = this.clock.now();

    let refusal: ProviderError | undefined;
    let timedOut = false;
    let applyDespiteTimeout = false;
    const retryAfterMs = this.options.rateLimits ? this.limiter.take(op, scope, machineId, startMs) : 0;
    if (retryAfterMs > 0) {
      stats.rateLimited++;
      stats.rateLimitedByOp[op]++;
      refusal = new ProviderError('rate_limited', `rate limited: ${op} (retry after ${retryAfterMs} ms)`, {
        status: 429,
        retryAfterMs,
        machineId,
        op,
      });
    } else if (this.rng.chance(this.errorRate(op))) {
      stats.unavailable++;
      refusal = new ProviderError('unavailable', `service unavailable: ${op}`, { status: 503, machineId, op });
    } else if (this.rng.chance(this.options.faults.timeoutRate)) {
      stats.timeouts++;
      timedOut = true;
      applyDespiteTimeout = op !== 'wait' && this.rng.chance(0.5);
      if (applyDespiteTimeout) stats.timeoutsApplied++;
    }

    // A call on a known machine draws its answer time keyed to that machine and call (keyed-draws.ts).
    const record = machineId === undefined ? undefined : this.fleet.find(scope, machineId);
    const latency = record
      ? latencyAt(this.options.latency.api, nextKeyedNormal(this.drawBase, record, API_DRAW_OP[op]))
      : sampleLatency(this.options.latency.api, this.rng);
    await this.sleep(latency, signal);
    // Only built when the op log is on (the benchmark's bounds): most runs make tens of thousands of calls.
    const phase: SimPhase | undefined = this.log.enabled
      ? { op: 'api', apiOp: op, startMs, endMs: this.clock.now() }
      : undefined;
    if (phase) {
      if (machineId !== undefined) phase.machineId = machineId;
      this.log.record(phase);
    }
    if (this.closed) throw new ProviderError('unavailable', 'sim provider is closed', { op, machineId });
    if (refusal) throw refusal;

    if (timedOut) {
      if (applyDespiteTimeout) {
        try {
          const made = apply();
          if (made instanceof Promise) made.catch(() => undefined);
          else if (op === 'create' && phase) phase.machineId = (made as Machine).id;
        } catch {
          // The change failed on the server; the caller only ever sees the timeout.
        }
      }
      await this.sleep(Math.max(0, this.apiTimeoutMs - latency), signal);
      throw new ProviderError(
        'timeout',
        `${op} timed out after ${this.apiTimeoutMs} ms (the change may have happened)`,
        {
          machineId,
          op,
        },
      );
    }

    const result = apply();
    if (op === 'create' && phase && !(result instanceof Promise)) phase.machineId = (result as Machine).id;
    return result;
  }

  /** Sleep on the clock until `ms` pass, the caller aborts (its reason), or the provider closes. */
  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    // Every simulated API call sleeps here: with `clock.after` it costs a timer, one Sleeper and a
    // listener on the caller's own signal, not an AbortController of its own.
    const after = this.after;
    if (!after) return this.sleepWithSignal(ms, signal);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    if (this.closed) return Promise.reject(new ProviderError('unavailable', 'sim provider is closed'));
    return new Promise<void>((resolve, reject) => {
      const sleeper = new Sleeper(this.sleepers, resolve, reject, signal);
      sleeper.cancel = after(ms, sleeper.fire);
      this.sleepers.add(sleeper);
      signal?.addEventListener('abort', sleeper, { once: true });
    });
  }

  private async sleepWithSignal(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const closing = this.closer.child(signal);
    try {
      await this.clock.sleep(ms, closing.signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw error;
    } finally {
      closing.done();
    }
  }

  /** 503 probability of an op: its own rate when set, otherwise the `all` rate. */
  private errorRate(op: ProviderOp): number {
    const rates = this.options.faults.errorRate;
    return rates[op] ?? rates['all'] ?? 0;
  }
}

/** One simulated call's sleep: an object with one closure (the timer's), and the abort listener itself. */
class Sleeper {
  cancel: () => void = () => {};

  constructor(
    private readonly sleepers: Set<Sleeper>,
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  readonly fire = (): void => {
    this.sleepers.delete(this);
    this.signal?.removeEventListener('abort', this);
    this.resolve();
  };

  /** The caller's signal aborted (EventListener object). */
  handleEvent(): void {
    this.stop(this.signal!.reason ?? new Error('aborted'));
  }

  stop(error: unknown): void {
    this.cancel();
    this.sleepers.delete(this);
    this.signal?.removeEventListener('abort', this);
    this.reject(error);
  }
}
