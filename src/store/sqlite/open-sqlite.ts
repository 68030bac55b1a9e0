// A Kysely instance over one better-sqlite3 connection, set up for several runway processes sharing
// one file (a deploy running in one terminal, `runway abort` in another):
// - WAL journal: readers never block the writer and the writer never blocks readers;
// - a busy timeout: a writer waits for another process's write transaction instead of failing;
// - transactions begin IMMEDIATE: they take the write lock up front, so two processes never both
//   read and then both try to upgrade to writing (which SQLite can only resolve by failing one);
// - foreign keys on;
// - migrations run in a transaction (see RunwaySqliteAdapter).
// Within one process, every Kysely instance over the same file shares one async mutex, so two
// stores never interleave their transactions on two connections (better-sqlite3 is synchronous: a
// connection waiting on the busy timeout would block the event loop the other one needs to commit).

import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDialectConfig } from 'kysely';
import { nominalDelay } from '../../domain/backoff.js';
import type { Database } from '../schema.js';

export interface SqliteOpenOptions {
  /** How long a statement waits for another process's write lock before failing (default 10 s). */
  busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** FIFO async mutex: `lock()` resolves to the function that releases it. */
class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  async lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => held);
    await previous;
    return release;
  }
}

/** One mutex per database file in this process, shared by every connection to it. */
const fileMutexes = new Map<string, { mutex: AsyncMutex; refs: number }>();

function retainMutex(key: string): AsyncMutex {
  let entry = fileMutexes.get(key);
  if (!entry) {
    entry = { mutex: new AsyncMutex(), refs: 0 };
    fileMutexes.set(key, entry);
  }
  entry.refs++;
  return entry.mutex;
}

function releaseMutex(key: string): void {
  const entry = fileMutexes.get(key);
  if (!entry) return;
  if (--entry.refs <= 0) fileMutexes.delete(key);
}

class RunwaySqliteDriver extends SqliteDriver implements Driver {
  private unlock: (() => void) | undefined;
  private destroyed = false;

  constructor(
    config: SqliteDialectConfig,
    private readonly mutex: AsyncMutex,
    private readonly mutexKey: string | undefined,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const unlock = await this.mutex.lock();
    try {
      const connection = await super.acquireConnection();
      this.unlock = unlock;
      return connection;
    } catch (error) {
      unlock();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    const unlock = this.unlock;
    this.unlock = undefined;
    unlock?.();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await super.destroy();
    if (this.mutexKey !== undefined) releaseMutex(this.mutexKey);
  }
}

/**
 * SQLite does run DDL in transactions, but Kysely's adapter says it does not, which makes its
 * Migrator apply migrations outside any transaction: a crash leaves half a migration, and two
 * processes opening a new file at once both try to create the tables. Saying yes makes each
 * migration run inside one (IMMEDIATE) transaction that first re-reads what is applied.
 */
class RunwaySqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class RunwaySqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly mutex: AsyncMutex,
    private readonly mutexKey: string | undefined,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new RunwaySqliteDriver(this.config, this.mutex, this.mutexKey);
  }

  override createAdapter(): DialectAdapter {
    return new RunwaySqliteAdapter();
  }
}

/** Prepared statements kept per connection (most recently used). */
const STATEMENT_CACHE = 64;

/**
 * Kysely prepares every query it runs, and compiling SQL is much of what a write costs: a running
 * deploy repeats the same few statements (a heartbeat, a control read, full-sized batches of journal
 * rows and machine events) thousands of times. Statements are reused by SQL text. Safe because the
 * connection is used one query at a time (the mutex above) and nothing streams (a statement being
 * iterated could not run again).
 */
function cacheStatements(sqlite: BetterSqlite3.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, BetterSqlite3.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, statement);
    return statement;
  }) as typeof sqlite.prepare;
}

/** Make a file the owner's alone (no-op on Windows, which has no modes). */
function restrictMode(file: string): void {
  if (process.platform === 'win32') return;
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
}

/** True for the name of a private in-memory database. */
export function isMemoryPath(file: string): boolean {
  return file === ':memory:';
}

/**
 * Open (creating it and its parent directories if needed) a SQLite database file, or `:memory:`,
 * as a Kysely instance. Does not run migrations.
 */
/**
 * Switch to WAL. The switch needs the file to itself for a moment, and while another process opens
 * the same (new) file SQLite may answer SQLITE_BUSY at once, without waiting on the busy timeout
 * (found by the several-processes test on a loaded machine: "database is locked" on opening). So
 * retry, with short pauses, for up to the busy timeout. Synchronous, like the rest of the opening: the
 * schedule is the one backoff's (domain/backoff.ts), its loop is not (that one sleeps on a Clock).
 */
function enterWal(sqlite: BetterSqlite3.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const busy = ((error as { code?: string }).code ?? '').startsWith('SQLITE_BUSY');
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, nominalDelay({ baseDelayMs: 5, maxDelayMs: 100 }, attempt));
    }
  }
}

export function openSqlite(file: string, options: SqliteOpenOptions = {}): Kysely<Database> {
  const memory = isMemoryPath(file);
  if (!memory) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // The store holds token hashes, encrypted secrets and the ledger: the owner's alone. Created
    // 0600 before SQLite opens it, so its WAL and SHM files (which SQLite gives the database
    // file's mode) are 0600 too; an existing file is narrowed to 0600.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    restrictMode(file);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const sqlite = new BetterSqlite3(file, {
    timeout: busyTimeoutMs,
  });
  let mutexKey: string | undefined;
  try {
    if (!memory) {
      enterWal(sqlite, busyTimeoutMs);
      // Durable across process crashes; with WAL only a power loss can drop the last commits.
      sqlite.pragma('synchronous = NORMAL');
      mutexKey = fs.realpathSync(file);
      for (const companion of [`${file}-wal`, `${file}-shm`]) if (fs.existsSync(companion)) restrictMode(companion);
    }
    sqlite.pragma('foreign_keys = ON');
  } catch (error) {
    sqlite.close();
    throw error;
  }
  cacheStatements(sqlite);
  const mutex = mutexKey === undefined ? new AsyncMutex() : retainMutex(mutexKey);
  return new Kysely<Database>({ dialect: new RunwaySqliteDialect({ database: sqlite }, mutex, mutexKey) });
}
