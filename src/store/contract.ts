// Size: ~450 lines, all of them types: every record of the store and one interface per record kind;
// kept in one file so that whoever writes a backend reads one contract.
// The one store contract; backends live in sqlite/ (default, zero set-up) and postgres/ (several
// control-plane instances). The same suite (test/store/contract-suite.ts) runs against each.
// The journal records intent and history; the observed fleet, not the store, is the truth about machines.

import type { DeployStatus, Release, StrategyName } from '../domain/types.js';
import type { OutboxStore } from './outbox-contract.js';

export interface DeployRecord {
  id: string;
  app: string;
  env: string;
  release: string;
  previousRelease: string | null;
  strategy: StrategyName;
  status: DeployStatus;
  /** Who or what started it (a login, `automation`, `cli:<user>`). */
  initiator: string;
  /** The party answerable for it: a named human, or `automation`. */
  responsible: string;
  trigger: string;
  reason: string | null;
  /** The plan as first computed (JSON of src/domain/plan.ts Plan). */
  plan: unknown | null;
  /** The final summary (JSON of the CLI summary object). */
  summary: unknown | null;
  error: string | null;
  createdAtMs: number;
  startedAtMs: number | null;
  dispatchedAtMs: number | null;
  convergedAtMs: number | null;
  finishedAtMs: number | null;
  /** Instance that runs it, and when that instance last said it is alive. */
  owner: string | null;
  heartbeatAtMs: number | null;
  abortRequestedAtMs: number | null;
  abortRequestedBy: string | null;
  /** Present (true) only when a human used the --emergency break-glass to start it. */
  emergency?: boolean;
  /** Present only when recorded: the staged secrets version this deploy carries to the machines. */
  secretsVersion?: number;
}

/** A deploy without its plan and summary documents: what listings (the dashboard) need. */
export type DeployHead = Omit<DeployRecord, 'plan' | 'summary'>;

/** What deploy-health numbers are computed from: one narrow row per deploy, no documents. */
export interface DeployStat {
  id: string;
  env: string;
  release: string;
  strategy: StrategyName;
  status: DeployStatus;
  trigger: string;
  responsible: string;
  emergency: boolean;
  createdAtMs: number;
  startedAtMs: number | null;
  dispatchedAtMs: number | null;
  convergedAtMs: number | null;
  finishedAtMs: number | null;
  abortRequested: boolean;
  /** From the final summary (0 when the deploy has none yet). */
  stragglers: number;
  failedMachines: number;
}

export interface DeployStatsQuery {
  app: string;
  env?: string;
  /** Deploys created at or after this instant (wall-clock ms). */
  sinceMs: number;
  /** ...and before this one. */
  untilMs?: number;
}

export type DeployControl = Pick<
  DeployRecord,
  'status' | 'owner' | 'heartbeatAtMs' | 'abortRequestedAtMs' | 'abortRequestedBy'
>;

export type NewDeploy = Pick<
  DeployRecord,
  | 'id'
  | 'app'
  | 'env'
  | 'release'
  | 'previousRelease'
  | 'strategy'
  | 'initiator'
  | 'responsible'
  | 'trigger'
  | 'reason'
  | 'plan'
  | 'createdAtMs'
> & { status?: DeployStatus; owner?: string | null; emergency?: boolean; secretsVersion?: number | null };

export type DeployPatch = Partial<
  Pick<
    DeployRecord,
    | 'status'
    | 'plan'
    | 'summary'
    | 'error'
    | 'startedAtMs'
    | 'dispatchedAtMs'
    | 'convergedAtMs'
    | 'finishedAtMs'
    | 'owner'
    | 'heartbeatAtMs'
    | 'previousRelease'
  >
>;

export interface DeployQuery {
  app?: string;
  env?: string;
  status?: DeployStatus[];
  limit?: number;
}

/** One line of a deploy's journal. `seq` is assigned by the store, increasing per deploy. */
export interface JournalEntry {
  seq?: number;
  deployId: string;
  atMs: number;
  /** e.g. plan, wave_started, step_started, step_succeeded, step_failed, status, note, abort_requested */
  kind: string;
  wave?: number | null;
  machineId?: string | null;
  message?: string | null;
  data?: unknown;
}

export interface StoredMachineEvent {
  deployId: string | null;
  app: string;
  env: string;
  machineId: string;
  atMs: number;
  type: string;
  state: string;
  release: string;
  health: string;
}

/** One deploy at a time per environment. */
export interface Lock {
  app: string;
  env: string;
  /** Deploy id (or an operator's name for a manual lock). */
  holder: string;
  reason: string;
  pid: number | null;
  host: string | null;
  acquiredAtMs: number;
  heartbeatAtMs: number;
}

export type LockResult = { acquired: true; lock: Lock } | { acquired: false; heldBy: Lock };

/** One entry of the append-only, hash-chained ledger (src/ledger/ computes and verifies hashes). */
export interface LedgerRecord {
  /** 1, 2, 3, ... in append order, without gaps. */
  seq: number;
  atMs: number;
  /** deploy.started, deploy.finished, deploy.aborted, deploy.rolled_back, secrets.changed, emergency.used, policy.refused, lock.taken_over, ... */
  kind: string;
  app: string;
  env: string | null;
  deployId: string | null;
  /** A named human, or `automation`. */
  responsible: string;
  initiator: string;
  trigger: string;
  reason: string | null;
  emergency: boolean;
  data: unknown;
  prevHash: string;
  hash: string;
}

export type NewLedgerRecord = Omit<LedgerRecord, 'seq' | 'prevHash' | 'hash'>;

export interface LedgerQuery {
  app?: string;
  env?: string;
  /** Only entries with seq greater than this. */
  afterSeq?: number;
  limit?: number;
}

export interface ApiTokenRecord {
  id: string;
  /** Whose token: a person's login, or an automation's name. */
  name: string;
  role: string;
  /** Environments a deployer may act on; null = every environment. */
  envs: string[] | null;
  /** An automation token: it is not a person, and may name the person it acts for. */
  automation: boolean;
  /** sha256 (hex) of the token; the token itself is never stored. */
  tokenHash: string;
  createdAtMs: number;
  createdBy: string;
  revokedAtMs: number | null;
  lastUsedAtMs: number | null;
}

export type DeliveryStatus = 'queued' | 'processing' | 'done' | 'failed';

export interface WebhookDelivery {
  /** X-GitHub-Delivery. */
  id: string;
  event: string;
  /** What the event is about (release id, pushed commit): the same event under another delivery id is a duplicate too. */
  eventKey: string | null;
  status: DeliveryStatus;
  receivedAtMs: number;
  owner: string | null;
  requests: unknown;
  result: unknown;
  finishedAtMs: number | null;
}

export type RecordDeliveryResult = { recorded: true } | { recorded: false; existing: WebhookDelivery };

export interface StoredSecret {
  app: string;
  env: string;
  name: string;
  ciphertext: string;
  digest: string;
  /** Per secret: 1 when first set, +1 on every change of value. */
  version: number;
  updatedAtMs: number;
  updatedBy: string;
}

export interface SecretsState {
  app: string;
  env: string;
  /** +1 on every change of the environment's secrets; 0 when none were ever set. */
  stagedVersion: number;
  /** The newest staged version a successful deploy carried to the machines. */
  appliedVersion: number | null;
  appliedDeployId: string | null;
  appliedAtMs: number | null;
  /** Fingerprint of the key the secrets are encrypted with; null before the first change that recorded it. */
  keyFingerprint: string | null;
}

export interface DashboardSession {
  idHash: string;
  tokenId: string;
  createdAtMs: number;
  expiresAtMs: number;
  endedAtMs: number | null;
}

export interface SecretsChange {
  set: { name: string; ciphertext: string; digest: string }[];
  unset: string[];
}

/** Releases (records/releases.ts). */
export interface ReleaseStore {
  /** Fails with StoreError('conflict') if the version exists with other content; same content is a no-op. */
  createRelease(app: string, release: Release): Promise<void>;
  getRelease(app: string, version: string): Promise<Release | undefined>;
  /** Newest first. */
  listReleases(app: string): Promise<Release[]>;
}

/** Deploys, their ownership and abort requests (records/deploys.ts). */
export interface DeployStore {
  createDeploy(deploy: NewDeploy): Promise<DeployRecord>;
  getDeploy(id: string): Promise<DeployRecord | undefined>;
  /** Newest first. */
  listDeploys(query?: DeployQuery): Promise<DeployRecord[]>;
  updateDeploy(id: string, patch: DeployPatch): Promise<DeployHead>;
  /** As getDeploy, without reading the plan and summary. */
  getDeployHead(id: string): Promise<DeployHead | undefined>;
  /** As listDeploys, newest first, without reading plans and summaries. */
  listDeployHeads(query?: DeployQuery): Promise<DeployHead[]>;
  /** Narrow rows of the deploys created in a window, oldest first (deploy health; no plans read). */
  listDeployStats(query: DeployStatsQuery): Promise<DeployStat[]>;
  /** Record an abort request; returns false if the deploy is unknown or already finished. */
  requestAbort(id: string, by: string, atMs: number): Promise<boolean>;
  /**
   * Make `owner` the owner of an unfinished deploy if it has none, already is its owner, or the
   * current owner's heartbeat is older than `staleAfterMs` (a dead control-plane instance). Atomic:
   * of several instances claiming one deploy at once, one wins. Sets the heartbeat to `nowMs`.
   */
  claimDeploy(id: string, owner: string, nowMs: number, staleAfterMs: number): Promise<boolean>;
  /**
   * Heartbeat of the deploy's owner; false when `owner` no longer owns it (it was taken over). With
   * `owner` null the heartbeat is written whoever owns it (a run that has no owner name).
   */
  heartbeatDeploy(id: string, owner: string | null, nowMs: number): Promise<boolean>;
  /**
   * What a running deploy polls for, without reading its plan: abort requests and ownership.
   * Undefined if the deploy does not exist.
   */
  deployControl(id: string): Promise<DeployControl | undefined>;
}

/** Deploys' journals (records/journal.ts). */
export interface JournalStore {
  appendJournal(entries: JournalEntry[]): Promise<void>;
  listJournal(deployId: string): Promise<JournalEntry[]>;
  /** Whether the deploy's journal holds an entry of `kind` (one narrow query; a promote poll asks it). */
  hasJournalEntry(deployId: string, kind: string): Promise<boolean>;
}

/** Machine events seen during deploys (records/machine-events.ts). */
export interface MachineEventStore {
  appendMachineEvents(events: StoredMachineEvent[]): Promise<void>;
  listMachineEvents(deployId: string): Promise<StoredMachineEvent[]>;
}

/** Environment locks (records/locks.ts). */
export interface LockStore {
  /**
   * Take the environment's lock for `holder`. Succeeds if free, already held by `holder`, or held by
   * a lock whose heartbeat is older than `staleAfterMs` (then the result's lock replaces it).
   */
  acquireLock(
    lock: Omit<Lock, 'acquiredAtMs' | 'heartbeatAtMs'>,
    nowMs: number,
    staleAfterMs: number,
  ): Promise<LockResult>;
  heartbeatLock(app: string, env: string, holder: string, nowMs: number): Promise<boolean>;
  releaseLock(app: string, env: string, holder: string): Promise<boolean>;
  getLock(app: string, env: string): Promise<Lock | undefined>;
}

/** Simulated fleets (records/sim-fleets.ts). */
export interface SimFleetStore {
  /** Opaque persisted state of a simulated fleet, so `sim` fleets survive between CLI runs. */
  loadSimFleet(app: string, env: string): Promise<unknown | undefined>;
  saveSimFleet(app: string, env: string, state: unknown): Promise<void>;
}

/** The hash-chained ledger (records/ledger.ts; migration 0002). */
export interface LedgerStore {
  /**
   * Append one ledger entry: atomically take the next seq and the previous entry's hash, and store
   * the entry with `seal(seq, prevHash)` as its hash. Concurrent appenders (any instance) serialise.
   */
  appendLedger(entry: NewLedgerRecord, seal: (seq: number, prevHash: string) => string): Promise<LedgerRecord>;
  /** In seq order. */
  listLedger(query?: LedgerQuery): Promise<LedgerRecord[]>;
  /** Seq and hash of the newest entry (seq 0 and the genesis hash when empty). */
  ledgerHead(): Promise<{ seq: number; hash: string }>;
}

/** API tokens (records/api-tokens.ts; migration 0002). */
export interface ApiTokenStore {
  /** Fails with StoreError('conflict') if the id or the hash exists. */
  createToken(token: Omit<ApiTokenRecord, 'revokedAtMs' | 'lastUsedAtMs'>): Promise<ApiTokenRecord>;
  getToken(id: string): Promise<ApiTokenRecord | undefined>;
  /** Oldest first. */
  listTokens(): Promise<ApiTokenRecord[]>;
  /** False if unknown or already revoked. */
  revokeToken(id: string, atMs: number): Promise<boolean>;
  touchToken(id: string, atMs: number): Promise<void>;
}

/** Webhook deliveries (records/webhook-deliveries.ts; migration 0002). */
export interface WebhookDeliveryStore {
  /**
   * Record a delivery unless one with the same id (or the same non-null event key) exists: then
   * nothing is written and the existing one is returned. Atomic across instances.
   */
  recordDelivery(delivery: Omit<WebhookDelivery, 'owner' | 'result' | 'finishedAtMs'>): Promise<RecordDeliveryResult>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Newest first. */
  listDeliveries(query?: { status?: DeliveryStatus[]; limit?: number }): Promise<WebhookDelivery[]>;
  /** queued -> processing for `owner`; false if another instance claimed it first. */
  claimDelivery(id: string, owner: string): Promise<boolean>;
  finishDelivery(id: string, status: 'done' | 'failed', result: unknown, atMs: number): Promise<void>;
}

/** An environment's secrets and their versions (records/secrets.ts; migration 0002). */
export interface SecretStore {
  /**
   * Set (encrypted values with their digests) and unset secrets of an environment in one
   * transaction. A value whose digest equals the stored one is no change. When anything changed, the
   * environment's staged version goes up by one. Returns the staged version and the changed names.
   */
  /**
   * Stage a change. With `keyFingerprint`: refused (StoreError conflict, nothing written) when the
   * environment's secrets were encrypted under a key with another fingerprint; recorded otherwise.
   */
  changeSecrets(
    app: string,
    env: string,
    change: SecretsChange,
    by: string,
    atMs: number,
    keyFingerprint?: string,
  ): Promise<{ version: number; changed: string[] }>;
  /** By name. */
  listSecrets(app: string, env: string): Promise<StoredSecret[]>;
  getSecretsState(app: string, env: string): Promise<SecretsState>;
  /** A successful deploy carried `version` to the machines (an older version never replaces a newer one). */
  markSecretsApplied(app: string, env: string, version: number, deployId: string, atMs: number): Promise<void>;
}

/** Dashboard sessions (records/dashboard-sessions.ts). */
export interface DashboardSessionStore {
  createSession(session: Omit<DashboardSession, 'endedAtMs'>): Promise<void>;
  getSession(idHash: string): Promise<DashboardSession | undefined>;
  /** End one session (sign-out); false when it was not active. */
  endSession(idHash: string, atMs: number): Promise<boolean>;
  /** End every active session of a token (revocation); how many. */
  endSessionsOfToken(tokenId: string, atMs: number): Promise<number>;
}

/**
 * The whole store: one interface per record kind. Every status change of a deploy (createDeploy,
 * updateDeploy) also queues a lifecycle row in the outbox (outbox-contract.ts).
 */
export interface Store
  extends
    ReleaseStore,
    DeployStore,
    JournalStore,
    MachineEventStore,
    LockStore,
    SimFleetStore,
    LedgerStore,
    ApiTokenStore,
    WebhookDeliveryStore,
    SecretStore,
    DashboardSessionStore,
    OutboxStore {
  /** Apply pending schema migrations (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(
    readonly kind: 'conflict' | 'not_found' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
