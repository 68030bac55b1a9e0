// Size: ~1,170 lines behind a 40-method Store interface; the outbox already has its own file, and the
// split per concept (deploys, journal, ledger, locks, secrets, sessions) is issue 18.
// The Store contract (contract.ts), implemented once over Kysely. A backend only supplies a
// `Kysely<Database>` (sqlite/open-sqlite.ts; a PostgreSQL dialect later): every query here is
// portable SQL that both SQLite (>= 3.35, for RETURNING) and PostgreSQL run.
//
// Concurrency: every read-modify-write runs in one transaction or one statement. SQLite
// transactions begin IMMEDIATE (one writer at a time across processes); in PostgreSQL the row
// updates below take row locks, so the same code is safe at READ COMMITTED.

import { sql, type Kysely, type Selectable, type Transaction, type Insertable, type Updateable } from 'kysely';
import type { DeployStatus, Release, StrategyName } from '../domain/types.js';
import { TERMINAL_STATUSES } from '../domain/types.js';
import {
  StoreError,
  type ApiTokenRecord,
  type DeliveryStatus,
  type DashboardSession,
  type LedgerQuery,
  type LedgerRecord,
  type NewLedgerRecord,
  type RecordDeliveryResult,
  type SecretsChange,
  type SecretsState,
  type StoredSecret,
  type WebhookDelivery,
  type DeployControl,
  type DeployPatch,
  type DeployQuery,
  type DeployRecord,
  type DeployHead,
  type DeployStat,
  type DeployStatsQuery,
  type JournalEntry,
  type Lock,
  type LockResult,
  type NewDeploy,
  type Store,
  type StoredMachineEvent,
} from './contract.js';
import { BulkInserter } from './bulk-insert.js';
import { migrateToLatest, sqlFlavor } from './migrations.js';
import * as outbox from './outbox-store.js';
import { insertOutbox, lifecycleItem } from './outbox-store.js';
import type { GitHubDeploymentRecord, NewOutboxItem, OutboxItem, OutboxQuery } from './outbox-contract.js';
import type {
  ApiTokensTable,
  Database,
  DeploysTable,
  JournalTable,
  LedgerTable,
  LocksTable,
  MachineEventsTable,
  ReleasesTable,
  SecretsTable,
  WebhookDeliveriesTable,
} from './schema.js';

/**
 * Most bound parameters in one statement. SQLite's limit is 32766 (better-sqlite3 builds it so),
 * PostgreSQL's 65535; multi-row inserts are chunked to stay under both.
 */
export const MAX_BOUND_PARAMETERS = 30_000;
/** Most rows in one multi-row insert, whatever the parameter count (keeps statements cheap to compile). */
const MAX_ROWS_PER_INSERT = 2_000;

function rowsPerInsert(columns: number): number {
  return Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_BOUND_PARAMETERS / columns)));
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** A time column as a number (PostgreSQL bigint comes back as a string). */
function millis(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

function millisOrNull(value: number | string | bigint | null): number | null {
  return value === null ? null : millis(value);
}

/** JSON text of a nullable document (plan, summary): null and undefined are SQL NULL. */
function documentText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value) ?? null;
}

function parseDocument(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

type DeployRow = Selectable<DeploysTable>;

/** Every deploy column but the plan and summary documents. */
const DEPLOY_HEAD_COLUMNS = [
  'seq', 'id', 'app', 'env', 'release', 'previous_release', 'strategy', 'status', 'initiator', 'responsible', 'trigger', 'reason', 'error',
  'created_at_ms', 'started_at_ms', 'dispatched_at_ms', 'converged_at_ms', 'finished_at_ms', 'owner', 'heartbeat_at_ms',
  'abort_requested_at_ms', 'abort_requested_by', 'journal_seq', 'emergency', 'secrets_version',
] as const;

/** Straggler and failed-machine counts of a stored summary (0 without one). */
function summaryMachines(text: string | null): { stragglers: number; failed: number } {
  if (text === null) return { stragglers: 0, failed: 0 };
  try {
    const summary = JSON.parse(text) as { machines?: { stragglers?: unknown; failed?: unknown }; stragglerIds?: unknown };
    const stragglers = Number(summary.machines?.stragglers ?? (Array.isArray(summary.stragglerIds) ? summary.stragglerIds.length : 0));
    const failed = Number(summary.machines?.failed ?? 0);
    return { stragglers: Number.isFinite(stragglers) ? stragglers : 0, failed: Number.isFinite(failed) ? failed : 0 };
  } catch {
    return { stragglers: 0, failed: 0 };
  }
}
type ReleaseRow = Selectable<ReleasesTable>;
type LockRow = Selectable<LocksTable>;

function deployFromRow(row: DeployRow): DeployRecord {
  return {
    id: row.id,
    app: row.app,
    env: row.env,
    release: row.release,
    previousRelease: row.previous_release,
    strategy: row.strategy as StrategyName,
    status: row.status as DeployStatus,
    initiator: row.initiator,
    responsible: row.responsible,
    trigger: row.trigger,
    reason: row.reason,
    plan: parseDocument(row.plan),
    summary: parseDocument(row.summary),
    error: row.error,
    createdAtMs: millis(row.created_at_ms),
    startedAtMs: millisOrNull(row.started_at_ms),
    dispatchedAtMs: millisOrNull(row.dispatched_at_ms),
    convergedAtMs: millisOrNull(row.converged_at_ms),
    finishedAtMs: millisOrNull(row.finished_at_ms),
    owner: row.owner,
    heartbeatAtMs: millisOrNull(row.heartbeat_at_ms),
    abortRequestedAtMs: millisOrNull(row.abort_requested_at_ms),
    abortRequestedBy: row.abort_requested_by,
    // Optional fields (migration 0002) appear only when set, as a release's notes do.
    ...(Number(row.emergency) === 1 ? { emergency: true } : {}),
    ...(row.secrets_version !== null && row.secrets_version !== undefined ? { secretsVersion: Number(row.secrets_version) } : {}),
  };
}

function ledgerFromRow(row: Selectable<LedgerTable>): LedgerRecord {
  return {
    seq: Number(row.seq),
    atMs: millis(row.at_ms),
    kind: row.kind,
    app: row.app,
    env: row.env,
    deployId: row.deploy_id,
    responsible: row.responsible,
    initiator: row.initiator,
    trigger: row.trigger,
    reason: row.reason,
    emergency: Number(row.emergency) === 1,
    data: parseDocument(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function tokenFromRow(row: Selectable<ApiTokensTable>): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    envs: row.envs === null ? null : (JSON.parse(row.envs) as string[]),
    automation: Number(row.automation) === 1,
    tokenHash: row.token_hash,
    createdAtMs: millis(row.created_at_ms),
    createdBy: row.created_by,
    revokedAtMs: millisOrNull(row.revoked_at_ms),
    lastUsedAtMs: millisOrNull(row.last_used_at_ms),
  };
}

function deliveryFromRow(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: row.id,
    event: row.event,
    eventKey: row.event_key,
    status: row.status as DeliveryStatus,
    receivedAtMs: millis(row.received_at_ms),
    owner: row.owner,
    requests: parseDocument(row.requests),
    result: parseDocument(row.result),
    finishedAtMs: millisOrNull(row.finished_at_ms),
  };
}

function secretFromRow(row: Selectable<SecretsTable>): StoredSecret {
  return {
    app: row.app,
    env: row.env,
    name: row.name,
    ciphertext: row.ciphertext,
    digest: row.digest,
    version: Number(row.version),
    updatedAtMs: millis(row.updated_at_ms),
    updatedBy: row.updated_by,
  };
}

function releaseFromRow(row: ReleaseRow): Release {
  const release: Release = { version: row.version, image: row.image, createdAtMs: millis(row.created_at_ms) };
  if (row.config_digest !== null) release.configDigest = row.config_digest;
  if (row.notes !== null) release.notes = row.notes;
  return release;
}

function lockFromRow(row: LockRow): Lock {
  return {
    app: row.app,
    env: row.env,
    holder: row.holder,
    reason: row.reason,
    pid: row.pid === null ? null : Number(row.pid),
    host: row.host,
    acquiredAtMs: millis(row.acquired_at_ms),
    heartbeatAtMs: millis(row.heartbeat_at_ms),
  };
}

/** What a release's identity is made of: the same version with other content is a conflict. */
function sameReleaseContent(a: Release, b: Release): boolean {
  return a.image === b.image && (a.configDigest ?? null) === (b.configDigest ?? null) && (a.notes ?? null) === (b.notes ?? null);
}

/** DeployPatch field -> column. Keys left undefined in a patch are not changed. */
function deployPatchColumns(patch: DeployPatch): Updateable<DeploysTable> {
  const set: Updateable<DeploysTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.plan !== undefined) set.plan = documentText(patch.plan);
  if (patch.summary !== undefined) set.summary = documentText(patch.summary);
  if (patch.error !== undefined) set.error = patch.error;
  if (patch.startedAtMs !== undefined) set.started_at_ms = patch.startedAtMs;
  if (patch.dispatchedAtMs !== undefined) set.dispatched_at_ms = patch.dispatchedAtMs;
  if (patch.convergedAtMs !== undefined) set.converged_at_ms = patch.convergedAtMs;
  if (patch.finishedAtMs !== undefined) set.finished_at_ms = patch.finishedAtMs;
  if (patch.owner !== undefined) set.owner = patch.owner;
  if (patch.heartbeatAtMs !== undefined) set.heartbeat_at_ms = patch.heartbeatAtMs;
  if (patch.previousRelease !== undefined) set.previous_release = patch.previousRelease;
  return set;
}

type DbErrorClass = 'unique' | 'foreign_key' | 'busy' | 'unavailable';

/** Classify a driver error (better-sqlite3 or pg) by its code. */
export function classifyDbError(error: unknown): DbErrorClass | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign_key';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  // PostgreSQL: serialization failure, deadlock, lock timeout; connection exceptions; shutdown.
  if (code === '40001' || code === '40P01' || code === '55P03') return 'busy';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'ENOTFOUND') return 'unavailable';
  return undefined;
}

/** Turn a busy or unreachable database into StoreError('unavailable'); leave other errors alone. */
function translateError(error: unknown): unknown {
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

const JOURNAL_COLUMNS = 8;
const MACHINE_EVENT_COLUMNS = 9;

export class KyselyStore implements Store {
  private closed = false;
  private readonly bulk = new BulkInserter();
  private readonly sqlite: boolean;

  constructor(readonly db: Kysely<Database>) {
    this.sqlite = sqlFlavor(db) === 'sqlite';
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw translateError(error);
    }
  }

  private transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.run(() => this.db.transaction().execute(work));
  }

  migrate(): Promise<void> {
    return this.run(() => migrateToLatest(this.db));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  // ---- releases

  createRelease(app: string, release: Release): Promise<void> {
    return this.run(async () => {
      // Insert-if-absent in one statement, then compare with whatever is stored (ours or a racer's).
      await this.db
        .insertInto('releases')
        .values({
          app,
          version: release.version,
          image: release.image,
          config_digest: release.configDigest ?? null,
          notes: release.notes ?? null,
          created_at_ms: release.createdAtMs,
        })
        .onConflict((oc) => oc.columns(['app', 'version']).doNothing())
        .execute();
      const stored = await this.getRelease(app, release.version);
      if (!stored) throw new StoreError('not_found', `release ${app}@${release.version} vanished while being created`);
      if (!sameReleaseContent(stored, release)) {
        throw new StoreError(
          'conflict',
          `release ${app}@${release.version} already exists with other content (image ${stored.image}); releases are immutable, publish a new version`,
        );
      }
    });
  }

  getRelease(app: string, version: string): Promise<Release | undefined> {
    return this.run(async () => {
      const row = await this.db
        .selectFrom('releases')
        .selectAll()
        .where('app', '=', app)
        .where('version', '=', version)
        .executeTakeFirst();
      return row && releaseFromRow(row);
    });
  }

  listReleases(app: string): Promise<Release[]> {
    return this.run(async () => {
      const rows = await this.db
        .selectFrom('releases')
        .selectAll()
        .where('app', '=', app)
        .orderBy('created_at_ms', 'desc')
        .orderBy('seq', 'desc')
        .execute();
      return rows.map(releaseFromRow);
    });
  }

  // ---- deploys

  createDeploy(deploy: NewDeploy): Promise<DeployRecord> {
    return this.transaction(async (trx) => {
      try {
        const row = await trx
          .insertInto('deploys')
          .values({
            id: deploy.id,
            app: deploy.app,
            env: deploy.env,
            release: deploy.release,
            previous_release: deploy.previousRelease ?? null,
            strategy: deploy.strategy,
            status: deploy.status ?? 'pending',
            initiator: deploy.initiator,
            responsible: deploy.responsible,
            trigger: deploy.trigger,
            reason: deploy.reason ?? null,
            plan: documentText(deploy.plan),
            summary: null,
            error: null,
            created_at_ms: deploy.createdAtMs,
            owner: deploy.owner ?? null,
            emergency: deploy.emergency ? 1 : 0,
            secrets_version: deploy.secretsVersion ?? null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await insertOutbox(trx, [lifecycleItem(row, Date.now())]);
        return deployFromRow(row);
      } catch (error) {
        if (classifyDbError(error) === 'unique') throw new StoreError('conflict', `deploy ${deploy.id} already exists`);
        throw error;
      }
    });
  }

  getDeploy(id: string): Promise<DeployRecord | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('deploys').selectAll().where('id', '=', id).executeTakeFirst();
      return row && deployFromRow(row);
    });
  }

  /** Newest first. An empty `status` list means no status filter. */
  listDeploys(query: DeployQuery = {}): Promise<DeployRecord[]> {
    return this.run(async () => {
      let q = this.db.selectFrom('deploys').selectAll();
      if (query.app !== undefined) q = q.where('app', '=', query.app);
      if (query.env !== undefined) q = q.where('env', '=', query.env);
      if (query.status && query.status.length > 0) q = q.where('status', 'in', query.status);
      q = q.orderBy('created_at_ms', 'desc').orderBy('seq', 'desc');
      if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
      const rows = await q.execute();
      return rows.map(deployFromRow);
    });
  }

  getDeployHead(id: string): Promise<DeployHead | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('deploys').select(DEPLOY_HEAD_COLUMNS).where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const { plan: _plan, summary: _summary, ...head } = deployFromRow({ ...row, plan: null, summary: null } as DeployRow);
      return head;
    });
  }

  listDeployHeads(query: DeployQuery = {}): Promise<DeployHead[]> {
    return this.run(async () => {
      let q = this.db.selectFrom('deploys').select(DEPLOY_HEAD_COLUMNS);
      if (query.app !== undefined) q = q.where('app', '=', query.app);
      if (query.env !== undefined) q = q.where('env', '=', query.env);
      if (query.status && query.status.length > 0) q = q.where('status', 'in', query.status);
      q = q.orderBy('created_at_ms', 'desc').orderBy('seq', 'desc');
      if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
      const rows = await q.execute();
      return rows.map((row) => {
        const { plan: _plan, summary: _summary, ...head } = deployFromRow({ ...row, plan: null, summary: null } as DeployRow);
        return head;
      });
    });
  }

  listDeployStats(query: DeployStatsQuery): Promise<DeployStat[]> {
    return this.run(async () => {
      let q = this.db
        .selectFrom('deploys')
        .select([
          'id', 'env', 'release', 'strategy', 'status', 'trigger', 'responsible', 'emergency', 'created_at_ms', 'started_at_ms',
          'dispatched_at_ms', 'converged_at_ms', 'finished_at_ms', 'abort_requested_at_ms', 'summary',
        ])
        .where('app', '=', query.app)
        .where('created_at_ms', '>=', query.sinceMs);
      if (query.untilMs !== undefined) q = q.where('created_at_ms', '<', query.untilMs);
      if (query.env !== undefined) q = q.where('env', '=', query.env);
      const rows = await q.orderBy('created_at_ms', 'asc').orderBy('seq', 'asc').execute();
      return rows.map((row) => {
        const machines = summaryMachines(row.summary);
        return {
          id: row.id,
          env: row.env,
          release: row.release,
          strategy: row.strategy as StrategyName,
          status: row.status as DeployStatus,
          trigger: row.trigger,
          responsible: row.responsible,
          emergency: Number(row.emergency) === 1,
          createdAtMs: millis(row.created_at_ms),
          startedAtMs: millisOrNull(row.started_at_ms),
          dispatchedAtMs: millisOrNull(row.dispatched_at_ms),
          convergedAtMs: millisOrNull(row.converged_at_ms),
          finishedAtMs: millisOrNull(row.finished_at_ms),
          abortRequested: row.abort_requested_at_ms !== null,
          stragglers: machines.stragglers,
          failedMachines: machines.failed,
        };
      });
    });
  }

  updateDeploy(id: string, patch: DeployPatch): Promise<DeployRecord> {
    const status = patch.status;
    if (status !== undefined) {
      // A status change queues its lifecycle row in the same transaction (the outbox's one seam);
      // writing the status it already has (a retried write) queues nothing.
      return this.transaction(async (trx) => {
        const set = deployPatchColumns(patch);
        const changed = await trx.updateTable('deploys').set(set).where('id', '=', id).where('status', '<>', status).returningAll().executeTakeFirst();
        if (changed) {
          // Wall-clock time: a deploy's own times may come from a virtual clock (simulations).
          await insertOutbox(trx, [lifecycleItem(changed, Date.now())]);
          return deployFromRow(changed);
        }
        const row = await trx.updateTable('deploys').set(set).where('id', '=', id).returningAll().executeTakeFirst();
        if (!row) throw new StoreError('not_found', `deploy ${id} not found`);
        return deployFromRow(row);
      });
    }
    return this.run(async () => {
      const set = deployPatchColumns(patch);
      const row =
        Object.keys(set).length === 0
          ? await this.db.selectFrom('deploys').selectAll().where('id', '=', id).executeTakeFirst()
          : await this.db.updateTable('deploys').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      if (!row) throw new StoreError('not_found', `deploy ${id} not found`);
      return deployFromRow(row);
    });
  }

  /** The first request wins: a repeated request keeps the first time and requester, and returns true. */
  requestAbort(id: string, by: string, atMs: number): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db
        .updateTable('deploys')
        .set({
          abort_requested_at_ms: sql<number>`coalesce(abort_requested_at_ms, ${atMs})`,
          abort_requested_by: sql<string>`coalesce(abort_requested_by, ${by})`,
        })
        .where('id', '=', id)
        .where('status', 'not in', [...TERMINAL_STATUSES])
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  claimDeploy(id: string, owner: string, nowMs: number, staleAfterMs: number): Promise<boolean> {
    return this.run(async () => {
      // One statement: the row lock makes concurrent claims of one deploy serialise; the loser's
      // re-evaluated condition no longer holds (the winner's heartbeat is fresh).
      const result = await this.db
        .updateTable('deploys')
        .set({ owner, heartbeat_at_ms: nowMs })
        .where('id', '=', id)
        .where('status', 'not in', [...TERMINAL_STATUSES])
        .where((eb) =>
          eb.or([
            eb('owner', 'is', null),
            eb('owner', '=', owner),
            eb('heartbeat_at_ms', 'is', null),
            eb('heartbeat_at_ms', '<', nowMs - staleAfterMs),
          ]),
        )
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  heartbeatDeploy(id: string, owner: string | null, nowMs: number): Promise<boolean> {
    return this.run(async () => {
      let update = this.db.updateTable('deploys').set({ heartbeat_at_ms: nowMs }).where('id', '=', id);
      if (owner !== null) update = update.where('owner', '=', owner);
      const result = await update.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  deployControl(id: string): Promise<DeployControl | undefined> {
    return this.run(async () => {
      const row = await this.db
        .selectFrom('deploys')
        .select(['status', 'owner', 'heartbeat_at_ms', 'abort_requested_at_ms', 'abort_requested_by'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        status: row.status as DeployStatus,
        owner: row.owner,
        heartbeatAtMs: millisOrNull(row.heartbeat_at_ms),
        abortRequestedAtMs: millisOrNull(row.abort_requested_at_ms),
        abortRequestedBy: row.abort_requested_by,
      };
    });
  }

  // ---- journal and machine events

  /**
   * Append entries in one transaction. Seqs are handed out per deploy by bumping the deploy's
   * `journal_seq` counter (an atomic row update, so concurrent appenders never share a seq), in the
   * order the entries are given. Fails with StoreError('not_found') if a deploy does not exist.
   * SQLite: the journal's own highest seq instead. Its transactions are IMMEDIATE (one writer at a
   * time), so that is as safe, and an UPDATE of the deploys row rewrites the whole record, stored plan
   * included (over 1 MB at 10,000 machines), on every flush.
   */
  appendJournal(entries: JournalEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.transaction(async (trx) => {
      const counts = new Map<string, number>();
      for (const entry of entries) counts.set(entry.deployId, (counts.get(entry.deployId) ?? 0) + 1);
      const next = new Map<string, number>();
      // Sorted, so that concurrent appenders (PostgreSQL) lock deploy rows in one order.
      for (const deployId of [...counts.keys()].sort()) {
        const count = counts.get(deployId)!;
        if (this.sqlite) {
          const exists = await trx.selectFrom('deploys').select('id').where('id', '=', deployId).executeTakeFirst();
          if (!exists) throw new StoreError('not_found', `cannot append to the journal of deploy ${deployId}: no such deploy`);
          const last = await trx.selectFrom('journal').select((eb) => eb.fn.max('seq').as('seq')).where('deploy_id', '=', deployId).executeTakeFirst();
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
        await this.bulk.insert(trx, 'journal', chunk);
      }
    });
  }

  hasJournalEntry(deployId: string, kind: string): Promise<boolean> {
    return this.run(async () => {
      const row = await this.db.selectFrom('journal').select('seq').where('deploy_id', '=', deployId).where('kind', '=', kind).limit(1).executeTakeFirst();
      return row !== undefined;
    });
  }

  /** In seq order. `data` is absent when the entry had none. */
  listJournal(deployId: string): Promise<JournalEntry[]> {
    return this.run(async () => {
      const rows = await this.db
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

  /** Append events in one transaction. Fails with StoreError('not_found') if a deployId is unknown. */
  appendMachineEvents(events: StoredMachineEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.transaction(async (trx) => {
      const rows: Insertable<MachineEventsTable>[] = events.map((event) => ({
        deploy_id: event.deployId,
        app: event.app,
        env: event.env,
        machine_id: event.machineId,
        at_ms: event.atMs,
        type: event.type,
        state: event.state,
        release: event.release,
        health: event.health,
      }));
      try {
        for (const chunk of chunks(rows, rowsPerInsert(MACHINE_EVENT_COLUMNS))) {
          await this.bulk.insert(trx, 'machine_events', chunk);
        }
      } catch (error) {
        if (classifyDbError(error) === 'foreign_key') {
          const ids = [...new Set(events.map((e) => e.deployId).filter((id) => id !== null))].join(', ');
          throw new StoreError('not_found', `cannot record machine events: unknown deploy among ${ids}`);
        }
        throw error;
      }
    });
  }

  /** In the order they were appended. */
  listMachineEvents(deployId: string): Promise<StoredMachineEvent[]> {
    return this.run(async () => {
      const rows = await this.db
        .selectFrom('machine_events')
        .selectAll()
        .where('deploy_id', '=', deployId)
        .orderBy('id', 'asc')
        .execute();
      return rows.map((row) => ({
        deployId: row.deploy_id,
        app: row.app,
        env: row.env,
        machineId: row.machine_id,
        atMs: millis(row.at_ms),
        type: row.type,
        state: row.state,
        release: row.release,
        health: row.health,
      }));
    });
  }

  // ---- locks

  /**
   * One upsert decides atomically: insert when free; otherwise take over only when the stored lock
   * has the same holder (re-acquire: keeps acquiredAtMs, refreshes the heartbeat) or its heartbeat
   * is older than `staleAfterMs` (takeover: a new lock). If the upsert changed nothing, the lock is
   * held by someone else, read in the same transaction.
   */
  acquireLock(lock: Omit<Lock, 'acquiredAtMs' | 'heartbeatAtMs'>, nowMs: number, staleAfterMs: number): Promise<LockResult> {
    return this.transaction(async (trx) => {
      const staleBefore = nowMs - staleAfterMs;
      const taken = await trx
        .insertInto('locks')
        .values({
          app: lock.app,
          env: lock.env,
          holder: lock.holder,
          reason: lock.reason,
          pid: lock.pid ?? null,
          host: lock.host ?? null,
          acquired_at_ms: nowMs,
          heartbeat_at_ms: nowMs,
        })
        .onConflict((oc) =>
          oc
            .columns(['app', 'env'])
            .doUpdateSet((eb) => ({
              holder: eb.ref('excluded.holder'),
              reason: eb.ref('excluded.reason'),
              pid: eb.ref('excluded.pid'),
              host: eb.ref('excluded.host'),
              acquired_at_ms: eb
                .case()
                .when('locks.holder', '=', eb.ref('excluded.holder'))
                .then(eb.ref('locks.acquired_at_ms'))
                .else(eb.ref('excluded.acquired_at_ms'))
                .end(),
              heartbeat_at_ms: eb.ref('excluded.heartbeat_at_ms'),
            }))
            .where((eb) =>
              eb.or([eb('locks.holder', '=', eb.ref('excluded.holder')), eb('locks.heartbeat_at_ms', '<', staleBefore)]),
            ),
        )
        .returningAll()
        .executeTakeFirst();
      if (taken) return { acquired: true as const, lock: lockFromRow(taken) };
      const current = await trx
        .selectFrom('locks')
        .selectAll()
        .where('app', '=', lock.app)
        .where('env', '=', lock.env)
        .executeTakeFirst();
      if (!current) {
        // Only reachable if the holder released between the two statements (PostgreSQL at READ
        // COMMITTED); report it as busy so the caller retries rather than acting on a guess.
        throw new StoreError('unavailable', `lock ${lock.app}/${lock.env} changed while being acquired; retry`);
      }
      return { acquired: false as const, heldBy: lockFromRow(current) };
    });
  }

  heartbeatLock(app: string, env: string, holder: string, nowMs: number): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db
        .updateTable('locks')
        .set({ heartbeat_at_ms: nowMs })
        .where('app', '=', app)
        .where('env', '=', env)
        .where('holder', '=', holder)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  releaseLock(app: string, env: string, holder: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db
        .deleteFrom('locks')
        .where('app', '=', app)
        .where('env', '=', env)
        .where('holder', '=', holder)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  getLock(app: string, env: string): Promise<Lock | undefined> {
    return this.run(async () => {
      const row = await this.db
        .selectFrom('locks')
        .selectAll()
        .where('app', '=', app)
        .where('env', '=', env)
        .executeTakeFirst();
      return row && lockFromRow(row);
    });
  }

  // ---- sim fleets

  loadSimFleet(app: string, env: string): Promise<unknown | undefined> {
    return this.run(async () => {
      const row = await this.db
        .selectFrom('sim_fleets')
        .select('state')
        .where('app', '=', app)
        .where('env', '=', env)
        .executeTakeFirst();
      return row === undefined ? undefined : (JSON.parse(row.state) as unknown);
    });
  }

  /** Saving `undefined` forgets the fleet (load then returns undefined). */
  saveSimFleet(app: string, env: string, state: unknown): Promise<void> {
    return this.run(async () => {
      const text = state === undefined ? undefined : JSON.stringify(state);
      if (text === undefined) {
        await this.db.deleteFrom('sim_fleets').where('app', '=', app).where('env', '=', env).execute();
        return;
      }
      await this.db
        .insertInto('sim_fleets')
        .values({ app, env, state: text })
        .onConflict((oc) => oc.columns(['app', 'env']).doUpdateSet((eb) => ({ state: eb.ref('excluded.state') })))
        .execute();
    });
  }

  // ---- ledger

  appendLedger(entry: NewLedgerRecord, seal: (seq: number, prevHash: string) => string): Promise<LedgerRecord> {
    return this.transaction(async (trx) => {
      // Bumping the head row first takes its row lock (PostgreSQL) inside the IMMEDIATE transaction
      // (SQLite): appenders serialise here, so every entry chains from the one before it.
      const head = await trx
        .updateTable('ledger_head')
        .set({ seq: sql<number>`${sql.ref('seq')} + 1` })
        .where('id', '=', 'ledger')
        .returning(['seq', 'hash'])
        .executeTakeFirst();
      // Fail closed: an entry appended without the head could hide entries cut off the end.
      if (!head) throw new StoreError('not_found', 'the ledger head is missing: ledger writes are refused (run `runway audit --verify`; restore the store from a backup)');
      const seq = Number(head.seq);
      const prevHash = head.hash;
      const hash = seal(seq, prevHash);
      const row = await trx
        .insertInto('ledger')
        .values({
          seq,
          at_ms: entry.atMs,
          kind: entry.kind,
          app: entry.app,
          env: entry.env,
          deploy_id: entry.deployId,
          responsible: entry.responsible,
          initiator: entry.initiator,
          trigger: entry.trigger,
          reason: entry.reason,
          emergency: entry.emergency ? 1 : 0,
          data: documentText(entry.data),
          prev_hash: prevHash,
          hash,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx.updateTable('ledger_head').set({ hash }).where('id', '=', 'ledger').execute();
      return ledgerFromRow(row);
    });
  }

  listLedger(query: LedgerQuery = {}): Promise<LedgerRecord[]> {
    return this.run(async () => {
      let q = this.db.selectFrom('ledger').selectAll();
      if (query.app !== undefined) q = q.where('app', '=', query.app);
      if (query.env !== undefined) q = q.where('env', '=', query.env);
      if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
      q = q.orderBy('seq', 'asc');
      if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
      return (await q.execute()).map(ledgerFromRow);
    });
  }

  ledgerHead(): Promise<{ seq: number; hash: string }> {
    return this.run(async () => {
      const row = await this.db.selectFrom('ledger_head').select(['seq', 'hash']).where('id', '=', 'ledger').executeTakeFirst();
      if (!row) throw new StoreError('not_found', 'the ledger head is missing: ledger writes are refused (run `runway audit --verify`; restore the store from a backup)');
      return { seq: Number(row.seq), hash: row.hash };
    });
  }

  // ---- API tokens

  createToken(token: Omit<ApiTokenRecord, 'revokedAtMs' | 'lastUsedAtMs'>): Promise<ApiTokenRecord> {
    return this.run(async () => {
      try {
        const row = await this.db
          .insertInto('api_tokens')
          .values({
            id: token.id,
            name: token.name,
            role: token.role,
            envs: token.envs === null ? null : JSON.stringify(token.envs),
            automation: token.automation ? 1 : 0,
            token_hash: token.tokenHash,
            created_at_ms: token.createdAtMs,
            created_by: token.createdBy,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return tokenFromRow(row);
      } catch (error) {
        if (classifyDbError(error) === 'unique') throw new StoreError('conflict', `token ${token.id} already exists`);
        throw error;
      }
    });
  }

  getToken(id: string): Promise<ApiTokenRecord | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row && tokenFromRow(row);
    });
  }

  listTokens(): Promise<ApiTokenRecord[]> {
    return this.run(async () => {
      const rows = await this.db.selectFrom('api_tokens').selectAll().orderBy('created_at_ms', 'asc').orderBy('id', 'asc').execute();
      return rows.map(tokenFromRow);
    });
  }

  revokeToken(id: string, atMs: number): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db
        .updateTable('api_tokens')
        .set({ revoked_at_ms: atMs })
        .where('id', '=', id)
        .where('revoked_at_ms', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  touchToken(id: string, atMs: number): Promise<void> {
    return this.run(async () => {
      await this.db.updateTable('api_tokens').set({ last_used_at_ms: atMs }).where('id', '=', id).execute();
    });
  }

  // ---- webhook deliveries

  recordDelivery(delivery: Omit<WebhookDelivery, 'owner' | 'result' | 'finishedAtMs'>): Promise<RecordDeliveryResult> {
    return this.run(async () => {
      // One statement; `on conflict do nothing` without a target covers both unique columns (the
      // delivery id and the event key) in SQLite and PostgreSQL alike.
      const inserted = await this.db
        .insertInto('webhook_deliveries')
        .values({
          id: delivery.id,
          event: delivery.event,
          event_key: delivery.eventKey,
          status: delivery.status,
          received_at_ms: delivery.receivedAtMs,
          requests: JSON.stringify(delivery.requests ?? null),
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { recorded: true as const };
      let q = this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', delivery.id);
      if (delivery.eventKey !== null) q = this.db.selectFrom('webhook_deliveries').selectAll().where((eb) => eb.or([eb('id', '=', delivery.id), eb('event_key', '=', delivery.eventKey)]));
      const existing = await q.orderBy('received_at_ms', 'asc').executeTakeFirst();
      if (!existing) throw new StoreError('unavailable', `delivery ${delivery.id} changed while being recorded; retry`);
      return { recorded: false as const, existing: deliveryFromRow(existing) };
    });
  }

  getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
      return row && deliveryFromRow(row);
    });
  }

  listDeliveries(query: { status?: DeliveryStatus[]; limit?: number } = {}): Promise<WebhookDelivery[]> {
    return this.run(async () => {
      let q = this.db.selectFrom('webhook_deliveries').selectAll();
      if (query.status && query.status.length > 0) q = q.where('status', 'in', query.status);
      q = q.orderBy('received_at_ms', 'desc').orderBy('id', 'desc');
      if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
      return (await q.execute()).map(deliveryFromRow);
    });
  }

  claimDelivery(id: string, owner: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.db
        .updateTable('webhook_deliveries')
        .set({ status: 'processing', owner })
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }

  finishDelivery(id: string, status: 'done' | 'failed', result: unknown, atMs: number): Promise<void> {
    return this.run(async () => {
      const updated = await this.db
        .updateTable('webhook_deliveries')
        .set({ status, result: documentText(result), finished_at_ms: atMs })
        .where('id', '=', id)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) throw new StoreError('not_found', `delivery ${id} not found`);
    });
  }

  // ---- secrets

  changeSecrets(app: string, env: string, change: SecretsChange, by: string, atMs: number, keyFingerprint?: string): Promise<{ version: number; changed: string[] }> {
    return this.transaction(async (trx) => {
      // The version row first: its row lock serialises changes of one environment (PostgreSQL).
      await trx
        .insertInto('secret_versions')
        .values({ app, env, staged_version: 0, updated_at_ms: atMs })
        .onConflict((oc) => oc.columns(['app', 'env']).doNothing())
        .execute();
      const current = await trx
        .updateTable('secret_versions')
        .set({ updated_at_ms: sql<number>`${sql.ref('updated_at_ms')}` })
        .where('app', '=', app)
        .where('env', '=', env)
        .returning(['staged_version', 'key_fingerprint'])
        .executeTakeFirstOrThrow();
      if (keyFingerprint !== undefined) {
        if (current.key_fingerprint !== null && current.key_fingerprint !== keyFingerprint) {
          // Thrown inside the transaction: nothing of the change is written.
          throw new StoreError('conflict', `the secrets of ${app}/${env} are encrypted with another key (fingerprint ${current.key_fingerprint}, this key's is ${keyFingerprint}); use the key they were set with`);
        }
        if (current.key_fingerprint === null) await trx.updateTable('secret_versions').set({ key_fingerprint: keyFingerprint }).where('app', '=', app).where('env', '=', env).execute();
      }
      const existing = new Map(
        (await trx.selectFrom('secrets').selectAll().where('app', '=', app).where('env', '=', env).execute()).map((r) => [r.name, r]),
      );
      const changed: string[] = [];
      for (const item of change.set) {
        const before = existing.get(item.name);
        if (before && before.digest === item.digest) continue;
        const version = before ? Number(before.version) + 1 : 1;
        await trx
          .insertInto('secrets')
          .values({ app, env, name: item.name, ciphertext: item.ciphertext, digest: item.digest, version, updated_at_ms: atMs, updated_by: by })
          .onConflict((oc) =>
            oc.columns(['app', 'env', 'name']).doUpdateSet({ ciphertext: item.ciphertext, digest: item.digest, version, updated_at_ms: atMs, updated_by: by }),
          )
          .execute();
        changed.push(item.name);
      }
      for (const name of change.unset) {
        if (!existing.has(name)) continue;
        await trx.deleteFrom('secrets').where('app', '=', app).where('env', '=', env).where('name', '=', name).execute();
        changed.push(name);
      }
      let version = Number(current.staged_version);
      if (changed.length > 0) {
        version += 1;
        await trx.updateTable('secret_versions').set({ staged_version: version, updated_at_ms: atMs }).where('app', '=', app).where('env', '=', env).execute();
      }
      return { version, changed };
    });
  }

  listSecrets(app: string, env: string): Promise<StoredSecret[]> {
    return this.run(async () => {
      const rows = await this.db.selectFrom('secrets').selectAll().where('app', '=', app).where('env', '=', env).orderBy('name', 'asc').execute();
      return rows.map(secretFromRow);
    });
  }

  getSecretsState(app: string, env: string): Promise<SecretsState> {
    return this.run(async () => {
      const row = await this.db.selectFrom('secret_versions').selectAll().where('app', '=', app).where('env', '=', env).executeTakeFirst();
      return {
        app,
        env,
        stagedVersion: row ? Number(row.staged_version) : 0,
        appliedVersion: row && row.applied_version !== null ? Number(row.applied_version) : null,
        appliedDeployId: row?.applied_deploy_id ?? null,
        appliedAtMs: row ? millisOrNull(row.applied_at_ms) : null,
        keyFingerprint: row?.key_fingerprint ?? null,
      };
    });
  }

  // ---- dashboard sessions

  createSession(session: Omit<DashboardSession, 'endedAtMs'>): Promise<void> {
    return this.run(async () => {
      await this.db
        .insertInto('dashboard_sessions')
        .values({ id_hash: session.idHash, token_id: session.tokenId, created_at_ms: session.createdAtMs, expires_at_ms: session.expiresAtMs, ended_at_ms: null })
        .execute();
    });
  }

  getSession(idHash: string): Promise<DashboardSession | undefined> {
    return this.run(async () => {
      const row = await this.db.selectFrom('dashboard_sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
      return row
        ? { idHash: row.id_hash, tokenId: row.token_id, createdAtMs: millis(row.created_at_ms), expiresAtMs: millis(row.expires_at_ms), endedAtMs: millisOrNull(row.ended_at_ms) }
        : undefined;
    });
  }

  endSession(idHash: string, atMs: number): Promise<boolean> {
    return this.run(async () => {
      const r = await this.db.updateTable('dashboard_sessions').set({ ended_at_ms: atMs }).where('id_hash', '=', idHash).where('ended_at_ms', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  endSessionsOfToken(tokenId: string, atMs: number): Promise<number> {
    return this.run(async () => {
      const r = await this.db.updateTable('dashboard_sessions').set({ ended_at_ms: atMs }).where('token_id', '=', tokenId).where('ended_at_ms', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows);
    });
  }

  markSecretsApplied(app: string, env: string, version: number, deployId: string, atMs: number): Promise<void> {
    return this.run(async () => {
      await this.db
        .insertInto('secret_versions')
        .values({ app, env, staged_version: version, applied_version: version, applied_deploy_id: deployId, applied_at_ms: atMs, updated_at_ms: atMs })
        .onConflict((oc) =>
          oc
            .columns(['app', 'env'])
            .doUpdateSet({ applied_version: version, applied_deploy_id: deployId, applied_at_ms: atMs })
            .where((eb) => eb.or([eb('secret_versions.applied_version', 'is', null), eb('secret_versions.applied_version', '<', version)])),
        )
        .execute();
    });
  }

  // ---- outbox (migration 0003; outbox-store.ts)

  enqueueOutbox(items: NewOutboxItem[]): Promise<void> {
    return this.transaction((trx) => insertOutbox(trx, items));
  }

  listOutbox(query?: OutboxQuery): Promise<OutboxItem[]> {
    return this.run(() => outbox.listOutbox(this.db, query));
  }

  claimOutbox(seq: number, owner: string, nowMs: number, untilMs: number): Promise<boolean> {
    return this.run(() => outbox.claimOutbox(this.db, seq, owner, nowMs, untilMs));
  }

  completeOutbox(seq: number, atMs: number, followUps: NewOutboxItem[] = []): Promise<void> {
    return this.transaction((trx) => outbox.completeOutbox(trx, seq, atMs, followUps));
  }

  retryOutbox(seq: number, error: string, nextAttemptAtMs: number, giveUp: boolean): Promise<void> {
    return this.run(() => outbox.retryOutbox(this.db, seq, error, nextAttemptAtMs, giveUp));
  }

  getGitHubDeployment(app: string, env: string, release: string): Promise<GitHubDeploymentRecord | undefined> {
    return this.run(() => outbox.getGitHubDeployment(this.db, app, env, release));
  }

  saveGitHubDeployment(record: Omit<GitHubDeploymentRecord, 'active'>): Promise<void> {
    return this.run(() => outbox.saveGitHubDeployment(this.db, record, (e) => classifyDbError(e) === 'unique'));
  }

  activateGitHubDeployment(app: string, env: string, release: string): Promise<GitHubDeploymentRecord[]> {
    return this.transaction((trx) => outbox.activateGitHubDeployment(trx, app, env, release));
  }
}
