// The dashboard's sign-in: POST /dashboard/login takes an API token and keeps it in an HttpOnly,
// SameSite=Strict cookie; the token never appears in a page, a URL or a log line. Requests carrying
// that cookie are authenticated exactly as a Bearer token is (same roles, revocation works at once).
//
// Cross-site request forgery: besides SameSite=Strict, a request that changes anything (not GET/HEAD)
// authenticated by the cookie must (1) carry `X-Runway-CSRF` equal to HMAC-SHA256(token, "runway-csrf")
// — pages put it in a <meta> tag, and a page of another site can read neither it nor the cookie — and
// (2) when the browser sends an Origin, come from this server's own origin.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';

export const SESSION_COOKIE = 'runway_session';
export const CSRF_HEADER = 'x-runway-csrf';
/** Sign-ins last 12 hours (the token itself may be revoked sooner: checked on every request). */
export const SESSION_MAX_AGE_S = 12 * 3600;

export function csrfToken(token: string): string {
  return createHmac('sha256', token).update('runway-csrf').digest('base64url');
}

/** The token in the session cookie, if any (not yet authenticated). */
export function sessionToken(c: Context): string | undefined {
  const header = c.req.header('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 && value.length < 200 ? value : undefined;
    }
  }
  return undefined;
}

function secureRequest(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function sessionCookie(c: Context, token: string): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MAX_AGE_S}${secureRequest(c) ? '; Secure' : ''}`;
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
 * The API credential a request carries in the dashboard's cookie: `{ token }`, `{ refused }` when the
 * cookie is there but a state-changing request fails the CSRF checks, or undefined without a cookie.
 */
export function cookieCredential(c: Context): { token: string } | { refused: string } | undefined {
  const token = sessionToken(c);
  if (!token) return undefined;
  if (SAFE.has(c.req.method)) return { token };
  if (!sameOrigin(c)) return { refused: 'cross-origin request refused: the dashboard session acts only from this server\'s own pages' };
  const presented = Buffer.from(c.req.header(CSRF_HEADER) ?? '');
  const expected = Buffer.from(csrfToken(token));
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { refused: `missing or wrong ${CSRF_HEADER} header: a request authenticated by the dashboard session must carry the page's CSRF token` };
  }
  return { token };
}
