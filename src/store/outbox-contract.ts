// The store's outbox (migration 0003_deploy_outbox): what runway owes the outside world about its
// deploys — GitHub deployment statuses and notifications — queued in the store so that a slow or
// unreachable receiver never blocks or fails a deploy, and nothing is lost when a process dies.
//
// Two kinds of rows share one table:
//  - `lifecycle` rows, written by the store itself in the same transaction as a deploy's status
//    change (createDeploy, updateDeploy): the one seam every deploy passes, whoever starts it;
//  - delivery rows (`github`, `notify:<target>`), made from a lifecycle row by the outbox pump
//    (src/outbox/), which knows the configuration. Rows of one channel are delivered in seq order.

export const LIFECYCLE_CHANNEL = 'lifecycle';

export type OutboxState = 'pending' | 'delivered' | 'failed';

export interface OutboxItem {
  /** Store-assigned, increasing in insertion order: the delivery order within a channel. */
  seq: number;
  /** `lifecycle`, `github`, or `notify:<target name>`. */
  channel: string;
  deployId: string;
  app: string;
  env: string;
  /** lifecycle: the deploy status written; github: the status state; notify: the event. */
  kind: string;
  payload: unknown;
  state: OutboxState;
  attempts: number;
  /** Not tried again before this instant (wall-clock ms). */
  nextAttemptAtMs: number;
  lastError: string | null;
  createdAtMs: number;
  deliveredAtMs: number | null;
}

export type NewOutboxItem = Pick<
  OutboxItem,
  'channel' | 'deployId' | 'app' | 'env' | 'kind' | 'payload' | 'createdAtMs'
>;

export interface OutboxQuery {
  state?: OutboxState[];
  channel?: string;
  /** Only deliveries (no lifecycle rows). */
  outwardOnly?: boolean;
  deployId?: string;
  /** Oldest first, at most this many (default 500). */
  limit?: number;
}

/** What runway knows of one GitHub deployment: the one made for a release in an environment. */
export interface GitHubDeploymentRecord {
  app: string;
  env: string;
  release: string;
  /** GitHub's deployment id. */
  deploymentId: number;
  /** The runway deploy that created it. */
  deployId: string;
  /** The deployment GitHub was last told is the environment's live one. */
  active: boolean;
  createdAtMs: number;
}

export interface OutboxStore {
  /** Queue rows (in the given order). */
  enqueueOutbox(items: NewOutboxItem[]): Promise<void>;
  /** Oldest first. */
  listOutbox(query?: OutboxQuery): Promise<OutboxItem[]>;
  /**
   * Make `owner` the deliverer of a pending row until `untilMs`, unless another owner holds an
   * unexpired claim: of several instances claiming one row at once, one wins.
   */
  claimOutbox(seq: number, owner: string, nowMs: number, untilMs: number): Promise<boolean>;
  /** The row was delivered; `followUps` (delivery rows made from a lifecycle row) are queued in the same transaction. */
  completeOutbox(seq: number, atMs: number, followUps?: NewOutboxItem[]): Promise<void>;
  /** A failed attempt: count it, keep the error, and wait until `nextAttemptAtMs`, or give up (state `failed`). */
  retryOutbox(seq: number, error: string, nextAttemptAtMs: number, giveUp: boolean): Promise<void>;

  getGitHubDeployment(app: string, env: string, release: string): Promise<GitHubDeploymentRecord | undefined>;
  /** Fails with StoreError('conflict') if one exists for the release. */
  saveGitHubDeployment(record: Omit<GitHubDeploymentRecord, 'active'>): Promise<void>;
  /**
   * Mark the release's deployment the environment's active one, and return the deployments that
   * were active before (now not), which GitHub is to be told are inactive.
   */
  activateGitHubDeployment(app: string, env: string, release: string): Promise<GitHubDeploymentRecord[]>;
}
