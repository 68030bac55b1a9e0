// Beside every running deploy: its heartbeat (the deploy record and its lock) and a poll of the store
// for abort requests. While the store cannot be written the StoreGate is closed (no new provider
// operation); the first poll the store answers opens it again and writes the journal that waited.

import type { Clock } from '../domain/clock.js';
import type { FleetScope } from '../domain/types.js';
import type { Store } from '../store/contract.js';
import { describeError } from './errors.js';
import type { JournalWriter } from './journal-writer.js';
import type { StoreGate } from './store-gate.js';

export interface WatchHost {
  store: Store;
  deployId: string;
  scope: FleetScope;
  /** The owner this run heart-beats as (null: whoever owns it). */
  owner: string | null;
  wall: Clock;
  pollMs: number;
  heartbeatMs: number;
  /** Ends the watch (the deploy ended). */
  stop: AbortSignal;
  storeGate: StoreGate;
  journal: JournalWriter;
  abortRequested(by: string): void;
  /** Another owner took the deploy over. */
  ownershipLost(): void;
  /** A line for the live view. */
  say(message: string): void;
}

export async function watchDeploy(h: WatchHost): Promise<void> {
  const { store, stop, storeGate } = h;
  let sinceBeat = 0;
  const { app, env } = h.scope;
  while (!stop.aborted) {
    try {
      await h.wall.sleep(h.pollMs, stop);
    } catch {
      return;
    }
    try {
      const wasDown = storeGate.down;
      const control = await store.deployControl(h.deployId);
      if (control?.abortRequestedAtMs) h.abortRequested(control.abortRequestedBy ?? 'request');
      sinceBeat += h.pollMs;
      if (sinceBeat >= h.heartbeatMs || wasDown) {
        sinceBeat = 0;
        const now = h.wall.now();
        if (!(await store.heartbeatDeploy(h.deployId, h.owner, now))) {
          h.ownershipLost();
          storeGate.markUp();
          return;
        }
        await store.heartbeatLock(app, env, h.deployId, now);
      }
      // The store answers: write what waited, then let operations go on.
      if (wasDown) h.say('the store answers again: going on');
      storeGate.markUp();
      await h.journal.flush();
    } catch (err) {
      if (!storeGate.down) h.say(`the store is unreachable (${describeError(err)}): no new operation until it answers`);
      storeGate.markDown(err);
    }
  }
}
