// The outbox half of the store (outbox-contract.ts) over Kysely, for every backend. KyselyStore
// delegates here; `lifecycleItem` is what it inserts with a deploy's status change.

import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { StoreError } from './contract.js';
import type { Database, DeploysTable, GitHubDeploymentsTable, OutboxTable } from './schema.js';
import {
  LIFECYCLE_CHANNEL,
  type GitHubDeploymentRecord,
  type NewOutboxItem,
  type OutboxItem,
  type OutboxQuery,
  type OutboxState,
} from './outbox-contract.js';

type Db = Kysely<Database> | Transaction<Database>;

const num = (v: number | string | bigint): number => Number(v);
const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : Number(v));

function itemFromRow(row: Selectable<OutboxTable>): OutboxItem {
  return {
    seq: num(row.seq),
    channel: row.channel,
    deployId: row.deploy_id,
    app: row.app,
    env: row.env,
    kind: row.kind,
    payload: row.payload === null ? null : (JSON.parse(row.payload) as unknown),
    state: row.state as OutboxState,
    attempts: num(row.attempts),
    nextAttemptAtMs: num(row.next_attempt_at_ms),
    lastError: row.last_error,
    createdAtMs: num(row.created_at_ms),
    deliveredAtMs: numOrNull(row.delivered_at_ms),
  };
}

function ghFromRow(row: Selectable<GitHubDeploymentsTable>): GitHubDeploymentRecord {
  return {
    app: row.app,
    env: row.env,
    release: row.release,
    deploymentId: num(row.deployment_id),
    deployId: row.deploy_id,
    active: num(row.active) === 1,
    createdAtMs: num(row.created_at_ms),
  };
}

/** The lifecycle row for a deploy row whose status was just written (at `atMs`). */
export function lifecycleItem(
  row: Pick<Selectable<DeploysTable>, 'id' | 'app' | 'env' | 'status'>,
  atMs: number,
): NewOutboxItem {
  return {
    channel: LIFECYCLE_CHANNEL,
    deployId: row.id,
    app: row.app,
    env: row.env,
    kind: row.status,
    payload: null,
    createdAtMs: atMs,
  };
}

export async function insertOutbox(db: Db, items: NewOutboxItem[]): Promise<void> {
  // One statement per row keeps seq in the given order on every backend.
  for (const item of items) {
    await db
      .insertInto('outbox')
      .values({
        channel: item.channel,
        deploy_id: item.deployId,
        app: item.app,
        env: item.env,
        kind: item.kind,
        payload: item.payload === null || item.payload === undefined ? null : JSON.stringify(item.payload),
        state: 'pending',
        attempts: 0,
        // Due at once, whatever clock createdAtMs came from (a virtual one in simulations).
        next_attempt_at_ms: 0,
        created_at_ms: item.createdAtMs,
      })
      .execute();
  }
}

export async function listOutbox(db: Db, query: OutboxQuery = {}): Promise<OutboxItem[]> {
  let q = db.selectFrom('outbox').selectAll();
  if (query.state && query.state.length > 0) q = q.where('state', 'in', query.state);
  if (query.channel !== undefined) q = q.where('channel', '=', query.channel);
  if (query.outwardOnly) q = q.where('channel', '<>', LIFECYCLE_CHANNEL);
  if (query.deployId !== undefined) q = q.where('deploy_id', '=', query.deployId);
  const rows = await q
    .orderBy('seq', 'asc')
    .limit(Math.max(0, Math.floor(query.limit ?? 500)))
    .execute();
  return rows.map(itemFromRow);
}

export async function claimOutbox(
  db: Db,
  seq: number,
  owner: string,
  nowMs: number,
  untilMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({ claimed_by: owner, claimed_until_ms: untilMs })
    .where('seq', '=', seq)
    .where('state', '=', 'pending')
    .where((eb) =>
      eb.or([eb('claimed_by', 'is', null), eb('claimed_by', '=', owner), eb('claimed_until_ms', '<', nowMs)]),
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function completeOutbox(
  trx: Transaction<Database>,
  seq: number,
  atMs: number,
  followUps: NewOutboxItem[],
): Promise<void> {
  const result = await trx
    .updateTable('outbox')
    .set({ state: 'delivered', delivered_at_ms: atMs, claimed_by: null, claimed_until_ms: null, last_error: null })
    .where('seq', '=', seq)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  // Already delivered (by an instance whose claim had lapsed): its follow-ups exist already.
  if (result.numUpdatedRows === 0n) return;
  await insertOutbox(trx, followUps);
}

export async function retryOutbox(
  db: Db,
  seq: number,
  error: string,
  nextAttemptAtMs: number,
  giveUp: boolean,
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      attempts: sql<number>`attempts + 1`,
      last_error: error.slice(0, 2000),
      next_attempt_at_ms: nextAttemptAtMs,
      state: giveUp ? 'failed' : 'pending',
      claimed_by: null,
      claimed_until_ms: null,
    })
    .where('seq', '=', seq)
    .where('state', '=', 'pending')
    .execute();
}

export async function getGitHubDeployment(
  db: Db,
  app: string,
  env: string,
  release: string,
): Promise<GitHubDeploymentRecord | undefined> {
  const row = await db
    .selectFrom('github_deployments')
    .selectAll()
    .where('app', '=', app)
    .where('env', '=', env)
    .where('release', '=', release)
    .executeTakeFirst();
  return row && ghFromRow(row);
}

export async function saveGitHubDeployment(
  db: Db,
  record: Omit<GitHubDeploymentRecord, 'active'>,
  isUnique: (e: unknown) => boolean,
): Promise<void> {
  try {
    await db
      .insertInto('github_deployments')
      .values({
        app: record.app,
        env: record.env,
        release: record.release,
        deployment_id: record.deploymentId,
        deploy_id: record.deployId,
        active: 0,
        created_at_ms: record.createdAtMs,
      })
      .execute();
  } catch (error) {
    if (isUnique(error))
      throw new StoreError(
        'conflict',
        `a GitHub deployment of ${record.app}@${record.release} in ${record.env} is already recorded`,
      );
    throw error;
  }
}

export async function activateGitHubDeployment(
  trx: Transaction<Database>,
  app: string,
  env: string,
  release: string,
): Promise<GitHubDeploymentRecord[]> {
  const replaced = await trx
    .updateTable('github_deployments')
    .set({ active: 0 })
    .where('app', '=', app)
    .where('env', '=', env)
    .where('release', '<>', release)
    .where('active', '=', 1)
    .returningAll()
    .execute();
  await trx
    .updateTable('github_deployments')
    .set({ active: 1 })
    .where('app', '=', app)
    .where('env', '=', env)
    .where('release', '=', release)
    .execute();
  return replaced.map(ghFromRow).sort((a, b) => a.createdAtMs - b.createdAtMs);
}
