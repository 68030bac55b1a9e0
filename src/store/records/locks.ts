// Environment locks: one deploy at a time per environment, with heartbeats and stale takeover.

import type { Selectable } from 'kysely';
import { StoreError, type Lock, type LockResult } from '../contract.js';
import type { LocksTable } from '../schema.js';
import { millis } from './column-values.js';
import type { StoreContext } from './store-context.js';

type LockRow = Selectable<LocksTable>;

function lockFromRow(row: LockRow): Lock {
  return {
    app: row.app,
    env: row.env,
    holder: row.holder,
    reason: row.reason,
    pid: row.pid === null ? null : Number(row.pid),
    host: row.host,
    acquiredAtMs: millis(row.acquired_at_ms),
    heartbeatAtMs: millis(row.heartbeat_at_ms),
  };
}

/**
 * One upsert decides atomically: insert when free; otherwise take over only when the stored lock
 * has the same holder (re-acquire: keeps acquiredAtMs, refreshes the heartbeat) or its heartbeat
 * is older than `staleAfterMs` (takeover: a new lock). If the upsert changed nothing, the lock is
 * held by someone else, read in the same transaction.
 */
export function acquireLock(
  s: StoreContext,
  lock: Omit<Lock, 'acquiredAtMs' | 'heartbeatAtMs'>,
  nowMs: number,
  staleAfterMs: number,
): Promise<LockResult> {
  return s.transaction(async (trx) => {
    const staleBefore = nowMs - staleAfterMs;
    const taken = await trx
      .insertInto('locks')
      .values({
        app: lock.app,
        env: lock.env,
        holder: lock.holder,
        reason: lock.reason,
        pid: lock.pid ?? null,
        host: lock.host ?? null,
        acquired_at_ms: nowMs,
        heartbeat_at_ms: nowMs,
      })
      .onConflict((oc) =>
        oc
          .columns(['app', 'env'])
          .doUpdateSet((eb) => ({
            holder: eb.ref('excluded.holder'),
            reason: eb.ref('excluded.reason'),
            pid: eb.ref('excluded.pid'),
            host: eb.ref('excluded.host'),
            acquired_at_ms: eb
              .case()
              .when('locks.holder', '=', eb.ref('excluded.holder'))
              .then(eb.ref('locks.acquired_at_ms'))
              .else(eb.ref('excluded.acquired_at_ms'))
              .end(),
            heartbeat_at_ms: eb.ref('excluded.heartbeat_at_ms'),
          }))
          .where((eb) =>
            eb.or([eb('locks.holder', '=', eb.ref('excluded.holder')), eb('locks.heartbeat_at_ms', '<', staleBefore)]),
          ),
      )
      .returningAll()
      .executeTakeFirst();
    if (taken) return { acquired: true as const, lock: lockFromRow(taken) };
    const current = await trx
      .selectFrom('locks')
      .selectAll()
      .where('app', '=', lock.app)
      .where('env', '=', lock.env)
      .executeTakeFirst();
    if (!current) {
      // Only reachable if the holder released between the two statements (PostgreSQL at READ
      // COMMITTED); report it as busy so the caller retries rather than acting on a guess.
      throw new StoreError('unavailable', `lock ${lock.app}/${lock.env} changed while being acquired; retry`);
    }
    return { acquired: false as const, heldBy: lockFromRow(current) };
  });
}

export function heartbeatLock(
  s: StoreContext,
  app: string,
  env: string,
  holder: string,
  nowMs: number,
): Promise<boolean> {
  return s.run(async () => {
    const result = await s.db
      .updateTable('locks')
      .set({ heartbeat_at_ms: nowMs })
      .where('app', '=', app)
      .where('env', '=', env)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  });
}

export function releaseLock(s: StoreContext, app: string, env: string, holder: string): Promise<boolean> {
  return s.run(async () => {
    const result = await s.db
      .deleteFrom('locks')
      .where('app', '=', app)
      .where('env', '=', env)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  });
}

export function getLock(s: StoreContext, app: string, env: string): Promise<Lock | undefined> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('locks')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .executeTakeFirst();
    return row && lockFromRow(row);
  });
}
