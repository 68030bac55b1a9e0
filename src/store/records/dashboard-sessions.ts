// Dashboard sign-in sessions: stored by the hash of their id, ended on sign-out or token revocation.

import type { DashboardSession } from '../contract.js';
import { millis, millisOrNull } from './column-values.js';
import type { StoreContext } from './store-context.js';

export function createSession(s: StoreContext, session: Omit<DashboardSession, 'endedAtMs'>): Promise<void> {
  return s.run(async () => {
    await s.db
      .insertInto('dashboard_sessions')
      .values({
        id_hash: session.idHash,
        token_id: session.tokenId,
        created_at_ms: session.createdAtMs,
        expires_at_ms: session.expiresAtMs,
        ended_at_ms: null,
      })
      .execute();
  });
}

export function getSession(s: StoreContext, idHash: string): Promise<DashboardSession | undefined> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('dashboard_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return row
      ? {
          idHash: row.id_hash,
          tokenId: row.token_id,
          createdAtMs: millis(row.created_at_ms),
          expiresAtMs: millis(row.expires_at_ms),
          endedAtMs: millisOrNull(row.ended_at_ms),
        }
      : undefined;
  });
}

export function endSession(s: StoreContext, idHash: string, atMs: number): Promise<boolean> {
  return s.run(async () => {
    const r = await s.db
      .updateTable('dashboard_sessions')
      .set({ ended_at_ms: atMs })
      .where('id_hash', '=', idHash)
      .where('ended_at_ms', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  });
}

export function endSessionsOfToken(s: StoreContext, tokenId: string, atMs: number): Promise<number> {
  return s.run(async () => {
    const r = await s.db
      .updateTable('dashboard_sessions')
      .set({ ended_at_ms: atMs })
      .where('token_id', '=', tokenId)
      .where('ended_at_ms', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  });
}
