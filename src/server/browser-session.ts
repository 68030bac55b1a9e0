// The dashboard's sign-in: POST /dashboard/login takes an API token, checks it, and starts a session:
// the HttpOnly, SameSite=Strict cookie holds an opaque random session id — not the token — and the
// store holds only its sha256, the token it stands for and a server-side expiry. A request with the
// cookie acts with that token's role; the session ends at its expiry, at sign-out (on the server, not
// just in the browser) and at once when the token is revoked. The token never appears in a page, a
// URL, a cookie or a log line.
//
// Cross-site request forgery: besides SameSite=Strict, a request that changes anything (not GET/HEAD)
// authenticated by the cookie must (1) carry `X-Runway-CSRF` equal to HMAC-SHA256(session id, "runway-csrf")
// — pages put it in a <meta> tag, and a page of another site can read neither it nor the cookie — and
// (2) when the browser sends an Origin, come from this server's own origin.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/contract.js';
import { principalOf, type Principal } from './auth.js';

export const SESSION_COOKIE = 'runway_session';
export const CSRF_HEADER = 'x-runway-csrf';
/** Sessions last 12 hours on the server (the browser is told the same; the server decides). */
export const SESSION_MAX_AGE_S = 12 * 3600;

const SESSION_ID = /^rws_[A-Za-z0-9_-]{43}$/;

export function csrfToken(sessionId: string): string {
  return createHmac('sha256', sessionId).update('runway-csrf').digest('base64url');
}

/** What the store keeps of a session id. */
export function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}

/** Start a session for an authenticated token: the id for the cookie (the store keeps its hash). */
export async function startSession(store: Store, clock: Clock, tokenId: string): Promise<string> {
  const id = `rws_${randomBytes(32).toString('base64url')}`;
  const now = clock.now();
  await store.createSession({
    idHash: sessionHash(id),
    tokenId,
    createdAtMs: now,
    expiresAtMs: now + SESSION_MAX_AGE_S * 1000,
  });
  return id;
}

/** The principal of an active session (not ended, not expired, its token not revoked), or undefined. */
export async function sessionPrincipal(
  store: Store,
  clock: Clock,
  sessionId: string,
): Promise<{ principal: Principal; hash: string } | undefined> {
  const hash = sessionHash(sessionId);
  const session = await store.getSession(hash);
  if (!session || session.endedAtMs !== null || session.expiresAtMs <= clock.now()) return undefined;
  const token = await store.getToken(session.tokenId);
  if (!token || token.revokedAtMs !== null) return undefined;
  return { principal: principalOf(token), hash };
}

/** The session id in the cookie, if it is shaped like one (not yet checked against the store). */
export function sessionToken(c: Context): string | undefined {
  const header = c.req.header('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return SESSION_ID.test(value) ? value : undefined;
    }
  }
  return undefined;
}

function secureRequest(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function sessionCookie(c: Context, sessionId: string): string {
  return `${SESSION_COOKIE}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MAX_AGE_S}${secureRequest(c) ? '; Secure' : ''}`;
}

export function clearedSessionCookie(c: Context): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secureRequest(c) ? '; Secure' : ''}`;
}

/** Does the request come from this server's own pages (or from no browser page at all)? */
export function sameOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (origin === undefined) return c.req.header('sec-fetch-site') !== 'cross-site';
  try {
    return new URL(origin).host === (c.req.header('host') ?? new URL(c.req.url).host);
  } catch {
    return false;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The session a request carries in the dashboard's cookie: `{ token }` (the session id), `{ refused }` when the
 * cookie is there but a state-changing request fails the CSRF checks, or undefined without a cookie.
 */
export function cookieCredential(c: Context): { token: string } | { refused: string } | undefined {
  const token = sessionToken(c);
  if (!token) return undefined;
  if (SAFE.has(c.req.method)) return { token };
  if (!sameOrigin(c))
    return { refused: "cross-origin request refused: the dashboard session acts only from this server's own pages" };
  const presented = Buffer.from(c.req.header(CSRF_HEADER) ?? '');
  const expected = Buffer.from(csrfToken(token));
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return {
      refused: `missing or wrong ${CSRF_HEADER} header: a request authenticated by the dashboard session must carry the page's CSRF token`,
    };
  }
  return { token };
}
