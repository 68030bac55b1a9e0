// Every error as JSON with a status code: `{ "error": "…" }` plus details (policy refusals carry
// `why` and `wouldBeAllowed`). Statuses: 400 bad input, 401 no or bad token, 403 role or policy,
// 404 unknown, 409 conflict (locked, already ended, replayed), 413 body too large, 422 the strategy
// cannot plan it, 503 not configured (secret key, webhook secret).

import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ConfigError } from '../../config/errors.js';
import { SecretDecryptError } from '../../secrets/crypto.js';
import { SecretKeyError } from '../../secrets/key.js';
import { SecretInputError } from '../../secrets/secrets.js';
import { PlanError } from '../../strategies/plan-error.js';
import { StoreError } from '../../store/contract.js';
import { TokenInputError } from '../auth.js';
import { DeployRequestError } from '../deploy-service.js';
import { ApiError } from './http.js';

export function errorStatus(err: unknown): { status: number; body: Record<string, unknown> } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError) return { status: err.status, body: { error: message, ...err.extra } };
  if (err instanceof DeployRequestError) return { status: err.status, body: { error: message } };
  if (err instanceof SecretInputError || err instanceof TokenInputError)
    return { status: 400, body: { error: message } };
  if (err instanceof SecretKeyError)
    return { status: 503, body: { error: `secrets are not available on this server: ${message}` } };
  if (err instanceof SecretDecryptError) return { status: 503, body: { error: message } };
  if (err instanceof ConfigError) return { status: 404, body: { error: message } };
  if (err instanceof PlanError) return { status: 422, body: { error: message } };
  if (err instanceof StoreError)
    return { status: err.kind === 'conflict' ? 409 : err.kind === 'not_found' ? 404 : 503, body: { error: message } };
  return { status: 500, body: { error: `internal error: ${message}` } };
}

export function errorResponse(err: unknown, c: Context): Response {
  const { status, body } = errorStatus(err);
  return c.json(body, status as ContentfulStatusCode);
}
