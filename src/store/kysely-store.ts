// The Store contract (contract.ts), implemented once over Kysely. A backend only supplies a
// `Kysely<Database>` (sqlite/open-sqlite.ts, postgres/open-postgres.ts): every query is portable SQL
// that both SQLite (>= 3.35, for RETURNING) and PostgreSQL run. The queries live with their record
// kind in records/ (one file each; the outbox in outbox-store.ts); this class holds the connection
// and hands each method to its record's module.
//
// Concurrency: every read-modify-write runs in one transaction or one statement. SQLite
// transactions begin IMMEDIATE (one writer at a time across processes); in PostgreSQL the row
// updates take row locks, so the same code is safe at READ COMMITTED.

import type { Kysely, Transaction } from 'kysely';
import type { Release } from '../domain/types.js';
import type {
  ApiTokenRecord,
  DeliveryStatus,
  DashboardSession,
  LedgerQuery,
  LedgerRecord,
  NewLedgerRecord,
  RecordDeliveryResult,
  SecretsChange,
  SecretsState,
  StoredSecret,
  WebhookDelivery,
  DeployControl,
  DeployPatch,
  DeployQuery,
  DeployRecord,
  DeployHead,
  DeployStat,
  DeployStatsQuery,
  JournalEntry,
  Lock,
  LockResult,
  NewDeploy,
  Store,
  StoredMachineEvent,
} from './contract.js';
import { BulkInserter } from './bulk-insert.js';
import { classifyDbError, translateError } from './db-errors.js';
import { migrateToLatest, sqlFlavor } from './migrations.js';
import * as outbox from './outbox-store.js';
import { insertOutbox } from './outbox-store.js';
import type { GitHubDeploymentRecord, NewOutboxItem, OutboxItem, OutboxQuery } from './outbox-contract.js';
import type { Database } from './schema.js';
import type { StoreContext } from './records/store-context.js';
import * as apiTokens from './records/api-tokens.js';
import * as dashboardSessions from './records/dashboard-sessions.js';
import * as deploys from './records/deploys.js';
import * as journal from './records/journal.js';
import * as ledger from './records/ledger.js';
import * as locks from './records/locks.js';
import * as machineEvents from './records/machine-events.js';
import * as releases from './records/releases.js';
import * as secrets from './records/secrets.js';
import * as simFleets from './records/sim-fleets.js';
import * as webhookDeliveries from './records/webhook-deliveries.js';

export { MAX_BOUND_PARAMETERS } from './bulk-insert.js';
export { classifyDbError } from './db-errors.js';

export class KyselyStore implements Store {
  private closed = false;
  private readonly context: StoreContext;

  constructor(readonly db: Kysely<Database>) {
    const run = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (error) {
        throw translateError(error);
      }
    };
    this.context = {
      db,
      sqlite: sqlFlavor(db) === 'sqlite',
      bulk: new BulkInserter(),
      run,
      transaction: <T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
        run(() => db.transaction().execute(work)),
    };
  }

  private run<T>(work: () => Promise<T>): Promise<T> {
    return this.context.run(work);
  }

  private transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.context.transaction(work);
  }

  migrate(): Promise<void> {
    return this.run(() => migrateToLatest(this.db));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  // ---- releases (records/releases.ts)

  createRelease(app: string, release: Release): Promise<void> {
    return releases.createRelease(this.context, app, release);
  }

  getRelease(app: string, version: string): Promise<Release | undefined> {
    return releases.getRelease(this.context, app, version);
  }

  listReleases(app: string): Promise<Release[]> {
    return releases.listReleases(this.context, app);
  }

  // ---- deploys (records/deploys.ts)

  createDeploy(deploy: NewDeploy): Promise<DeployRecord> {
    return deploys.createDeploy(this.context, deploy);
  }

  getDeploy(id: string): Promise<DeployRecord | undefined> {
    return deploys.getDeploy(this.context, id);
  }

  listDeploys(query: DeployQuery = {}): Promise<DeployRecord[]> {
    return deploys.listDeploys(this.context, query);
  }

  getDeployHead(id: string): Promise<DeployHead | undefined> {
    return deploys.getDeployHead(this.context, id);
  }

  listDeployHeads(query: DeployQuery = {}): Promise<DeployHead[]> {
    return deploys.listDeployHeads(this.context, query);
  }

  listDeployStats(query: DeployStatsQuery): Promise<DeployStat[]> {
    return deploys.listDeployStats(this.context, query);
  }

  updateDeploy(id: string, patch: DeployPatch): Promise<DeployHead> {
    return deploys.updateDeploy(this.context, id, patch);
  }

  requestAbort(id: string, by: string, atMs: number): Promise<boolean> {
    return deploys.requestAbort(this.context, id, by, atMs);
  }

  claimDeploy(id: string, owner: string, nowMs: number, staleAfterMs: number): Promise<boolean> {
    return deploys.claimDeploy(this.context, id, owner, nowMs, staleAfterMs);
  }

  heartbeatDeploy(id: string, owner: string | null, nowMs: number): Promise<boolean> {
    return deploys.heartbeatDeploy(this.context, id, owner, nowMs);
  }

  deployControl(id: string): Promise<DeployControl | undefined> {
    return deploys.deployControl(this.context, id);
  }

  // ---- journal (records/journal.ts) and machine events (records/machine-events.ts)

  appendJournal(entries: JournalEntry[]): Promise<void> {
    return journal.appendJournal(this.context, entries);
  }

  hasJournalEntry(deployId: string, kind: string): Promise<boolean> {
    return journal.hasJournalEntry(this.context, deployId, kind);
  }

  listJournal(deployId: string): Promise<JournalEntry[]> {
    return journal.listJournal(this.context, deployId);
  }

  appendMachineEvents(events: StoredMachineEvent[]): Promise<void> {
    return machineEvents.appendMachineEvents(this.context, events);
  }

  listMachineEvents(deployId: string): Promise<StoredMachineEvent[]> {
    return machineEvents.listMachineEvents(this.context, deployId);
  }

  // ---- locks (records/locks.ts)

  acquireLock(
    lock: Omit<Lock, 'acquiredAtMs' | 'heartbeatAtMs'>,
    nowMs: number,
    staleAfterMs: number,
  ): Promise<LockResult> {
    return locks.acquireLock(this.context, lock, nowMs, staleAfterMs);
  }

  heartbeatLock(app: string, env: string, holder: string, nowMs: number): Promise<boolean> {
    return locks.heartbeatLock(this.context, app, env, holder, nowMs);
  }

  releaseLock(app: string, env: string, holder: string): Promise<boolean> {
    return locks.releaseLock(this.context, app, env, holder);
  }

  getLock(app: string, env: string): Promise<Lock | undefined> {
    return locks.getLock(this.context, app, env);
  }

  // ---- sim fleets (records/sim-fleets.ts)

  loadSimFleet(app: string, env: string): Promise<unknown | undefined> {
    return simFleets.loadSimFleet(this.context, app, env);
  }

  saveSimFleet(app: string, env: string, state: unknown): Promise<void> {
    return simFleets.saveSimFleet(this.context, app, env, state);
  }

  // ---- ledger (records/ledger.ts)

  appendLedger(entry: NewLedgerRecord, seal: (seq: number, prevHash: string) => string): Promise<LedgerRecord> {
    return ledger.appendLedger(this.context, entry, seal);
  }

  listLedger(query: LedgerQuery = {}): Promise<LedgerRecord[]> {
    return ledger.listLedger(this.context, query);
  }

  ledgerHead(): Promise<{ seq: number; hash: string }> {
    return ledger.ledgerHead(this.context);
  }

  // ---- API tokens (records/api-tokens.ts)

  createToken(token: Omit<ApiTokenRecord, 'revokedAtMs' | 'lastUsedAtMs'>): Promise<ApiTokenRecord> {
    return apiTokens.createToken(this.context, token);
  }

  getToken(id: string): Promise<ApiTokenRecord | undefined> {
    return apiTokens.getToken(this.context, id);
  }

  listTokens(): Promise<ApiTokenRecord[]> {
    return apiTokens.listTokens(this.context);
  }

  revokeToken(id: string, atMs: number): Promise<boolean> {
    return apiTokens.revokeToken(this.context, id, atMs);
  }

  touchToken(id: string, atMs: number): Promise<void> {
    return apiTokens.touchToken(this.context, id, atMs);
  }

  // ---- webhook deliveries (records/webhook-deliveries.ts)

  recordDelivery(delivery: Omit<WebhookDelivery, 'owner' | 'result' | 'finishedAtMs'>): Promise<RecordDeliveryResult> {
    return webhookDeliveries.recordDelivery(this.context, delivery);
  }

  getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return webhookDeliveries.getDelivery(this.context, id);
  }

  listDeliveries(query: { status?: DeliveryStatus[]; limit?: number } = {}): Promise<WebhookDelivery[]> {
    return webhookDeliveries.listDeliveries(this.context, query);
  }

  claimDelivery(id: string, owner: string): Promise<boolean> {
    return webhookDeliveries.claimDelivery(this.context, id, owner);
  }

  finishDelivery(id: string, status: 'done' | 'failed', result: unknown, atMs: number): Promise<void> {
    return webhookDeliveries.finishDelivery(this.context, id, status, result, atMs);
  }

  // ---- secrets (records/secrets.ts)

  changeSecrets(
    app: string,
    env: string,
    change: SecretsChange,
    by: string,
    atMs: number,
    keyFingerprint?: string,
  ): Promise<{ version: number; changed: string[] }> {
    return secrets.changeSecrets(this.context, app, env, change, by, atMs, keyFingerprint);
  }

  listSecrets(app: string, env: string): Promise<StoredSecret[]> {
    return secrets.listSecrets(this.context, app, env);
  }

  getSecretsState(app: string, env: string): Promise<SecretsState> {
    return secrets.getSecretsState(this.context, app, env);
  }

  markSecretsApplied(app: string, env: string, version: number, deployId: string, atMs: number): Promise<void> {
    return secrets.markSecretsApplied(this.context, app, env, version, deployId, atMs);
  }

  // ---- dashboard sessions (records/dashboard-sessions.ts)

  createSession(session: Omit<DashboardSession, 'endedAtMs'>): Promise<void> {
    return dashboardSessions.createSession(this.context, session);
  }

  getSession(idHash: string): Promise<DashboardSession | undefined> {
    return dashboardSessions.getSession(this.context, idHash);
  }

  endSession(idHash: string, atMs: number): Promise<boolean> {
    return dashboardSessions.endSession(this.context, idHash, atMs);
  }

  endSessionsOfToken(tokenId: string, atMs: number): Promise<number> {
    return dashboardSessions.endSessionsOfToken(this.context, tokenId, atMs);
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
