// One wait of the resilient provider (resilient-provider.ts `waitFor`): the one object a wait keeps
// while its machine boots and passes checks. A wait used to keep a closure for its deadline, one that
// sent its chunks, and the closures and contexts of the two handlers of its promise chain, all alive
// for the seconds a machine takes, so all copied out of the young generation. The chain itself is
// unchanged: `then(answered, failed)` on the inner wait, then `then(undefined, failed)` on that, so
// the caller's promise settles on the very tick it did, answered or failed.

import type { Clock } from '../domain/clock.js';
import type { FleetScope, Machine } from '../domain/types.js';
import { ProviderError, type Provider, type WaitCondition } from './contract.js';
import type { ProviderGate } from './provider-gate.js';

/** What a wait needs of its provider (one per ResilientProvider, made in its constructor). */
export interface WaitHost {
  readonly inner: Provider;
  readonly clock: Clock;
  readonly gate: ProviderGate | undefined;
  readonly maxWaitChunkMs: number;
  /** The first chunk's first attempt failed with `error`: the retry loop of that attempt. */
  retryFirst(wait: ResilientWait, error: unknown): Promise<Machine>;
  /** A chunk failed with `error`: the chunks after it, while it timed out before the deadline. */
  nextChunks(wait: ResilientWait, error: unknown): Promise<Machine>;
}

export class ResilientWait {
  /** The deadline without outages: the wait's start plus its timeout. */
  private readonly base: number;
  /** The gate's outage time when the wait began (only what is lost after that stretches it). */
  private readonly downAtStart: number;
  /**
   * The first link's failure was handled (or the first link was the retry loop itself): a failure
   * now is the second link's.
   */
  private firstFailed = false;
  private sender: (() => Promise<Machine>) | undefined = undefined;
  /**
   * The rejection handler of both links of the chain: first the first chunk's attempt failed (its
   * retry loop), then that failed too (the next chunks). A bound method: a closure would keep a
   * context as well, and as a class field the TypeScript loader would name it (a defineProperty).
   */
  readonly failed: (error: unknown) => Promise<Machine>;

  constructor(
    private readonly host: WaitHost,
    readonly scope: FleetScope,
    readonly id: string,
    readonly condition: WaitCondition,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {
    this.base = host.clock.now() + Math.max(0, timeoutMs);
    this.downAtStart = host.gate?.downMs(host.clock.now()) ?? 0;
    this.failed = this.onFailure.bind(this);
  }

  /** The deadline now: outage time lost during the wait does not count against it. */
  deadline(): number {
    const gate = this.host.gate;
    return gate ? this.base + gate.downMs(this.host.clock.now()) - this.downAtStart : this.base;
  }

  /** Sends one chunk, sized now, so retries and throttling eat into it, not past the deadline. */
  send(): Promise<Machine> {
    const { host } = this;
    const chunk = Math.min(Math.max(0, this.deadline() - host.clock.now()), host.maxWaitChunkMs);
    return host.inner.waitFor(this.scope, this.id, this.condition, chunk, this.signal);
  }

  /** `send` as a function, for the retry loop and the chunks after the first (made when one is needed). */
  sendFn(): () => Promise<Machine> {
    return (this.sender ??= () => this.send());
  }

  /** The first chunk goes through the retry loop from the start: a failure now is the chain's second link. */
  retriedFromStart(): void {
    this.firstFailed = true;
  }

  /** The wait's error once its deadline has passed (`last`: the chunk that timed out). */
  timedOut(last?: ProviderError): ProviderError {
    const detail = last ? `: ${last.message}` : '';
    return new ProviderError(
      'wait_timeout',
      `wait for ${this.id} (${this.condition.state}) timed out after ${this.timeoutMs} ms${detail}`,
      {
        machineId: this.id,
        op: 'wait',
      },
    );
  }

  private onFailure(error: unknown): Promise<Machine> {
    if (this.firstFailed) return this.host.nextChunks(this, error);
    this.firstFailed = true;
    return this.host.retryFirst(this, error);
  }
}
