// The store's tables as Kysely sees them. One schema for every backend (SQLite, PostgreSQL):
// snake_case columns, JSON stored as text, times as integer milliseconds. Time columns are
// `bigint` in PostgreSQL, which `pg` returns as strings, and `integer` in SQLite: always read them
// through `millis` (records/column-values.ts) rather than trusting the runtime type.
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
  /** JSON text of the final summary, or NULL. (0004: the plan is in `deploy_plans`.) */
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
  /** 0002: 1 when a human used the --emergency break-glass (flagged everywhere). */
  emergency: ColumnType<number | string | bigint, number | undefined, number>;
  /** 0002: staged secrets version the deploy carries to the machines (NULL: none recorded). */
  secrets_version: ColumnType<number | string | bigint | null, number | null | undefined, number | null>;
}

/**
 * 0004: a deploy's plan, in a row of its own: SQLite rewrites a whole row on every UPDATE, and the
 * deploys row is updated all through a deploy (heartbeats, status) while its plan is written once.
 */
export interface DeployPlansTable {
  deploy_id: string;
  /** JSON text of the plan (src/domain/plan.ts). A deploy without a plan has no row. */
  plan: string;
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

/** 0002: one entry of the append-only, hash-chained ledger (src/ledger/). */
export interface LedgerTable {
  /** 1, 2, 3, ... with no gaps; assigned under the ledger_head row lock. */
  seq: ColumnType<number | string | bigint, number, never>;
  at_ms: Millis;
  kind: string;
  app: string;
  env: string | null;
  deploy_id: string | null;
  responsible: string;
  initiator: string;
  trigger: string;
  reason: string | null;
  emergency: ColumnType<number | string | bigint, number, never>;
  /** JSON text, or NULL. */
  data: string | null;
  prev_hash: string;
  hash: string;
}

/** 0002: the newest ledger entry's seq and hash (one row, id 'ledger'); appends serialise on it. */
export interface LedgerHeadTable {
  id: string;
  seq: ColumnType<number | string | bigint, number, number>;
  hash: string;
}

/** 0002: API tokens; only the sha256 of a token is stored. */
export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  /** JSON array of environment names, or NULL for every environment. */
  envs: string | null;
  automation: ColumnType<number | string | bigint, number, never>;
  token_hash: string;
  created_at_ms: Millis;
  created_by: string;
  revoked_at_ms: NullableMillis;
  last_used_at_ms: NullableMillis;
}

/** 0002: GitHub webhook deliveries, unique by delivery id and (when it has one) by event key. */
export interface WebhookDeliveriesTable {
  id: string;
  event: string;
  event_key: string | null;
  status: string;
  received_at_ms: Millis;
  owner: string | null;
  /** JSON text of the trigger requests the event maps to. */
  requests: string;
  /** JSON text of what came of them, or NULL. */
  result: string | null;
  finished_at_ms: NullableMillis;
}

/** 0002: encrypted secret values per environment. */
export interface SecretsTable {
  app: string;
  env: string;
  name: string;
  /** `v1:` + base64(iv | tag | AES-256-GCM ciphertext). */
  ciphertext: string;
  /** Keyed digest of the value (HMAC), shown by `secrets list`. */
  digest: string;
  version: ColumnType<number | string | bigint, number, number>;
  updated_at_ms: Millis;
  updated_by: string;
}

/** 0002: per environment, the staged secrets version and the one a deploy last applied. */
export interface SecretVersionsTable {
  app: string;
  env: string;
  staged_version: ColumnType<number | string | bigint, number, number>;
  applied_version: ColumnType<number | string | bigint | null, number | null | undefined, number | null>;
  applied_deploy_id: string | null;
  applied_at_ms: NullableMillis;
  updated_at_ms: Millis;
  /** Fingerprint of the key the secrets are encrypted with (null until the first change under 0003). */
  key_fingerprint: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DashboardSessionsTable {
  /** sha256 of the opaque session id the cookie carries (the id itself is never stored). */
  id_hash: string;
  token_id: string;
  created_at_ms: Millis;
  expires_at_ms: Millis;
  ended_at_ms: NullableMillis;
}

/** 0003: the deploy outbox (src/store/outbox-contract.ts). */
export interface OutboxTable {
  /** Store-assigned row number: the delivery order. */
  seq: ColumnType<number | string | bigint, never, never>;
  channel: string;
  deploy_id: string;
  app: string;
  env: string;
  kind: string;
  /** JSON text, or NULL. */
  payload: string | null;
  state: string;
  attempts: ColumnType<number | string | bigint, number | undefined, number>;
  next_attempt_at_ms: Millis;
  last_error: string | null;
  claimed_by: string | null;
  claimed_until_ms: NullableMillis;
  created_at_ms: Millis;
  delivered_at_ms: NullableMillis;
}

/** 0003: the GitHub deployment made for a release in an environment. */
export interface GitHubDeploymentsTable {
  app: string;
  env: string;
  release: string;
  deployment_id: ColumnType<number | string | bigint, number, never>;
  deploy_id: string;
  active: ColumnType<number | string | bigint, number | undefined, number>;
  created_at_ms: Millis;
}

/**
 * Every table of the store. `schema_migrations` (and `schema_migrations_lock`) belong to Kysely's
 * Migrator and are not listed here.
 */
export interface Database {
  releases: ReleasesTable;
  deploys: DeploysTable;
  deploy_plans: DeployPlansTable;
  journal: JournalTable;
  machine_events: MachineEventsTable;
  locks: LocksTable;
  sim_fleets: SimFleetsTable;
  ledger: LedgerTable;
  ledger_head: LedgerHeadTable;
  api_tokens: ApiTokensTable;
  webhook_deliveries: WebhookDeliveriesTable;
  secrets: SecretsTable;
  secret_versions: SecretVersionsTable;
  outbox: OutboxTable;
  github_deployments: GitHubDeploymentsTable;
  dashboard_sessions: DashboardSessionsTable;
}

export const MIGRATION_TABLE = 'schema_migrations';
export const MIGRATION_LOCK_TABLE = 'schema_migrations_lock';
