// Driver errors (better-sqlite3, pg) by what they mean to the store: a broken constraint, or a
// database that is busy or out of reach (StoreError('unavailable'), which callers may retry).

import { StoreError } from './contract.js';

export type DbErrorClass = 'unique' | 'foreign_key' | 'busy' | 'unavailable';

/** Classify a driver error (better-sqlite3 or pg) by its code. */
export function classifyDbError(error: unknown): DbErrorClass | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505')
    return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign_key';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  // PostgreSQL: serialization failure, deadlock, lock timeout; connection exceptions; shutdown.
  if (code === '40001' || code === '40P01' || code === '55P03') return 'busy';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'ENOTFOUND')
    return 'unavailable';
  return undefined;
}

/** Turn a busy or unreachable database into StoreError('unavailable'); leave other errors alone. */
export function translateError(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const kind = classifyDbError(error);
  if (kind === 'busy' || kind === 'unavailable') {
    const message = error instanceof Error ? error.message : String(error);
    const store = new StoreError('unavailable', `store ${kind === 'busy' ? 'busy' : 'unavailable'}: ${message}`);
    (store as Error).cause = error;
    return store;
  }
  return error;
}
