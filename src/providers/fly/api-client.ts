// One HTTP request to the Machines API and the mapping of its answer to a value or a ProviderError.
// No retries and no rate limiting here: that is the ResilientProvider's job, once, for every provider.
// Time is the injected Clock's (request timeouts included), so a client on a scaled clock talks to a
// `runway sim serve --speed X` server consistently.

import { Agent, fetch } from 'undici';
import type { Clock } from '../../domain/clock.js';
import { ProviderError, type ProviderOp } from '../contract.js';
import { errorText, httpError, parseRetryAfter } from './api-errors.js';
import { LEASE_NONCE_HEADER } from './fly-types.js';
import type { FlyToken } from './token.js';

export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, e.g. `/v1/apps/mechanic-staging/machines`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Lease nonce, sent as fly-machine-lease-nonce. */
  nonce?: string;
  /** The caller's abort signal: aborts the request in flight (waits), rejecting with its reason. */
  signal?: AbortSignal;
  /** Longest wait for the answer (default: the client's). */
  timeoutMs?: number;
  op?: ProviderOp;
  machineId?: string;
  /** For messages, e.g. "update machine 148e…". */
  what: string;
  /** Counter key for stats, e.g. "lease". */
  label: string;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export interface ApiStats {
  /** HTTP requests sent (every attempt), in all and by label. */
  requests: number;
  byLabel: Record<string, number>;
  /** Answers by status class. */
  rateLimited: number;
  serverErrors: number;
  timeouts: number;
  networkErrors: number;
}

export function emptyApiStats(): ApiStats {
  return { requests: 0, byLabel: {}, rateLimited: 0, serverErrors: 0, timeouts: 0, networkErrors: 0 };
}

export interface ApiClientOptions {
  baseUrl: string;
  token: FlyToken;
  clock: Clock;
  timeoutMs: number;
}

export class FlyApiClient {
  stats: ApiStats = emptyApiStats();
  readonly origin: string;
  private readonly baseUrl: string;
  // One pool per client; many long-poll waits run at once, so connections are not capped.
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: null, pipelining: 1 });
  private readonly answerListeners = new Set<() => void>();

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.origin = new URL(this.baseUrl).origin;
  }

  /** Longest wait for an answer (request_timeout), unless a request names its own. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * Be told of every answer that shows the API is there: a 2xx, or a refusal that is not a sign of
   * absence (404, 408, 409, 412…; not a 5xx, a 429 or a timeout). Returns the unsubscribe function.
   */
  onAnswer(listener: () => void): () => void {
    this.answerListeners.add(listener);
    return () => this.answerListeners.delete(listener);
  }

  /** Send; a 2xx answer resolves with its parsed body, anything else rejects with a ProviderError. */
  async send<T>(req: ApiRequest): Promise<ApiResponse<T>> {
    const { clock, token } = this.options;
    if (req.signal?.aborted) throw req.signal.reason ?? new Error('aborted');
    const url = new URL(this.baseUrl + req.path);
    for (const [key, value] of Object.entries(req.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { authorization: token.authorization(), accept: 'application/json' };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.nonce) headers[LEASE_NONCE_HEADER] = req.nonce;

    this.stats.requests++;
    this.stats.byLabel[req.label] = (this.stats.byLabel[req.label] ?? 0) + 1;
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const deadline = new AbortController();
    const timer = new AbortController();
    let timedOut = false;
    clock.sleep(timeoutMs, timer.signal).then(
      () => {
        timedOut = true;
        deadline.abort(new Error('timeout'));
      },
      () => {},
    );
    const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
    let status: number;
    let raw: string;
    let retryAfter: string | null;
    try {
      const res = await fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
        dispatcher: this.agent,
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      raw = await res.text();
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason ?? error;
      if (timedOut) {
        this.stats.timeouts++;
        throw new ProviderError(
          'timeout',
          `fly: ${req.what}: no answer from ${this.origin} within ${timeoutMs} ms (the change may have happened)`,
          this.details(req),
        );
      }
      this.stats.networkErrors++;
      throw new ProviderError(
        'unavailable',
        token.redact(`fly: ${req.what}: cannot reach the Machines API at ${this.origin}: ${networkReason(error)}`),
        this.details(req),
      );
    } finally {
      timer.abort();
    }

    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    if (status >= 200 && status < 300) {
      this.answered();
      return { status, body: body as T };
    }
    if (status === 429) this.stats.rateLimited++;
    if (status >= 500) this.stats.serverErrors++;
    const retryAfterMs = status === 429 ? parseRetryAfter(retryAfter, clock.now()) : undefined;
    const error = httpError(
      status,
      token.redact(errorText(body, raw)),
      { op: req.op, machineId: req.machineId, what: req.what },
      retryAfterMs,
    );
    if (!error.retryable) this.answered();
    throw error;
  }

  private answered(): void {
    for (const listener of this.answerListeners) {
      try {
        listener();
      } catch {
        // A listener must not turn an answer into a failure.
      }
    }
  }

  private closing: Promise<void> | undefined;

  /** Close the connection pool (idempotent). */
  close(): Promise<void> {
    this.closing ??= this.agent.close();
    return this.closing;
  }

  private details(req: ApiRequest): ProviderError['details'] {
    const details: ProviderError['details'] = {};
    if (req.op) details.op = req.op;
    if (req.machineId) details.machineId = req.machineId;
    return details;
  }
}

/** The useful part of a fetch failure (undici wraps the socket error in `cause`). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
