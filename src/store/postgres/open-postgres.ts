// A Kysely instance over a node-postgres pool, for several runway instances sharing one database.
// The store code (kysely-store.ts) and migrations are the same as SQLite's; only this differs.

import { Kysely, PostgresDialect, type DatabaseIntrospector } from 'kysely';
import type { Database } from '../schema.js';
import { SchemaIntrospector } from './schema-introspector.js';

export interface PostgresOpenOptions {
  /** Schema to use (created if missing); tests give each store its own. Default: the URL's search_path. */
  schema?: string;
  /** Most connections this process opens. */
  maxConnections?: number;
}

/**
 * node-postgres is loaded here, not at start: a process on a SQLite store never needs it (~15 MB of
 * resident memory).
 */
export async function openPostgres(url: string, options: PostgresOpenOptions = {}): Promise<Kysely<Database>> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    // A store that cannot be reached must fail a command, not hang it.
    connectionTimeoutMillis: 5_000,
    ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
  });
  // A client losing its connection (server restart, 57P01) must not crash the process: idle ones are
  // the pool's 'error'; one checked out for a query emits 'error' on itself, where node-postgres has
  // no listener of its own. The query in flight fails (the deploy's store gate waits for the store),
  // the broken client is dropped when released, and the next query gets a fresh connection.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return new Kysely<Database>({ dialect: new RunwayPostgresDialect({ pool }) });
}

/** Kysely's PostgreSQL dialect, introspecting runway's own schema only (schema-introspector.ts says why). */
class RunwayPostgresDialect extends PostgresDialect {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaIntrospector(db);
  }
}

function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid PostgreSQL schema name "${name}"`);
  return name;
}
