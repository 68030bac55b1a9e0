// Taking an environment's lock for a deploy, and saying so in the ledger when that meant taking it
// over from a holder that is dead or stopped heart-beating.

import { hostname } from 'node:os';
import type { Clock } from '../domain/clock.js';
import { acquireEnvironmentLock, LOCK_STALE_AFTER_MS } from '../engine/environment-lock.js';
import { appendLedger } from '../ledger/ledger.js';
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
    (wall.now() - before.heartbeatAtMs > LOCK_STALE_AFTER_MS || processGone(before));
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
    app: deploy.app,
    env: deploy.env,
    deployId: deploy.id,
    responsible: deploy.responsible,
    initiator: deploy.initiator,
    trigger: deploy.trigger,
    reason: `stale lock of ${previous.holder} taken over`,
    emergency: deploy.emergency ?? false,
    data: { previousHolder: previous.holder, previousHeartbeatAtMs: previous.heartbeatAtMs },
  });
}

/** The lock's holder process is known to be gone (same host, no such pid). */
function processGone(lock: Lock): boolean {
  if (lock.host !== hostname() || !lock.pid || lock.pid === process.pid) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
