// HTTP answers of the Machines API → ProviderError kinds, so retries are decided in one place (the
// ResilientProvider): 429 → rate_limited with Retry-After in ms; 502/503/500 → unavailable; 504 and
// client-side timeouts → timeout (the change may have happened); 404 → not_found; 409/412 → conflict;
// 401/403 → unauthorized; 400/422 and other 4xx → bad_request; 408 on a wait → wait_timeout.

import { ProviderError, type ProviderErrorKind, type ProviderOp } from '../contract.js';

export function kindForStatus(status: number, op: ProviderOp | undefined): ProviderErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 408) return op === 'wait' ? 'wait_timeout' : 'timeout';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'unavailable';
  if (status === 404) return 'not_found';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 401 || status === 403) return 'unauthorized';
  return 'bad_request';
}

/** Retry-After in ms: delay-seconds (fractions tolerated) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** The `error` of a Fly error body, or the text itself when it is not one. Bounded: bodies can be pages. */
export function errorText(body: unknown, raw: string): string {
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string')
    return (body as { error: string }).error;
  const text = raw.trim().replace(/\s+/g, ' ');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export interface ErrorContext {
  op?: ProviderOp;
  machineId?: string;
  /** What was being done, e.g. "update machine 148e…" (goes first in the message). */
  what: string;
}

export function httpError(status: number, detail: string, ctx: ErrorContext, retryAfterMs?: number): ProviderError {
  const kind = kindForStatus(status, ctx.op);
  const details: ProviderError['details'] = { status };
  if (ctx.op) details.op = ctx.op;
  if (ctx.machineId) details.machineId = ctx.machineId;
  if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
  const hint =
    kind === 'unauthorized'
      ? ' (the Fly API refused the token: check FLY_API_TOKEN or token_file, and that it may act on this app)'
      : '';
  return new ProviderError(kind, `fly: ${ctx.what}: ${status}${detail ? ` ${detail}` : ''}${hint}`, details);
}
