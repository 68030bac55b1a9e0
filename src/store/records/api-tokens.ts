// API tokens: only their hashes are stored; revoked, never deleted.

import type { Selectable } from 'kysely';
import { StoreError, type ApiTokenRecord } from '../contract.js';
import type { ApiTokensTable } from '../schema.js';
import { classifyDbError } from '../db-errors.js';
import { millis, millisOrNull } from './column-values.js';
import type { StoreContext } from './store-context.js';

function tokenFromRow(row: Selectable<ApiTokensTable>): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    envs: row.envs === null ? null : (JSON.parse(row.envs) as string[]),
    automation: Number(row.automation) === 1,
    tokenHash: row.token_hash,
    createdAtMs: millis(row.created_at_ms),
    createdBy: row.created_by,
    revokedAtMs: millisOrNull(row.revoked_at_ms),
    lastUsedAtMs: millisOrNull(row.last_used_at_ms),
  };
}

export function createToken(
  s: StoreContext,
  token: Omit<ApiTokenRecord, 'revokedAtMs' | 'lastUsedAtMs'>,
): Promise<ApiTokenRecord> {
  return s.run(async () => {
    try {
      const row = await s.db
        .insertInto('api_tokens')
        .values({
          id: token.id,
          name: token.name,
          role: token.role,
          envs: token.envs === null ? null : JSON.stringify(token.envs),
          automation: token.automation ? 1 : 0,
          token_hash: token.tokenHash,
          created_at_ms: token.createdAtMs,
          created_by: token.createdBy,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return tokenFromRow(row);
    } catch (error) {
      if (classifyDbError(error) === 'unique') throw new StoreError('conflict', `token ${token.id} already exists`);
      throw error;
    }
  });
}

export function getToken(s: StoreContext, id: string): Promise<ApiTokenRecord | undefined> {
  return s.run(async () => {
    const row = await s.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row && tokenFromRow(row);
  });
}

export function listTokens(s: StoreContext): Promise<ApiTokenRecord[]> {
  return s.run(async () => {
    const rows = await s.db
      .selectFrom('api_tokens')
      .selectAll()
      .orderBy('created_at_ms', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(tokenFromRow);
  });
}

export function revokeToken(s: StoreContext, id: string, atMs: number): Promise<boolean> {
  return s.run(async () => {
    const result = await s.db
      .updateTable('api_tokens')
      .set({ revoked_at_ms: atMs })
      .where('id', '=', id)
      .where('revoked_at_ms', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  });
}

export function touchToken(s: StoreContext, id: string, atMs: number): Promise<void> {
  return s.run(async () => {
    await s.db.updateTable('api_tokens').set({ last_used_at_ms: atMs }).where('id', '=', id).execute();
  });
}
