// The one store contract; backends live in sqlite/ (default, zero set-up) and postgres/ (several
// control-plane instances). The same suite (test/store/contract-suite.ts) runs against each.
// The journal records intent and history; the observed fleet, not the store, is the truth about machines.

import type { DeployStatus, Release, StrategyName } from '../domain/types.js';

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
}

export type NewDeploy = Pick<
  DeployRecord,
  'id' | 'app' | 'env' | 'release' | 'previousRelease' | 'strategy' | 'initiator' | 'responsible' | 'trigger' | 'reason' | 'plan' | 'createdAtMs'
> & { status?: DeployStatus; owner?: string | null };

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

export interface Store {
  /** Apply pending schema migrations (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Fails with StoreError('conflict') if the version exists with other content; same content is a no-op. */
  createRelease(app: string, release: Release): Promise<void>;
  getRelease(app: string, version: string): Promise<Release | undefined>;
  /** Newest first. */
  listReleases(app: string): Promise<Release[]>;

  createDeploy(deploy: NewDeploy): Promise<DeployRecord>;
  getDeploy(id: string): Promise<DeployRecord | undefined>;
  /** Newest first. */
  listDeploys(query?: DeployQuery): Promise<DeployRecord[]>;
  updateDeploy(id: string, patch: DeployPatch): Promise<DeployRecord>;
  /** Record an abort request; returns false if the deploy is unknown or already finished. */
  requestAbort(id: string, by: string, atMs: number): Promise<boolean>;

  appendJournal(entries: JournalEntry[]): Promise<void>;
  listJournal(deployId: string): Promise<JournalEntry[]>;
  appendMachineEvents(events: StoredMachineEvent[]): Promise<void>;
  listMachineEvents(deployId: string): Promise<StoredMachineEvent[]>;

  /**
   * Take the environment's lock for `holder`. Succeeds if free, already held by `holder`, or held by
   * a lock whose heartbeat is older than `staleAfterMs` (then the result's lock replaces it).
   */
  acquireLock(lock: Omit<Lock, 'acquiredAtMs' | 'heartbeatAtMs'>, nowMs: number, staleAfterMs: number): Promise<LockResult>;
  heartbeatLock(app: string, env: string, holder: string, nowMs: number): Promise<boolean>;
  releaseLock(app: string, env: string, holder: string): Promise<boolean>;
  getLock(app: string, env: string): Promise<Lock | undefined>;

  /** Opaque persisted state of a simulated fleet, so `sim` fleets survive between CLI runs. */
  loadSimFleet(app: string, env: string): Promise<unknown | undefined>;
  saveSimFleet(app: string, env: string, state: unknown): Promise<void>;
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
