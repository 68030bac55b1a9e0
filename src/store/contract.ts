// Every record of the store and one interface per record kind; the control plane's own records are in
// control-plane-contract.ts (re-exported here) and the outbox's in outbox-contract.ts.
// The one store contract; backends live in sqlite/ (default, zero set-up) and postgres/ (several
// control-plane instances). The same suite (test/store/contract-suite.ts) runs against each.
// The journal records intent and history; the observed fleet, not the store, is the truth about machines.

import type { DeployStatus, Release, StrategyName } from '../domain/types.js';
import type {
  ApiTokenStore,
  DashboardSessionStore,
  LedgerStore,
  SecretStore,
  WebhookDeliveryStore,
} from './control-plane-contract.js';
import type { OutboxStore } from './outbox-contract.js';

export type * from './control-plane-contract.js';

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
