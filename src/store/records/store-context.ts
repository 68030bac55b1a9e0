// What every record module works through: the database, and the two ways to run on it (a statement
// and a transaction), both of which turn a busy or unreachable database into StoreError('unavailable').
// KyselyStore (../kysely-store.ts) makes one and hands it to the module of each record kind.

import type { Kysely, Transaction } from 'kysely';
import type { BulkInserter } from '../bulk-insert.js';
import type { Database } from '../schema.js';

export interface StoreContext {
  readonly db: Kysely<Database>;
  /** The backend is SQLite (some queries take another path there; see the journal). */
  readonly sqlite: boolean;
  readonly bulk: BulkInserter;
  run<T>(work: () => Promise<T>): Promise<T>;
  transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}
