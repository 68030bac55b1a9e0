// The `sim` provider: the simulated fleet behind a Fly-like API. Every call costs an `api` latency
// draw, counts in `stats`, may be refused by Fly's documented rate limits (429 + Retry-After), and
// may fail as configured (503, timeouts after which the change may or may not have happened).
// Time is the injected Clock's only; randomness is the seeded SeededRandom's only.

import { listenForAbort } from '../../domain/abort-listeners.js';
import { after, type Clock, type TimerHandle } from '../../domain/clock.js';
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
import { SimCall, SleepingCalls, type CallAnswerer } from './sim-call.js';
import { SimWait } from './sim-wait.js';
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

export class SimProvider implements Provider, CallAnswerer {
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
  /** Calls sleeping out their latency (or timeout): failed when the provider closes, so no timer outlives it. */
  readonly sleeping = new SleepingCalls();
  /** The clock's cancellable timers, bound once (every simulated call sleeps on one). */
  private readonly after: (ms: number, fire: () => void) => TimerHandle;

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
    this.after = clock.after ? clock.after.bind(clock) : (ms, fire) => after(clock, ms, fire);
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
    const wait = new SimWait(this.fleet, scope, id, condition, timeoutMs, signal);
    return this.call<Machine>('wait', scope, id, applyNothing, signal, wait);
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
    for (const call of this.sleeping.all()) call.stop(new ProviderError('unavailable', 'sim provider is closed'));
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
   *
   * Not an async function: every simulated call is one SimCall object, its timer and its promise.
   * It settles in the very microtask the async function it replaced did (the answer one tick after
   * the latency's timer fires, a timeout one tick after its second timer), so the order of
   * everything at one instant of virtual time is unchanged.
   */
  private call<T>(
    op: ProviderOp,
    scope: FleetScope,
    machineId: string | undefined,
    apply: () => T | Promise<T>,
    signal?: AbortSignal,
    wait?: SimWait,
  ): Promise<T> {
    if (this.closed) return Promise.reject(closedError(op, machineId));
    const c = new SimCall(this, op, machineId, apply, signal);
    if (wait) c.wait = wait;
    const promise = new Promise<unknown>(c.settleWith) as Promise<T>;
    try {
      this.arrive(c, scope);
    } catch (error) {
      c.reject(error);
    }
    return promise;
  }

  /** A call arrives: counted, refused or failed as configured, and its answer time drawn; then it sleeps. */
  private arrive(c: SimCall, scope: FleetScope): void {
    const { op, machineId } = c;
    const stats = this.stats;
    stats.calls[op]++;
    stats.totalCalls++;
    const startMs = (c.startMs = this.clock.now());

    const retryAfterMs = this.options.rateLimits ? this.limiter.take(op, scope, machineId, startMs) : 0;
    if (retryAfterMs > 0) {
      stats.rateLimited++;
      stats.rateLimitedByOp[op]++;
      c.refusal = new ProviderError('rate_limited', `rate limited: ${op} (retry after ${retryAfterMs} ms)`, {
        status: 429,
        retryAfterMs,
        machineId,
        op,
      });
    } else if (this.rng.chance(this.errorRate(op))) {
      stats.unavailable++;
      c.refusal = new ProviderError('unavailable', `service unavailable: ${op}`, { status: 503, machineId, op });
    } else if (this.rng.chance(this.options.faults.timeoutRate)) {
      stats.timeouts++;
      c.timedOut = true;
      c.applyDespiteTimeout = op !== 'wait' && this.rng.chance(0.5);
      if (c.applyDespiteTimeout) stats.timeoutsApplied++;
    }

    // A call on a known machine draws its answer time keyed to that machine and call (keyed-draws.ts).
    const record = machineId === undefined ? undefined : this.fleet.find(scope, machineId);
    c.latency = record
      ? latencyAt(this.options.latency.api, nextKeyedNormal(this.drawBase, record, API_DRAW_OP[op]))
      : sampleLatency(this.options.latency.api, this.rng);
    this.sleep(c, c.latency);
  }

  /** The call's latency has passed (SimCall.fire, one tick after its timer): answer it. */
  answer(c: SimCall): void {
    const { op, machineId } = c;
    // Only built when the op log is on (the benchmark's bounds): most runs make tens of thousands of calls.
    const phase: SimPhase | undefined = this.log.enabled
      ? { op: 'api', apiOp: op, startMs: c.startMs, endMs: this.clock.now() }
      : undefined;
    if (phase) {
      if (machineId !== undefined) phase.machineId = machineId;
      this.log.record(phase);
    }
    if (this.closed) throw closedError(op, machineId);
    if (c.refusal) throw c.refusal;

    if (c.timedOut) {
      if (c.applyDespiteTimeout) {
        try {
          const made = c.apply();
          if (made instanceof Promise) made.catch(() => undefined);
          else if (op === 'create' && phase) phase.machineId = (made as Machine).id;
        } catch {
          // The change failed on the server; the caller only ever sees the timeout.
        }
      }
      c.timingOut = true;
      this.sleep(c, Math.max(0, this.apiTimeoutMs - c.latency));
      return;
    }

    const wait = c.wait;
    if (wait) {
      // Judged now and then on every change; it settles the call itself (sim-wait.ts).
      try {
        this.fleet.startWait(wait);
      } catch (error) {
        wait.settle(undefined, error);
      }
      return wait.begin(c.resolve, c.reject);
    }
    const result = c.apply();
    if (op === 'create' && phase && !(result instanceof Promise)) phase.machineId = (result as Machine).id;
    c.resolve(result);
  }

  /** The timed-out call's timeout has passed: the caller sees it (the change may have happened). */
  timeoutError(c: SimCall): ProviderError {
    return new ProviderError(
      'timeout',
      `${c.op} timed out after ${this.apiTimeoutMs} ms (the change may have happened)`,
      {
        machineId: c.machineId,
        op: c.op,
      },
    );
  }

  /** Sleep the call on the clock until `ms` pass, its caller aborts (its reason), or the provider closes. */
  private sleep(c: SimCall, ms: number): void {
    const signal = c.signal;
    if (signal?.aborted) return c.failNextTick(signal.reason ?? new Error('aborted'));
    if (this.closed) return c.failNextTick(new ProviderError('unavailable', 'sim provider is closed'));
    c.timer = this.after(ms, c.fire);
    this.sleeping.add(c);
    if (signal) c.listening = listenForAbort(signal, c);
  }

  /** 503 probability of an op: its own rate when set, otherwise the `all` rate. */
  private errorRate(op: ProviderOp): number {
    const rates = this.options.faults.errorRate;
    return rates[op] ?? rates['all'] ?? 0;
  }
}

/** A wait call's `apply`: its SimWait starts it instead. */
function applyNothing(): never {
  throw new Error('a wait call is started by its SimWait');
}

function closedError(op: ProviderOp, machineId: string | undefined): ProviderError {
  return new ProviderError('unavailable', 'sim provider is closed', { op, machineId });
}
