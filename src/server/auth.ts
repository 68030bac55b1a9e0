// API tokens and roles. A token is `rwt_<id>_<secret>`: random, shown once when created, stored only
// as its sha256. A request is authenticated by looking the token up by its id and comparing the
// sha256 of what was presented with the stored hash in constant time.
//
// Roles: viewer (read everything) < deployer (also act on its environments: deploy, abort, promote,
// roll back, change secrets; create releases) < admin (every environment, and tokens). An
// automation token (`--automation`) is not a person: its deploys are automation's, and it may name
// the person it acts for (header X-Runway-On-Behalf-Of), who is then responsible — how a GitHub
// Actions workflow passes on `github.actor`.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { appendLedger } from '../ledger/ledger.js';
import type { ApiTokenRecord, Store } from '../store/contract.js';

export const ROLES = ['viewer', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** Environments a deployer may act on; null = all. */
  envs: string[] | null;
  automation: boolean;
}

const TOKEN = /^rwt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): { id: string; token: string } {
  const id = randomBytes(6).toString('hex');
  return { id: `tok_${id}`, token: `rwt_${id}_${randomBytes(32).toString('base64url')}` };
}

export class TokenInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenInputError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@[\]-]{0,99}$/;

export interface NewTokenRequest {
  name: string;
  role: string;
  envs?: string[] | null;
  automation?: boolean;
  /** Who creates it (recorded in the ledger). */
  createdBy: string;
  /** The app the ledger entry is filed under. */
  app: string;
  knownEnvironments?: string[];
}

/** Create a token; the returned `token` is the only time it exists in clear. */
export async function createApiToken(
  store: Store,
  clock: Clock,
  request: NewTokenRequest,
): Promise<{ token: string; record: ApiTokenRecord }> {
  if (!NAME.test(request.name))
    throw new TokenInputError(
      `bad token name ${JSON.stringify(request.name)}: a login or automation name (letters, digits, . _ - @)`,
    );
  if (!(ROLES as readonly string[]).includes(request.role))
    throw new TokenInputError(`unknown role "${request.role}" (one of: ${ROLES.join(', ')})`);
  // An empty list is not "every environment": a deployer of no environment is a mistake, refused.
  if (request.envs && request.envs.length === 0) {
    throw new TokenInputError(
      `a ${request.role} token with an empty environment list acts nowhere; name its environments (a deployer with no list acts on every environment)`,
    );
  }
  const envs = request.envs ? [...new Set(request.envs)] : null;
  if (envs && request.role !== 'deployer')
    throw new TokenInputError(
      `environments apply to deployer tokens only (a ${request.role} token covers every environment)`,
    );
  const unknown = envs?.filter((e) => request.knownEnvironments && !request.knownEnvironments.includes(e)) ?? [];
  if (unknown.length)
    throw new TokenInputError(
      `unknown environment${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${request.knownEnvironments?.join(', ')})`,
    );
  const { id, token } = newToken();
  const record = await store.createToken({
    id,
    name: request.name,
    role: request.role,
    envs,
    automation: request.automation ?? false,
    tokenHash: hashToken(token),
    createdAtMs: clock.now(),
    createdBy: request.createdBy,
  });
  await appendLedger(store, clock, {
    kind: 'token.created',
    app: request.app,
    responsible: request.createdBy,
    initiator: request.createdBy,
    trigger: 'token',
    data: { id, name: record.name, role: record.role, envs: record.envs, automation: record.automation },
  });
  return { token, record };
}

export async function revokeApiToken(
  store: Store,
  clock: Clock,
  id: string,
  by: string,
  app: string,
): Promise<boolean> {
  const token = await store.getToken(id);
  const revoked = await store.revokeToken(id, clock.now());
  // Its dashboard sessions end with it (requests check the token too; this makes it visible).
  await store.endSessionsOfToken(id, clock.now());
  if (revoked) {
    await appendLedger(store, clock, {
      kind: 'token.revoked',
      app,
      responsible: by,
      initiator: by,
      trigger: 'token',
      data: { id, name: token?.name ?? null },
    });
  }
  return revoked;
}

/** The principal a bearer token belongs to, or undefined (unknown, malformed, revoked). */
export async function authenticate(store: Store, token: string | undefined): Promise<Principal | undefined> {
  const match = token ? TOKEN.exec(token) : null;
  if (!token || !match) return undefined;
  const record = await store.getToken(`tok_${match[1]}`);
  const presented = Buffer.from(hashToken(token), 'hex');
  // Compare even when the id is unknown, so the answer takes as long either way.
  const stored = record ? Buffer.from(record.tokenHash, 'hex') : Buffer.alloc(presented.length);
  const equal = stored.length === presented.length && timingSafeEqual(stored, presented);
  if (!record || !equal || record.revokedAtMs !== null) return undefined;
  return principalOf(record);
}

export function principalOf(record: ApiTokenRecord): Principal {
  return {
    tokenId: record.id,
    name: record.name,
    role: record.role as Role,
    envs: record.envs,
    automation: record.automation,
  };
}

export function bearerToken(header: string | undefined | null): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

const RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

export function atLeast(principal: Principal, role: Role): boolean {
  return RANK[principal.role] >= RANK[role];
}

/** May this principal act (deploy, abort, secrets...) on `env`? */
export function mayActOn(principal: Principal, env: string): boolean {
  if (principal.role === 'admin') return true;
  if (principal.role !== 'deployer') return false;
  return principal.envs === null || principal.envs.includes(env);
}

/** Tokens as listed: never the hash. */
export function publicToken(t: ApiTokenRecord): Omit<ApiTokenRecord, 'tokenHash'> {
  const { tokenHash: _hash, ...rest } = t;
  return rest;
}
