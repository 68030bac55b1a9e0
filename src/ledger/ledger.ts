// The ledger: who was responsible for what, append-only and hash-chained (DESIGN.md: "responsibility
// is data"). Each entry's hash = sha256(previous entry's hash + canonical JSON of the entry); the
// first entry chains from 64 zeros. The store appends atomically (next seq and previous hash are
// taken under one lock); `verifyLedger` walks the chain and names every entry that was edited,
// removed or reordered, and compares the last entry with the store's ledger head (entries cut off
// the end).

import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import type { DeployStatus } from '../domain/types.js';
import { LEDGER_GENESIS_HASH } from '../domain/ledger-genesis.js';
import {
  StoreError,
  type DeployRecord,
  type LedgerRecord,
  type NewLedgerRecord,
  type Store,
} from '../store/contract.js';
import { canonicalJson, jsonValue } from './canonical.js';
import { deployReplacedFleet } from '../domain/fleet-replaced.js';

export { LEDGER_GENESIS_HASH };

/** What the ledger records of a deploy's end: the part of the engine's summary it needs (kept here so the ledger does not depend on the engine). */
export interface DeployEnd {
  status: DeployStatus;
  error: string | null;
  machines: { total: number; onTarget: number; failed: number; stragglers: number };
}

export const LEDGER_KINDS = [
  'deploy.started',
  'deploy.resumed',
  'deploy.finished',
  'deploy.aborted',
  'deploy.rolled_back',
  'deploy.abort_requested',
  'deploy.promoted',
  'deploy.taken_over',
  'rollback.started',
  'secrets.changed',
  'emergency.used',
  'policy.refused',
  'deploy.locked_out',
  'lock.taken_over',
  'token.created',
  'token.revoked',
] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** What a caller supplies; defaults: env/deployId/reason null, emergency false, data null. */
export interface LedgerInput {
  kind: LedgerKind;
  app: string;
  env?: string | null;
  deployId?: string | null;
  responsible: string;
  initiator: string;
  trigger: string;
  reason?: string | null;
  emergency?: boolean;
  data?: unknown;
  /** Default: the clock's now. */
  atMs?: number;
}

/** The fields an entry's hash covers (everything but the hashes themselves). */
function hashedFields(seq: number, e: NewLedgerRecord): Record<string, unknown> {
  return {
    seq,
    atMs: e.atMs,
    kind: e.kind,
    app: e.app,
    env: e.env,
    deployId: e.deployId,
    responsible: e.responsible,
    initiator: e.initiator,
    trigger: e.trigger,
    reason: e.reason,
    emergency: e.emergency,
    data: e.data,
  };
}

export function entryHash(prevHash: string, seq: number, entry: NewLedgerRecord): string {
  return createHash('sha256')
    .update(prevHash)
    .update(canonicalJson(hashedFields(seq, entry)))
    .digest('hex');
}

export async function appendLedger(store: Store, clock: Clock, input: LedgerInput): Promise<LedgerRecord> {
  const entry: NewLedgerRecord = {
    atMs: input.atMs ?? clock.now(),
    kind: input.kind,
    app: input.app,
    env: input.env ?? null,
    deployId: input.deployId ?? null,
    responsible: input.responsible,
    initiator: input.initiator,
    trigger: input.trigger,
    reason: input.reason ?? null,
    emergency: input.emergency ?? false,
    // Hash what the store will give back: JSON-normalised data.
    data: jsonValue(input.data ?? null),
  };
  return store.appendLedger(entry, (seq, prevHash) => entryHash(prevHash, seq, entry));
}

export interface LedgerProblem {
  seq: number;
  problem: string;
}

export interface LedgerVerification {
  ok: boolean;
  entries: number;
  head: { seq: number; hash: string };
  problems: LedgerProblem[];
}

/** Walk the whole chain (every app and environment: the chain is one). */
export async function verifyLedger(store: Store): Promise<LedgerVerification> {
  const entries = await store.listLedger();
  let head: { seq: number; hash: string } | undefined;
  try {
    head = await store.ledgerHead();
  } catch (err) {
    if (!(err instanceof StoreError && err.kind === 'not_found')) throw err;
  }
  if (!head) {
    // Fail closed: without its head nobody can tell whether entries were cut off the end, and the
    // store refuses every ledger write (so every deploy and change) until the head is restored.
    const last = entries[entries.length - 1];
    const result = verifyEntries(entries);
    return {
      ok: false,
      entries: entries.length,
      head: { seq: last?.seq ?? 0, hash: last?.hash ?? LEDGER_GENESIS_HASH },
      problems: [
        {
          seq: (last?.seq ?? 0) + 1,
          problem: `the ledger head is missing (its row in ledger_head was deleted): whether entries were removed from the end cannot be checked, and every ledger write is refused until it is restored (restore the store from a backup)`,
        },
        ...result.problems,
      ],
    };
  }
  return { ...verifyEntries(entries, head), head };
}

/** Pure: check a list of entries (in seq order as stored) against the chain rules and the head. */
export function verifyEntries(
  entries: LedgerRecord[],
  head?: { seq: number; hash: string },
): { ok: boolean; entries: number; problems: LedgerProblem[] } {
  const problems: LedgerProblem[] = [];
  let expectedSeq = 1;
  let prevHash = LEDGER_GENESIS_HASH;
  for (const e of entries) {
    if (e.seq !== expectedSeq) {
      if (e.seq > expectedSeq) {
        const missing =
          e.seq - expectedSeq === 1
            ? `entry ${expectedSeq} is missing`
            : `entries ${expectedSeq}-${e.seq - 1} are missing`;
        problems.push({ seq: expectedSeq, problem: `${missing} (removed)` });
      } else problems.push({ seq: e.seq, problem: `entry ${e.seq} appears out of order (after ${expectedSeq - 1})` });
    }
    if (e.prevHash !== prevHash) {
      problems.push({
        seq: e.seq,
        problem: `entry ${e.seq} does not chain from the entry before it (an entry was removed, inserted or reordered)`,
      });
    }
    const { seq, prevHash: _p, hash: _h, ...fields } = e;
    const recomputed = entryHash(e.prevHash, seq, fields);
    if (recomputed !== e.hash)
      problems.push({ seq: e.seq, problem: `entry ${e.seq} was edited: its content does not match its hash` });
    prevHash = e.hash;
    expectedSeq = Math.max(expectedSeq, e.seq) + 1;
  }
  if (head) {
    const last = entries[entries.length - 1];
    const lastSeq = last?.seq ?? 0;
    const lastHash = last?.hash ?? LEDGER_GENESIS_HASH;
    if (head.seq !== lastSeq || head.hash !== lastHash) {
      problems.push({
        seq: Math.min(head.seq, lastSeq + 1),
        problem:
          head.seq > lastSeq
            ? `the ledger head is entry ${head.seq} but the last entry is ${lastSeq}: entries were removed from the end`
            : `the last entry (${lastSeq}) does not match the ledger head (entry ${head.seq}): the end of the ledger was changed`,
      });
    }
  }
  return { ok: problems.length === 0, entries: entries.length, problems };
}

// ---- deploy lifecycle entries

/** Who and what a deploy's entries name: the deploy, who is responsible, how it was started and why. */
export function deployParties(
  deploy: DeployRecord,
): Pick<
  NewLedgerRecord,
  'app' | 'env' | 'deployId' | 'responsible' | 'initiator' | 'trigger' | 'reason' | 'emergency'
> {
  return {
    app: deploy.app,
    env: deploy.env,
    deployId: deploy.id,
    responsible: deploy.responsible,
    initiator: deploy.initiator,
    trigger: deploy.trigger,
    reason: deploy.reason,
    emergency: deploy.emergency ?? false,
  };
}

export async function ledgerDeployStarted(
  store: Store,
  clock: Clock,
  deploy: DeployRecord,
  context?: Record<string, unknown>,
): Promise<void> {
  const resumed = deploy.startedAtMs !== null;
  await appendLedger(store, clock, {
    kind: resumed ? 'deploy.resumed' : deploy.trigger === 'rollback' ? 'rollback.started' : 'deploy.started',
    ...deployParties(deploy),
    data: {
      release: deploy.release,
      previousRelease: deploy.previousRelease,
      strategy: deploy.strategy,
      ...(deploy.secretsVersion !== undefined ? { secretsVersion: deploy.secretsVersion } : {}),
      ...(context ? { context } : {}),
    },
  });
}

export async function ledgerDeployEnded(
  store: Store,
  clock: Clock,
  deploy: DeployRecord,
  summary: DeployEnd | undefined,
  error?: string,
  extra?: Record<string, unknown>,
): Promise<void> {
  const status = summary?.status ?? 'failed';
  const kind: LedgerKind =
    status === 'aborted' ? 'deploy.aborted' : status === 'rolled_back' ? 'deploy.rolled_back' : 'deploy.finished';
  await appendLedger(store, clock, {
    kind,
    ...deployParties(deploy),
    data: {
      release: deploy.release,
      status,
      error: summary?.error ?? error ?? null,
      ...(deploy.abortRequestedBy ? { abortedBy: deploy.abortRequestedBy } : {}),
      ...(summary ? { machines: summary.machines } : {}),
      ...extra,
    },
  });
}

/**
 * After a deploy: record its end and, when it succeeded carrying a secrets version and replaced
 * every machine, make that version the applied one. Used by the server's hooks and the CLI.
 */
export async function recordDeployEnd(
  store: Store,
  clock: Clock,
  deploy: DeployRecord,
  summary: DeployEnd | undefined,
  error?: string,
): Promise<void> {
  let extra: Record<string, unknown> | undefined;
  if (deploy.secretsVersion !== undefined) {
    const applied = summary?.status === 'succeeded' && deployReplacedFleet(deploy.plan, summary.machines.total);
    extra = { secrets: { version: deploy.secretsVersion, applied } };
    if (applied) await store.markSecretsApplied(deploy.app, deploy.env, deploy.secretsVersion, deploy.id, clock.now());
  }
  await ledgerDeployEnded(store, clock, deploy, summary, error, extra);
}
