// Open the store a URL names, with its schema migrated:
//   `PATH`, `sqlite:PATH`, `sqlite://PATH` -> SQLite file (PATH relative to baseDir; parents created)
//   `:memory:`, `sqlite::memory:`           -> private in-memory SQLite (tests)
//   `postgres://...`, `postgresql://...`    -> PostgreSQL (several runway instances share it)

import path from 'node:path';
import { sql } from 'kysely';
import type { Store } from './contract.js';
import { KyselyStore } from './kysely-store.js';
import { isMemoryPath, openSqlite, type SqliteOpenOptions } from './sqlite/open-sqlite.js';
import { openPostgres, type PostgresOpenOptions } from './postgres/open-postgres.js';

export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** Where a store URL points, without opening it. SQLite paths are made absolute against baseDir. */
export function parseStoreUrl(url: string, baseDir: string): StoreLocation {
  const text = url.trim();
  if (text === '') throw new Error('store URL is empty (expected a file path, sqlite:PATH, or postgres://…)');
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  let file = text;
  const sqliteScheme = /^sqlite:(\/\/)?/i.exec(text);
  if (sqliteScheme) {
    file = text.slice(sqliteScheme[0].length);
    if (file === '') throw new Error(`store URL "${url}" names no file (expected sqlite:PATH)`);
  } else if (/^[a-z][a-z0-9+.-]+:/i.test(text) && !isMemoryPath(text)) {
    // Two or more letters before the colon: a scheme, not a Windows drive letter.
    throw new Error(`unsupported store URL "${url}" (expected a file path, sqlite:PATH, or postgres://…)`);
  }
  if (isMemoryPath(file)) return { kind: 'sqlite', file };
  return { kind: 'sqlite', file: path.resolve(baseDir, file) };
}

/** Open and migrate the store at `url`. */
export async function openStore(
  url: string,
  baseDir: string,
  options: SqliteOpenOptions & PostgresOpenOptions = {},
): Promise<Store> {
  const location = parseStoreUrl(url, baseDir);
  const db =
    location.kind === 'postgres' ? await openPostgres(location.url, options) : openSqlite(location.file, options);
  if (location.kind === 'postgres' && options.schema) {
    await sql`create schema if not exists ${sql.id(options.schema)}`.execute(db).catch(async (error: unknown) => {
      // Two instances creating it at once: one of them gets a unique violation, and the schema exists.
      if ((error as { code?: string }).code === '23505') return;
      await db.destroy();
      throw error;
    });
  }
  const store = new KyselyStore(db);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
