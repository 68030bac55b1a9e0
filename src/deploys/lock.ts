// Taking an environment's lock for a deploy, and saying so in the ledger when that meant taking it
// over from a holder that is dead or stopped heart-beating.

import type { Clock } from '../domain/clock.js';
import { acquireEnvironmentLock, holderIsDead, LOCK_STALE_AFTER_MS } from '../engine/environment-lock.js';
import { appendLedger, deployParties } from '../ledger/ledger.js';
import type { DeployRecord, Lock, Store } from '../store/contract.js';

export interface LockRequest {
  app: string;
  env: string;
  holder: string;
  reason: string;
  waitMs: number;
}

/** Take the lock (LockHeldError when a live holder keeps it past `waitMs`); the stale lock it replaced, if any. */
export async function takeLock(
  store: Store,
  wall: Clock,
  request: LockRequest,
): Promise<{ replaced: Lock | undefined }> {
  const before = await store.getLock(request.app, request.env);
  // A lock held by another holder that is already dead or stale is taken over (not waited for).
  const stale =
    before &&
    before.holder !== request.holder &&
    (wall.now() - before.heartbeatAtMs > LOCK_STALE_AFTER_MS || holderIsDead(before));
  await acquireEnvironmentLock(store, wall, { ...request });
  return { replaced: stale ? before : undefined };
}

export async function ledgerLockTakenOver(
  store: Store,
  wall: Clock,
  deploy: DeployRecord,
  previous: Lock,
): Promise<void> {
  await appendLedger(store, wall, {
    kind: 'lock.taken_over',
    ...deployParties(deploy),
    reason: `stale lock of ${previous.holder} taken over`,
    data: { previousHolder: previous.holder, previousHeartbeatAtMs: previous.heartbeatAtMs },
  });
}
