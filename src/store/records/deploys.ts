// Deploys: one row per deploy with its summary document, its status, and who owns and heartbeats it;
// its plan in a row of `deploy_plans` (written once, while the deploys row is updated all through the
// deploy: SQLite rewrites a whole row on each UPDATE). A status change queues the deploy's lifecycle row in the outbox in the same
// transaction (outbox-store.ts).

import { sql, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import { TERMINAL_STATUSES, type DeployStatus, type StrategyName } from '../../domain/types.js';
import {
  StoreError,
  type DeployControl,
  type DeployPatch,
  type DeployQuery,
  type DeployRecord,
  type DeployHead,
  type DeployStat,
  type DeployStatsQuery,
  type NewDeploy,
} from '../contract.js';
import type { Database, DeploysTable } from '../schema.js';
import { insertOutbox, lifecycleItem } from '../outbox-store.js';
import { classifyDbError } from '../db-errors.js';
import { millis, millisOrNull, documentText, parseDocument } from './column-values.js';
import type { StoreContext } from './store-context.js';

type DeployRow = Selectable<DeploysTable>;
type Db = Kysely<Database> | Transaction<Database>;

/** Every deploy column but the summary document. */
const DEPLOY_HEAD_COLUMNS = [
  'seq',
  'id',
  'app',
  'env',
  'release',
  'previous_release',
  'strategy',
  'status',
  'initiator',
  'responsible',
  'trigger',
  'reason',
  'error',
  'created_at_ms',
  'started_at_ms',
  'dispatched_at_ms',
  'converged_at_ms',
  'finished_at_ms',
  'owner',
  'heartbeat_at_ms',
  'abort_requested_at_ms',
  'abort_requested_by',
  'journal_seq',
  'emergency',
  'secrets_version',
] as const;

/** Straggler and failed-machine counts of a stored summary (0 without one). */
function summaryMachines(text: string | null): { stragglers: number; failed: number } {
  if (text === null) return { stragglers: 0, failed: 0 };
  try {
    const summary = JSON.parse(text) as {
      machines?: { stragglers?: unknown; failed?: unknown };
      stragglerIds?: unknown;
    };
    const stragglers = Number(
      summary.machines?.stragglers ?? (Array.isArray(summary.stragglerIds) ? summary.stragglerIds.length : 0),
    );
    const failed = Number(summary.machines?.failed ?? 0);
    return { stragglers: Number.isFinite(stragglers) ? stragglers : 0, failed: Number.isFinite(failed) ? failed : 0 };
  } catch {
    return { stragglers: 0, failed: 0 };
  }
}

/** A deploy's record from its row and the JSON text of its plan (null: it has none). */
function deployFromRow(row: DeployRow, planText: string | null): DeployRecord {
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
    plan: parseDocument(planText),
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
    ...(row.secrets_version !== null && row.secrets_version !== undefined
      ? { secretsVersion: Number(row.secrets_version) }
      : {}),
  };
}

/** A deploy's head from its row (the summary column, if read, is not parsed). */
function headFromRow(row: DeployRow): DeployHead {
  const { plan: _plan, summary: _summary, ...head } = deployFromRow({ ...row, summary: null }, null);
  return head;
}

/** DeployPatch field -> column (the plan is not a column: `writePlan`). Keys left undefined are not changed. */
function deployPatchColumns(patch: DeployPatch): Updateable<DeploysTable> {
  const set: Updateable<DeploysTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
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

export function createDeploy(s: StoreContext, deploy: NewDeploy): Promise<DeployRecord> {
  return s.transaction(async (trx) => {
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
          summary: null,
          error: null,
          created_at_ms: deploy.createdAtMs,
          owner: deploy.owner ?? null,
          emergency: deploy.emergency ? 1 : 0,
          secrets_version: deploy.secretsVersion ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const planText = await writePlan(trx, deploy.id, deploy.plan);
      await insertOutbox(trx, [lifecycleItem(row, Date.now())]);
      return deployFromRow(row, planText);
    } catch (error) {
      if (classifyDbError(error) === 'unique') throw new StoreError('conflict', `deploy ${deploy.id} already exists`);
      throw error;
    }
  });
}

/** The deploys row with its plan's text (`plan`, null when it has none). */
function selectWithPlan(db: Db) {
  return db
    .selectFrom('deploys')
    .leftJoin('deploy_plans', 'deploy_plans.deploy_id', 'deploys.id')
    .selectAll('deploys')
    .select('deploy_plans.plan');
}

/** Store a deploy's plan (null or undefined: none); its JSON text. */
async function writePlan(db: Db, deployId: string, plan: unknown): Promise<string | null> {
  const text = documentText(plan);
  if (text === null) {
    await db.deleteFrom('deploy_plans').where('deploy_id', '=', deployId).execute();
    return null;
  }
  await db
    .insertInto('deploy_plans')
    .values({ deploy_id: deployId, plan: text })
    // `excluded`: the plan's text is sent once, not once per clause.
    .onConflict((oc) => oc.column('deploy_id').doUpdateSet((eb) => ({ plan: eb.ref('excluded.plan') })))
    .execute();
  return text;
}

export function getDeploy(s: StoreContext, id: string): Promise<DeployRecord | undefined> {
  return s.run(async () => {
    const row = await selectWithPlan(s.db).where('deploys.id', '=', id).executeTakeFirst();
    return row && deployFromRow(row, row.plan);
  });
}

/** Newest first. An empty `status` list means no status filter. */
export function listDeploys(s: StoreContext, query: DeployQuery = {}): Promise<DeployRecord[]> {
  return s.run(async () => {
    let q = selectWithPlan(s.db);
    if (query.app !== undefined) q = q.where('deploys.app', '=', query.app);
    if (query.env !== undefined) q = q.where('deploys.env', '=', query.env);
    if (query.status && query.status.length > 0) q = q.where('deploys.status', 'in', query.status);
    q = q.orderBy('deploys.created_at_ms', 'desc').orderBy('deploys.seq', 'desc');
    if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
    const rows = await q.execute();
    return rows.map((row) => deployFromRow(row, row.plan));
  });
}

export function getDeployHead(s: StoreContext, id: string): Promise<DeployHead | undefined> {
  return s.run(async () => {
    const row = await s.db.selectFrom('deploys').select(DEPLOY_HEAD_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && headFromRow(row as DeployRow);
  });
}

export function listDeployHeads(s: StoreContext, query: DeployQuery = {}): Promise<DeployHead[]> {
  return s.run(async () => {
    let q = s.db.selectFrom('deploys').select(DEPLOY_HEAD_COLUMNS);
    if (query.app !== undefined) q = q.where('app', '=', query.app);
    if (query.env !== undefined) q = q.where('env', '=', query.env);
    if (query.status && query.status.length > 0) q = q.where('status', 'in', query.status);
    q = q.orderBy('created_at_ms', 'desc').orderBy('seq', 'desc');
    if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
    const rows = await q.execute();
    return rows.map((row) => headFromRow(row as DeployRow));
  });
}

export function listDeployStats(s: StoreContext, query: DeployStatsQuery): Promise<DeployStat[]> {
  return s.run(async () => {
    let q = s.db
      .selectFrom('deploys')
      .select([
        'id',
        'env',
        'release',
        'strategy',
        'status',
        'trigger',
        'responsible',
        'emergency',
        'created_at_ms',
        'started_at_ms',
        'dispatched_at_ms',
        'converged_at_ms',
        'finished_at_ms',
        'abort_requested_at_ms',
        'summary',
      ])
      .where('app', '=', query.app)
      .where('created_at_ms', '>=', query.sinceMs);
    if (query.untilMs !== undefined) q = q.where('created_at_ms', '<', query.untilMs);
    if (query.env !== undefined) q = q.where('env', '=', query.env);
    const rows = await q.orderBy('created_at_ms', 'asc').orderBy('seq', 'asc').execute();
    // A DeployStat of the columns this query selects; deployFromRow needs them all (plan, summary).
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

/**
 * Answers the deploy's head, not its record: a running deploy's writes (its start, its plan, its end)
 * never look at what they wrote, and reading back the plan meant reading and parsing it whole (5.4 MB
 * of JSON at 50,000 machines, parsed once after the plan was written and again at the deploy's end).
 */
export function updateDeploy(s: StoreContext, id: string, patch: DeployPatch): Promise<DeployHead> {
  const status = patch.status;
  const set = deployPatchColumns(patch);
  const withPlan = async (db: Db, row: DeployRow | undefined): Promise<DeployHead> => {
    if (!row) throw new StoreError('not_found', `deploy ${id} not found`);
    if (patch.plan !== undefined) await writePlan(db, id, patch.plan);
    return headFromRow(row);
  };
  if (status !== undefined) {
    // A status change queues its lifecycle row in the same transaction (the outbox's one seam);
    // writing the status it already has (a retried write) queues nothing.
    return s.transaction(async (trx) => {
      const changed = await trx
        .updateTable('deploys')
        .set(set)
        .where('id', '=', id)
        .where('status', '<>', status)
        .returningAll()
        .executeTakeFirst();
      if (changed) {
        // Wall-clock time: a deploy's own times may come from a virtual clock (simulations).
        await insertOutbox(trx, [lifecycleItem(changed, Date.now())]);
        return withPlan(trx, changed);
      }
      const row = await trx.updateTable('deploys').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      return withPlan(trx, row);
    });
  }
  return s.transaction(async (trx) => {
    const row =
      Object.keys(set).length === 0
        ? await trx.selectFrom('deploys').selectAll().where('id', '=', id).executeTakeFirst()
        : await trx.updateTable('deploys').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    return withPlan(trx, row);
  });
}

/** The first request wins: a repeated request keeps the first time and requester, and returns true. */
export function requestAbort(s: StoreContext, id: string, by: string, atMs: number): Promise<boolean> {
  return s.run(async () => {
    const result = await s.db
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

export function claimDeploy(
  s: StoreContext,
  id: string,
  owner: string,
  nowMs: number,
  staleAfterMs: number,
): Promise<boolean> {
  return s.run(async () => {
    // One statement: the row lock makes concurrent claims of one deploy serialise; the loser's
    // re-evaluated condition no longer holds (the winner's heartbeat is fresh).
    const result = await s.db
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

export function heartbeatDeploy(s: StoreContext, id: string, owner: string | null, nowMs: number): Promise<boolean> {
  return s.run(async () => {
    let update = s.db.updateTable('deploys').set({ heartbeat_at_ms: nowMs }).where('id', '=', id);
    if (owner !== null) update = update.where('owner', '=', owner);
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  });
}

export function deployControl(s: StoreContext, id: string): Promise<DeployControl | undefined> {
  return s.run(async () => {
    const row = await s.db
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
