// What a deploy says while its provider does not answer: one journal entry and one live line when
// the provider goes away ("waiting for the provider since …"), and one when it answers again (how long
// it was away). The deploy itself needs no other change: its calls wait at the ProviderGate and go on.

import type { Clock } from '../domain/clock.js';
import type { ProviderGate } from '../providers/provider-gate.js';

export interface OutageNotes {
  /** The provider stopped answering at wall time `sinceMs` (ISO in messages). */
  down(message: string, data: { since: string; reason: string }): void;
  /** It answers again after `lostMs` (provider time). */
  up(message: string, data: { since: string; lostMs: number }): void;
}

/** Follow the gate; returns the unsubscribe function. */
export function watchProviderOutages(gate: ProviderGate | undefined, wall: Clock, notes: OutageNotes): () => void {
  if (!gate) return () => {};
  let since = '';
  return gate.onChange((event) => {
    if (event.type === 'down') {
      since = new Date(wall.now()).toISOString();
      notes.down(
        `waiting for the provider since ${since} (no new operation until it answers, at most ${Math.round(gate.outageTimeoutMs / 1000)} s): ${event.outage.reason}`,
        {
          since,
          reason: event.outage.reason,
        },
      );
    } else {
      const lostMs = event.atMs - event.outage.sinceMs;
      notes.up(`the provider answers again after ${(lostMs / 1000).toFixed(1)} s (waiting since ${since}): going on`, {
        since,
        lostMs,
      });
    }
  });
}
