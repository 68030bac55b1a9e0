// A deploy's journal: its history, one entry per step, numbered per deploy by the store.

import { sql, type Insertable } from 'kysely';
import { StoreError, type JournalEntry } from '../contract.js';
import type { JournalTable } from '../schema.js';
import { chunks, rowsPerInsert } from '../bulk-insert.js';
import { millis } from './column-values.js';
import type { StoreContext } from './store-context.js';

const JOURNAL_COLUMNS = 8;

/**
 * Append entries in one transaction. Seqs are handed out per deploy by bumping the deploy's
 * `journal_seq` counter (an atomic row update, so concurrent appenders never share a seq), in the
 * order the entries are given. Fails with StoreError('not_found') if a deploy does not exist.
 * SQLite: the journal's own highest seq instead. Its transactions are IMMEDIATE (one writer at a
 * time), so that is as safe, and an UPDATE of the deploys row rewrites the whole record on every
 * flush (SQLite does not update a row in place).
 */
export function appendJournal(s: StoreContext, entries: JournalEntry[]): Promise<void> {
  if (entries.length === 0) return Promise.resolve();
  return s.transaction(async (trx) => {
    const counts = new Map<string, number>();
    for (const entry of entries) counts.set(entry.deployId, (counts.get(entry.deployId) ?? 0) + 1);
    const next = new Map<string, number>();
    // Sorted, so that concurrent appenders (PostgreSQL) lock deploy rows in one order.
    for (const deployId of [...counts.keys()].sort()) {
      const count = counts.get(deployId)!;
      if (s.sqlite) {
        const exists = await trx.selectFrom('deploys').select('id').where('id', '=', deployId).executeTakeFirst();
        if (!exists)
          throw new StoreError('not_found', `cannot append to the journal of deploy ${deployId}: no such deploy`);
        const last = await trx
          .selectFrom('journal')
          .select((eb) => eb.fn.max('seq').as('seq'))
          .where('deploy_id', '=', deployId)
          .executeTakeFirst();
        next.set(deployId, Number(last?.seq ?? 0) + 1);
        continue;
      }
      const row = await trx
        .updateTable('deploys')
        .set({ journal_seq: sql<number>`${sql.ref('journal_seq')} + ${count}` })
        .where('id', '=', deployId)
        .returning('journal_seq')
        .executeTakeFirst();
      if (!row) throw new StoreError('not_found', `cannot append to the journal of deploy ${deployId}: no such deploy`);
      next.set(deployId, Number(row.journal_seq) - count + 1);
    }
    const rows: Insertable<JournalTable>[] = entries.map((entry) => {
      const seq = next.get(entry.deployId)!;
      next.set(entry.deployId, seq + 1);
      return {
        deploy_id: entry.deployId,
        seq,
        at_ms: entry.atMs,
        kind: entry.kind,
        wave: entry.wave ?? null,
        machine_id: entry.machineId ?? null,
        message: entry.message ?? null,
        data: entry.data === undefined ? null : (JSON.stringify(entry.data) ?? null),
      };
    });
    for (const chunk of chunks(rows, rowsPerInsert(JOURNAL_COLUMNS))) {
      await s.bulk.insert(trx, 'journal', chunk);
    }
  });
}

export function hasJournalEntry(s: StoreContext, deployId: string, kind: string): Promise<boolean> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('journal')
      .select('seq')
      .where('deploy_id', '=', deployId)
      .where('kind', '=', kind)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  });
}

/** In seq order. `data` is absent when the entry had none. */
export function listJournal(s: StoreContext, deployId: string): Promise<JournalEntry[]> {
  return s.run(async () => {
    const rows = await s.db
      .selectFrom('journal')
      .selectAll()
      .where('deploy_id', '=', deployId)
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((row) => {
      const entry: JournalEntry = {
        seq: Number(row.seq),
        deployId: row.deploy_id,
        atMs: millis(row.at_ms),
        kind: row.kind,
        wave: row.wave === null ? null : Number(row.wave),
        machineId: row.machine_id,
        message: row.message,
      };
      if (row.data !== null) entry.data = JSON.parse(row.data) as unknown;
      return entry;
    });
  });
}
