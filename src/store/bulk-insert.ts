// Multi-row inserts without Kysely's per-call compilation. Building the query tree and the SQL text of a
// 500-row insert was most of what storing a deploy's journal and machine events cost (a 10,000-machine
// deploy stores ~70,000 machine events). The SQL text of each shape (table, columns, row count) is
// compiled by Kysely once, for this store's dialect, and reused with the new rows' values. Where the
// dialect's placeholders are positional `?` (SQLite), the text of any row count is the one-row text
// with its values tuple repeated, so flushes of varying sizes compile nothing either.

import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Shapes kept per store (most recently used); full-sized chunks repeat, the tail sizes vary. */
const SHAPES = 16;

/** `insert into … values (?, ?, …)`: the part before the tuple, and the tuple. */
const ONE_ROW = /^(insert into .* values )(\((?:\?, )*\?\))$/s;

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Most bound parameters in one statement. SQLite's limit is 32766 (better-sqlite3 builds it so),
 * PostgreSQL's 65535; multi-row inserts are chunked to stay under both.
 */
export const MAX_BOUND_PARAMETERS = 30_000;
/** Most rows in one multi-row insert, whatever the parameter count (keeps statements cheap to compile). */
const MAX_ROWS_PER_INSERT = 2_000;

/** Row counts a repeatable insert is split into, largest first (at most three of each but the first). */
const LADDER = [1024, 256, 64, 16, 4, 1];

export function rowsPerInsert(columns: number): number {
  return Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_BOUND_PARAMETERS / columns)));
}

export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export class BulkInserter {
  private readonly texts = new Map<string, string>();
  /** Texts of repeatable shapes by row count: a few per shape (LADDER). */
  private readonly ladderTexts = new Map<string, string>();
  /** Per table and columns: the one-row text split at its tuple, or null when it cannot be repeated. */
  private readonly tuples = new Map<string, { head: string; tuple: string } | null>();

  async insert(db: Db, table: 'journal' | 'machine_events', rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    const shape = `${table}\u0000${columns.join(',')}`;
    const repeat = this.tuples.has(shape)
      ? this.tuples.get(shape)
      : this.learnTuple(db, table, shape, rows[0]!, columns);
    if (repeat)
      return this.insertLadder(db, shape, repeat, columns.length, rows.length, (from, count) =>
        valuesOf(rows, from, count, columns),
      );
    await this.insertCompiled(db, table, shape, rows, valuesOf(rows, 0, rows.length, columns));
  }

  /**
   * `count` rows of `columns`, their values (row by row, in the order of `columns`) written by
   * `values(from, count)` straight from the caller's records: no row object per record.
   */
  async insertColumns(
    db: Db,
    table: 'journal' | 'machine_events',
    columns: readonly string[],
    count: number,
    values: (from: number, count: number) => unknown[],
  ): Promise<void> {
    if (count === 0) return;
    const shape = `${table}\u0000${columns.join(',')}`;
    const rowAt = (i: number): Record<string, unknown> => {
      const one = values(i, 1);
      return Object.fromEntries(columns.map((c, j) => [c, one[j]]));
    };
    const repeat = this.tuples.has(shape)
      ? this.tuples.get(shape)
      : this.learnTuple(db, table, shape, rowAt(0), [...columns]);
    if (repeat) return this.insertLadder(db, shape, repeat, columns.length, count, values);
    // Dialects without positional placeholders (PostgreSQL) compile from row objects.
    const most = rowsPerInsert(columns.length);
    for (let at = 0; at < count; at += most) {
      const n = Math.min(most, count - at);
      const rows = Array.from({ length: n }, (_, i) => rowAt(at + i));
      await this.insertCompiled(db, table, shape, rows, values(at, n));
    }
  }

  /**
   * Row counts from a short ladder: each count's text is prepared once by the store (statement cache)
   * instead of one statement per flush size, which cost SQLite ~2 ms each at 500 rows and kept up to
   * 64 such statements in memory. Same rows, same order, same transaction.
   */
  private async insertLadder(
    db: Db,
    shape: string,
    repeat: { head: string; tuple: string },
    columns: number,
    count: number,
    values: (from: number, count: number) => unknown[],
  ): Promise<void> {
    const most = rowsPerInsert(columns);
    let at = 0;
    for (const size of LADDER) {
      if (size > most) continue;
      while (count - at >= size) {
        await db.executeQuery(CompiledQuery.raw(this.repeated(shape, repeat, size), values(at, size)));
        at += size;
      }
    }
  }

  /** Rows of a shape whose text cannot be repeated: compiled by Kysely (kept per row count while it binds them so). */
  private async insertCompiled(
    db: Db,
    table: 'journal' | 'machine_events',
    shape: string,
    rows: readonly Record<string, unknown>[],
    params: unknown[],
  ): Promise<void> {
    const key = `${shape}\u0000${rows.length}`;
    let text = this.texts.get(key);
    if (text === undefined) {
      const compiled = db
        .insertInto(table)
        .values(rows as never)
        .compile();
      // Reused only when Kysely binds exactly these values in this order (row by row, columns as in the
      // first row): otherwise this one runs as compiled and nothing is kept.
      if (!sameParams(compiled.parameters, params)) {
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

  /** The text of `rows` rows of a repeatable shape (kept: the ladder makes few of them). */
  private repeated(shape: string, repeat: { head: string; tuple: string }, rows: number): string {
    const key = `${shape}\u0000${rows}`;
    let text = this.ladderTexts.get(key);
    if (text === undefined) {
      text = `${repeat.head}${new Array<string>(rows).fill(repeat.tuple).join(', ')}`;
      this.ladderTexts.set(key, text);
    }
    return text;
  }

  /** Compile one row of this shape; keep its text split at the tuple when its placeholders are `?`. */
  private learnTuple(
    db: Db,
    table: 'journal' | 'machine_events',
    shape: string,
    row: Record<string, unknown>,
    columns: string[],
  ): { head: string; tuple: string } | null {
    const compiled = db
      .insertInto(table)
      .values(row as never)
      .compile();
    const match = ONE_ROW.exec(compiled.sql);
    const ok =
      match !== null &&
      sameParams(
        compiled.parameters,
        columns.map((c) => row[c]),
      );
    const repeat = ok ? { head: match[1]!, tuple: match[2]! } : null;
    this.tuples.set(shape, repeat);
    return repeat;
  }
}

/** The values of `count` rows from `from`, row by row, in the order of `columns`. */
function valuesOf(rows: readonly Record<string, unknown>[], from: number, count: number, columns: string[]): unknown[] {
  const values: unknown[] = new Array(count * columns.length);
  let i = 0;
  for (let r = from; r < from + count; r++) for (const column of columns) values[i++] = rows[r]![column];
  return values;
}

function sameParams(bound: readonly unknown[], params: readonly unknown[]): boolean {
  return bound.length === params.length && bound.every((p, j) => p === params[j]);
}
