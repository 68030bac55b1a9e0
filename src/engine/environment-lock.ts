// One deploy at a time per environment. A lock whose holder process is gone (same host, pid dead) or
// whose heartbeat lapsed is stale and is taken over; `--lock-wait` waits for a live holder to finish.

import { hostname } from 'node:os';
import type { Clock } from '../domain/clock.js';
import type { Lock, Store } from '../store/contract.js';

/** A heartbeat older than this marks the holder as dead (heartbeats come every 5 s). */
export const LOCK_STALE_AFTER_MS = 30_000;

export class LockHeldError extends Error {
  constructor(readonly lock: Lock) {
    super(
      `environment ${lock.app}/${lock.env} is locked by ${lock.holder} (${lock.reason}) since ${new Date(lock.acquiredAtMs).toISOString()}` +
        (lock.host ? ` on ${lock.host}${lock.pid ? ` pid ${lock.pid}` : ''}` : ''),
    );
    this.name = 'LockHeldError';
  }
}

export interface AcquireOptions {
  app: string;
  env: string;
  holder: string;
  reason: string;
  /** How long to wait for a live holder; 0 = fail at once. */
  waitMs: number;
  pollMs?: number;
}

export async function acquireEnvironmentLock(store: Store, clock: Clock, options: AcquireOptions): Promise<Lock> {
  const deadline = clock.now() + options.waitMs;
  const request = {
    app: options.app,
    env: options.env,
    holder: options.holder,
    reason: options.reason,
    pid: process.pid,
    host: hostname(),
  };
  for (;;) {
    const existing = await store.getLock(options.app, options.env);
    const staleAfter = existing && holderIsDead(existing) ? 0 : LOCK_STALE_AFTER_MS;
    const result = await store.acquireLock(request, clock.now(), staleAfter);
    if (result.acquired) return result.lock;
    if (clock.now() >= deadline) throw new LockHeldError(result.heldBy);
    await clock.sleep(Math.min(options.pollMs ?? 1000, Math.max(1, deadline - clock.now())));
  }
}

/** Only a holder on this host can be checked directly; elsewhere the heartbeat decides. */
export function holderIsDead(lock: Lock): boolean {
  if (lock.host !== hostname() || !lock.pid || lock.pid === process.pid) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
