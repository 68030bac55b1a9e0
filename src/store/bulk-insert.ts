// Multi-row inserts without Kysely's per-call compilation. Building the query tree and the SQL text of a
// 500-row insert was most of what storing a deploy's journal and machine events cost (a 10,000-machine
// deploy stores ~70,000 machine events). The SQL text of each shape (table, columns, row count) is
// compiled by Kysely once, for this store's dialect, and reused with the new rows' values.

import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Shapes kept per store (most recently used); full-sized chunks repeat, the tail sizes vary. */
const SHAPES = 16;

export class BulkInserter {
  private readonly texts = new Map<string, string>();

  async insert(db: Kysely<Database> | Transaction<Database>, table: 'journal' | 'machine_events', rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    const params: unknown[] = new Array(rows.length * columns.length);
    let i = 0;
    for (const row of rows) for (const column of columns) params[i++] = row[column];
    const key = `${table}\u0000${columns.join(',')}\u0000${rows.length}`;
    let text = this.texts.get(key);
    if (text === undefined) {
      const compiled = db.insertInto(table).values(rows as never).compile();
      // Reused only when Kysely binds exactly these values in this order (row by row, columns as in the
      // first row): otherwise this one runs as compiled and nothing is kept.
      if (compiled.parameters.length !== params.length || compiled.parameters.some((p, j) => p !== params[j])) {
        await db.executeQuery(compiled);
        return;
      }
      text = compiled.sql;
      if (this.texts.size >= SHAPES) this.texts.delete(this.texts.keys().next().value!);
    } else {
      this.texts.delete(key);
    }
    this.texts.set(key, text);
    await db.executeQuery(CompiledQuery.raw(text, params));
  }
}
