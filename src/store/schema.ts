// The store's tables as Kysely sees them. One schema for every backend (SQLite, PostgreSQL):
// snake_case columns, JSON stored as text, times as integer milliseconds. Time columns are
// `bigint` in PostgreSQL, which `pg` returns as strings, and `integer` in SQLite: always read them
// through `toMillis` (kysely-store.ts) rather than trusting the runtime type.
// Schema changes go through src/store/migrations.ts; this file must describe the latest migration.

import type { ColumnType, Generated } from 'kysely';

/** Integer milliseconds since the epoch. Read as number (SQLite) or string/bigint (PostgreSQL bigint). */
export type Millis = ColumnType<number | string | bigint, number, number>;
export type NullableMillis = ColumnType<number | string | bigint | null, number | null | undefined, number | null>;
/** Store-assigned row number (SQLite rowid alias / PostgreSQL identity), used only for insertion order. */
export type RowNumber = ColumnType<number | string | bigint, never, never>;

export interface ReleasesTable {
  /** Insertion order, tie-breaker for releases created in the same millisecond. */
  seq: Generated<RowNumber>;
  app: string;
  version: string;
  image: string;
  config_digest: string | null;
  notes: string | null;
  created_at_ms: Millis;
}

export interface DeploysTable {
  /** Insertion order, tie-breaker for deploys created in the same millisecond. */
  seq: Generated<RowNumber>;
  id: string;
  app: string;
  env: string;
  release: string;
  previous_release: string | null;
  strategy: string;
  status: string;
  initiator: string;
  responsible: string;
  trigger: string;
  reason: string | null;
  /** JSON text of the plan (src/domain/plan.ts), or NULL. */
  plan: string | null;
  /** JSON text of the final summary, or NULL. */
  summary: string | null;
  error: string | null;
  created_at_ms: Millis;
  started_at_ms: NullableMillis;
  dispatched_at_ms: NullableMillis;
  converged_at_ms: NullableMillis;
  finished_at_ms: NullableMillis;
  owner: string | null;
  heartbeat_at_ms: NullableMillis;
  abort_requested_at_ms: NullableMillis;
  abort_requested_by: string | null;
  /** Last journal seq handed out for this deploy (appendJournal bumps it atomically). */
  journal_seq: ColumnType<number | string | bigint, number | undefined, number>;
}

export interface JournalTable {
  deploy_id: string;
  /** Per deploy, increasing from 1. */
  seq: number;
  at_ms: Millis;
  kind: string;
  wave: number | null;
  machine_id: string | null;
  message: string | null;
  /** JSON text of `data`; NULL when the entry had no data (JSON `null` is stored as the text `null`). */
  data: string | null;
}

export interface MachineEventsTable {
  id: Generated<RowNumber>;
  deploy_id: string | null;
  app: string;
  env: string;
  machine_id: string;
  at_ms: Millis;
  type: string;
  state: string;
  release: string;
  health: string;
}

export interface LocksTable {
  app: string;
  env: string;
  holder: string;
  reason: string;
  pid: number | null;
  host: string | null;
  acquired_at_ms: Millis;
  heartbeat_at_ms: Millis;
}

export interface SimFleetsTable {
  app: string;
  env: string;
  /** JSON text of the sim provider's persisted fleet. */
  state: string;
}

/**
 * Every table of the store. `schema_migrations` (and `schema_migrations_lock`) belong to Kysely's
 * Migrator and are not listed here.
 */
export interface Database {
  releases: ReleasesTable;
  deploys: DeploysTable;
  journal: JournalTable;
  machine_events: MachineEventsTable;
  locks: LocksTable;
  sim_fleets: SimFleetsTable;
}

export const MIGRATION_TABLE = 'schema_migrations';
export const MIGRATION_LOCK_TABLE = 'schema_migrations_lock';
