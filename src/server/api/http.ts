// What every route shares: JSON errors with a status, bodies read with a size limit, the caller's
// principal, and how a caller is recorded (initiator label, responsible human).

import type { Context, MiddlewareHandler } from 'hono';
import type { RunwayConfig } from '../../config/types.js';
import type { Clock } from '../../domain/clock.js';
import type { Store } from '../../store/contract.js';
import type { DeployService } from '../deploy-service.js';
import { atLeast, authenticate, bearerToken, mayActOn, type Principal, type Role } from '../auth.js';
import type { Initiator } from '../../deploys/policy.js';
import { checkFreeText, FreeTextError } from '../../domain/free-text.js';
import type { WebhookWorker } from '../webhook-worker.js';
import { cookieCredential, sessionPrincipal } from '../browser-session.js';
import type { StreamGuard } from '../stream-guard.js';

export type ApiStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500 | 503;

/** An error the API answers with: `{ "error": message, ...extra }` and the status. */
export class ApiError extends Error {
  constructor(
    readonly status: ApiStatus,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ControlPlane {
  config: RunwayConfig;
  store: Store;
  deploys: DeployService;
  clock: Clock;
  processEnv: NodeJS.ProcessEnv;
  /** Undefined: the webhook endpoint is off (no secret configured). */
  webhookSecret: string | undefined;
  webhooks: WebhookWorker;
  maxBodyBytes: number;
  maxWebhookBodyBytes: number;
  log: (line: string) => void;
  /** Open event streams, ended when their token is revoked or their session ends. */
  streams: StreamGuard;
}

export type ApiEnv = {
  Variables: { principal: Principal; /** Set when the request came with a dashboard session. */ sessionHash?: string };
};

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** GitHub caps webhook payloads at 25 MB; runway reads a few fields, so 5 MiB is plenty. */
export const DEFAULT_MAX_WEBHOOK_BODY_BYTES = 5 * 1024 * 1024;

/** The raw body, refusing (413) more than `limit` bytes: by Content-Length first, then while reading. */
export async function readRawBody(c: Context, limit: number): Promise<Buffer> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit)
    throw new ApiError(413, `request body is ${declared} bytes; the limit is ${limit}`);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new ApiError(413, `request body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** The JSON object in the body ({} when empty). Parse errors never echo the body (it may hold a secret). */
export async function readJson(c: Context, limit: number): Promise<Record<string, unknown>> {
  const raw = await readRawBody(c, limit);
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiError(400, 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ApiError(400, `"${key}" must be a string`);
  return v;
}

/** 400 when free text (a reason, an image, notes) holds control characters. */
export function freeText(field: string, text: string | null | undefined, multiline = false): void {
  try {
    checkFreeText(field, text, { multiline });
  } catch (err) {
    if (err instanceof FreeTextError) throw new ApiError(400, err.message);
    throw err;
  }
}

export function optionalBoolean(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ApiError(400, `"${key}" must be true or false`);
  return v;
}

/** 401 without a valid bearer token (or the dashboard's session cookie; 403 when it fails CSRF checks). */
export function requireToken(cp: ControlPlane): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    let principal: Principal | undefined;
    if (token) {
      principal = await authenticate(cp.store, token);
      if (!principal) throw new ApiError(401, 'invalid or revoked token');
    } else {
      // The dashboard's session cookie (src/server/browser-session.ts): CSRF-checked for changes.
      const cookie = cookieCredential(c);
      if (cookie && 'refused' in cookie) throw new ApiError(403, cookie.refused, { code: 'csrf' });
      if (!cookie)
        throw new ApiError(
          401,
          'authentication required: send Authorization: Bearer <token> (create one with `runway token create`)',
        );
      const session = await sessionPrincipal(cp.store, cp.clock, cookie.token);
      if (!session)
        throw new ApiError(
          401,
          'the dashboard session ended (signed out, expired, or its token was revoked): sign in again',
        );
      principal = session.principal;
      c.set('sessionHash', session.hash);
    }
    await cp.store.touchToken(principal.tokenId, cp.clock.now()).catch(() => {});
    c.set('principal', principal);
    await next();
  };
}

export function requireRole(c: Context<ApiEnv>, role: Role): Principal {
  const principal = c.get('principal');
  if (!atLeast(principal, role))
    throw new ApiError(403, `${principal.name}'s token is a ${principal.role} token; this needs ${role}`, {
      code: 'role',
    });
  return principal;
}

export function requireEnvironment(cp: ControlPlane, env: string): void {
  if (!Object.hasOwn(cp.config.environments, env)) {
    throw new ApiError(404, `unknown environment "${env}" (known: ${Object.keys(cp.config.environments).join(', ')})`);
  }
}

/** 403 unless the caller may act on `env` (deployer of it, or admin). */
export function requireActOn(c: Context<ApiEnv>, cp: ControlPlane, env: string): Principal {
  requireEnvironment(cp, env);
  const principal = c.get('principal');
  if (!mayActOn(principal, env)) {
    const scope =
      principal.role === 'deployer'
        ? `deployer of ${principal.envs?.join(', ') ?? 'every environment'}`
        : principal.role;
    throw new ApiError(
      403,
      `${principal.name}'s token (${scope}) may not act on ${env}; a deployer token for ${env} or an admin token may`,
      { code: 'role' },
    );
  }
  return principal;
}

export const ON_BEHALF_HEADER = 'x-runway-on-behalf-of';

/**
 * Who is acting: a person's token is that person; an automation token is automation, unless it
 * names the person it acts for (X-Runway-On-Behalf-Of), who is then the initiator.
 */
export function caller(c: Context<ApiEnv>): { initiator: Initiator; label: string } {
  const principal = c.get('principal');
  const onBehalf = c.req.header(ON_BEHALF_HEADER)?.trim();
  if (onBehalf) {
    if (!principal.automation)
      throw new ApiError(
        403,
        `${ON_BEHALF_HEADER} is for automation tokens; ${principal.name}'s token acts as ${principal.name}`,
        {
          code: 'role',
        },
      );
    if (!/^[A-Za-z0-9][A-Za-z0-9._@[\]-]{0,99}$/.test(onBehalf))
      throw new ApiError(400, `${ON_BEHALF_HEADER} must be a login`);
    return {
      initiator: { kind: onBehalf.endsWith('[bot]') ? 'automation' : 'human', name: onBehalf },
      label: `token:${principal.name} for ${onBehalf}`,
    };
  }
  return {
    initiator: { kind: principal.automation ? 'automation' : 'human', name: principal.name },
    label: `token:${principal.name}`,
  };
}

export function positiveInt(value: string | undefined, name: string, max = 1000): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new ApiError(400, `${name} must be a whole number 0-${max}`);
  return n;
}
