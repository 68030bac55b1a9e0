// `runway lock status|release --env E`: who holds the environment's deploy lock, and clearing a lock
// whose holder is dead (or, with --force, any lock; recorded in the holder's journal).

import { hostname } from 'node:os';
import { formatDuration } from '../../domain/clock.js';
import { TERMINAL_STATUSES } from '../../domain/types.js';
import { LOCK_STALE_AFTER_MS } from '../../engine/environment-lock.js';
import { EXIT } from '../../engine/summary.js';
import type { Lock, Store } from '../../store/contract.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';

export interface LockOptions extends GlobalOptions {
  env?: string;
  json?: boolean;
  force?: boolean;
  as?: string;
}

export interface LockView {
  lock: Lock | null;
  /** Why the holder counts as gone (its deploy ended, its process is dead, its heartbeat lapsed), or null if alive. */
  stale: string | null;
  heartbeatAgeMs: number | null;
}

export async function inspectLock(store: Store, app: string, env: string, now = Date.now()): Promise<LockView> {
  const lock = (await store.getLock(app, env)) ?? null;
  if (!lock) return { lock, stale: null, heartbeatAgeMs: null };
  const age = now - lock.heartbeatAtMs;
  const deploy = await store.getDeploy(lock.holder);
  let stale: string | null = null;
  if (deploy && TERMINAL_STATUSES.includes(deploy.status)) stale = `its deploy ended (${deploy.status})`;
  else if (lock.host === hostname() && lock.pid && !processAlive(lock.pid)) stale = `its process ${lock.pid} is gone`;
  else if (age > LOCK_STALE_AFTER_MS) stale = `no heartbeat for ${formatDuration(age)}`;
  return { lock, stale, heartbeatAgeMs: age };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export async function lockStatusCommand(options: LockOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = environment(ctx.config, options.env);
    const view = await inspectLock(ctx.store, ctx.config.app.name, env.name);
    if (options.json) printJson(io, view);
    else if (!view.lock) io.stdout.write(`${ctx.config.app.name}/${env.name}: not locked\n`);
    else {
      const l = view.lock;
      io.stdout.write(
        `${l.app}/${l.env}: locked by ${l.holder} (${l.reason}) since ${new Date(l.acquiredAtMs).toISOString()}` +
          `${l.host ? ` on ${l.host}${l.pid ? ` pid ${l.pid}` : ''}` : ''}, heartbeat ${formatDuration(view.heartbeatAgeMs ?? 0)} ago` +
          `${view.stale ? ` — stale: ${view.stale}; \`runway lock release --env ${env.name}\` clears it` : ''}\n`,
      );
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function lockReleaseCommand(options: LockOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = environment(ctx.config, options.env);
    const { store } = ctx;
    const view = await inspectLock(store, ctx.config.app.name, env.name);
    if (!view.lock) throw new CliError(`${ctx.config.app.name}/${env.name} is not locked; nothing to release`);
    if (!view.stale && !options.force) {
      throw new CliError(
        `the lock holder ${view.lock.holder} looks alive (heartbeat ${formatDuration(view.heartbeatAgeMs ?? 0)} ago); abort its deploy, or pass --force`,
        EXIT.locked,
      );
    }
    const released = await store.releaseLock(view.lock.app, view.lock.env, view.lock.holder);
    if (!released) throw new CliError('the lock changed hands meanwhile; look again with `runway lock status`');
    const who = options.as ?? io.env.RUNWAY_USER ?? 'unknown';
    if (await store.getDeploy(view.lock.holder)) {
      await store.appendJournal([
        {
          deployId: view.lock.holder,
          atMs: Date.now(),
          kind: 'lock_released',
          message: `lock released by ${who}${options.force && !view.stale ? ' (forced)' : `: ${view.stale}`}`,
        },
      ]);
    }
    if (options.json)
      printJson(io, { released: true, holder: view.lock.holder, forced: Boolean(options.force && !view.stale) });
    else io.stdout.write(`released the lock of ${view.lock.app}/${view.lock.env} held by ${view.lock.holder}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
