// Which of the provider's machine events a deploy stores. Every event goes to the progress listeners
// (the live view); the store gets those its readers can see: the dashboard's timeline shows a
// machine's state, release and health, so an event that changes none of them (an uncordon, a repeated
// state) is not stored; created and destroyed always are.

import type { FleetScope } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';
import type { JournalWriter } from './journal-writer.js';
import type { ProgressListener } from './progress.js';

/** Stores the deploy's machine events as they come; returns the unsubscribe function (none without events). */
export function recordMachineEvents(
  provider: Provider,
  scope: FleetScope,
  deployId: string,
  journal: JournalWriter,
  emit: ProgressListener,
): (() => void) | undefined {
  if (!provider.subscribe) return undefined;
  // What each machine showed in its last stored event.
  const shown = new Map<string, { state: string; release: string; health: string }>();
  return provider.subscribe(scope, (event) => {
    emit({ type: 'machine', event });
    const m = event.machine;
    const last = shown.get(m.id);
    if (
      last &&
      event.type !== 'created' &&
      event.type !== 'destroyed' &&
      last.state === m.state &&
      last.release === m.release &&
      last.health === m.health
    )
      return;
    if (event.type === 'destroyed') shown.delete(m.id);
    else if (last) {
      // Kept up to date in place: one object per machine, not one per stored event.
      last.state = m.state;
      last.release = m.release;
      last.health = m.health;
    } else shown.set(m.id, { state: m.state, release: m.release, health: m.health });
    journal.addEvent({
      deployId,
      app: m.app,
      env: m.env,
      machineId: m.id,
      atMs: event.atMs,
      type: event.type,
      state: m.state,
      release: m.release,
      health: m.health,
    });
  });
}
