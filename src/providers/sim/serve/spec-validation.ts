// `runway sim serve` holds every Machines API request to Fly's published spec (plus the documented
// overlay, src/providers/fly/spec/overlay.ts) before the backend sees it: an unknown route is a 404,
// an undeclared or mistyped query parameter or a body the operation's schema refuses is a 400, each
// with Fly's error body (`{"error": "…"}`). So a client that passes against `sim serve` sends nothing
// Fly's API does not take. Every exchange (request and answer) can be handed to an observer, which is
// how the conformance suite checks the answers against the operation's response schema.

import type { MiddlewareHandler } from 'hono';
import { LEASE_NONCE_HEADER } from '../../fly/fly-types.js';
import { flySpec, type Operation } from '../../fly/spec/validator.js';

export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** Parsed JSON body, undefined when none was sent. */
  body: unknown;
  /** The fly-machine-lease-nonce header, if sent. */
  nonce?: string;
  /** The operation the request matched; undefined when it matched none. */
  operation?: Operation;
  /** Why the request was refused before reaching the backend, if it was. */
  refused?: string;
  status: number;
  /** Parsed JSON answer (undefined when empty). */
  response: unknown;
}

export type ExchangeObserver = (exchange: Exchange) => void;

/** Middleware for `/v1/*`: refuse what the spec does not allow; tell `observe` about every exchange. */
export function specValidation(observe?: ExchangeObserver): MiddlewareHandler {
  const spec = flySpec();
  return async (c, next) => {
    const query = flatten(c.req.queries());
    const text = await c.req.text(); // hono caches it: the route handler reads it again
    let body: unknown = undefined;
    let refused: string | undefined;
    let operation: Operation | undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        refused = 'request body is not valid JSON';
      }
    }
    if (refused) c.res = c.json({ error: refused }, 400);
    else {
      const check = spec.checkRequest({ method: c.req.method, path: c.req.path, query, body });
      operation = check.operation;
      if (check.ok) await next();
      else {
        refused = check.problem;
        c.res = c.json({ error: check.problem }, check.status);
      }
    }
    if (!observe) return;
    const answer = c.res.status === 204 ? '' : await c.res.clone().text();
    let response: unknown = undefined;
    try {
      response = answer ? JSON.parse(answer) : undefined;
    } catch {
      response = answer;
    }
    const nonce = c.req.header(LEASE_NONCE_HEADER) || undefined;
    observe({
      method: c.req.method,
      path: c.req.path,
      query,
      body,
      nonce,
      operation,
      refused,
      status: c.res.status,
      response,
    });
  };
}

function flatten(queries: Record<string, string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, values] of Object.entries(queries)) out[k] = values.length === 1 ? values[0]! : values;
  return out;
}
