// The control plane's own records in the store (migration 0002 and later): the ledger, API tokens,
// webhook deliveries, secrets and dashboard sessions, with one interface per record kind. Kept apart
// from contract.ts (deploys, releases, journals, locks) as the outbox's records are; contract.ts
// re-exports them, so `Store` and every record are read from one place.

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
   * Stage a change: set (encrypted values with their digests) and unset secrets of an environment in
   * one transaction. A value whose digest equals the stored one is no change. When anything changed,
   * the environment's staged version goes up by one. Returns the staged version and the changed names.
   * With `keyFingerprint`: refused (StoreError conflict, nothing written) when the environment's
   * secrets were encrypted under a key with another fingerprint; recorded otherwise.
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
