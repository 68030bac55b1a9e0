// The append-only, hash-chained ledger (src/ledger/ computes and verifies the hashes); the head row
// serialises appenders.

import { sql, type Selectable } from 'kysely';
import { StoreError, type LedgerQuery, type LedgerRecord, type NewLedgerRecord } from '../contract.js';
import type { LedgerTable } from '../schema.js';
import { millis, documentText, parseDocument } from './column-values.js';
import type { StoreContext } from './store-context.js';

function ledgerFromRow(row: Selectable<LedgerTable>): LedgerRecord {
  return {
    seq: Number(row.seq),
    atMs: millis(row.at_ms),
    kind: row.kind,
    app: row.app,
    env: row.env,
    deployId: row.deploy_id,
    responsible: row.responsible,
    initiator: row.initiator,
    trigger: row.trigger,
    reason: row.reason,
    emergency: Number(row.emergency) === 1,
    data: parseDocument(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function appendLedger(
  s: StoreContext,
  entry: NewLedgerRecord,
  seal: (seq: number, prevHash: string) => string,
): Promise<LedgerRecord> {
  return s.transaction(async (trx) => {
    // Bumping the head row first takes its row lock (PostgreSQL) inside the IMMEDIATE transaction
    // (SQLite): appenders serialise here, so every entry chains from the one before it.
    const head = await trx
      .updateTable('ledger_head')
      .set({ seq: sql<number>`${sql.ref('seq')} + 1` })
      .where('id', '=', 'ledger')
      .returning(['seq', 'hash'])
      .executeTakeFirst();
    // Fail closed: an entry appended without the head could hide entries cut off the end.
    if (!head)
      throw new StoreError(
        'not_found',
        'the ledger head is missing: ledger writes are refused (run `runway audit --verify`; restore the store from a backup)',
      );
    const seq = Number(head.seq);
    const prevHash = head.hash;
    const hash = seal(seq, prevHash);
    const row = await trx
      .insertInto('ledger')
      .values({
        seq,
        at_ms: entry.atMs,
        kind: entry.kind,
        app: entry.app,
        env: entry.env,
        deploy_id: entry.deployId,
        responsible: entry.responsible,
        initiator: entry.initiator,
        trigger: entry.trigger,
        reason: entry.reason,
        emergency: entry.emergency ? 1 : 0,
        data: documentText(entry.data),
        prev_hash: prevHash,
        hash,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.updateTable('ledger_head').set({ hash }).where('id', '=', 'ledger').execute();
    return ledgerFromRow(row);
  });
}

export function listLedger(s: StoreContext, query: LedgerQuery = {}): Promise<LedgerRecord[]> {
  return s.run(async () => {
    let q = s.db.selectFrom('ledger').selectAll();
    if (query.app !== undefined) q = q.where('app', '=', query.app);
    if (query.env !== undefined) q = q.where('env', '=', query.env);
    if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
    q = q.orderBy('seq', 'asc');
    if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
    return (await q.execute()).map(ledgerFromRow);
  });
}

export function ledgerHead(s: StoreContext): Promise<{ seq: number; hash: string }> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('ledger_head')
      .select(['seq', 'hash'])
      .where('id', '=', 'ledger')
      .executeTakeFirst();
    if (!row)
      throw new StoreError(
        'not_found',
        'the ledger head is missing: ledger writes are refused (run `runway audit --verify`; restore the store from a backup)',
      );
    return { seq: Number(row.seq), hash: row.hash };
  });
}
