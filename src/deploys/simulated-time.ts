// Time is honest for a deploy on a simulated clock (issue 14). The engine runs on its provider's
// clock, which for the sim provider is simulated (virtual, or real time sped up): minutes of
// simulated time pass in seconds. What a deploy's record says are instants (createdAt, startedAt,
// finishedAt) must be wall-clock instants, or a sim deploy "finishes" minutes in the future or in
// another year. Durations stay simulated, and say so.
//
// The store a simulated run writes through is wrapped here, so the engine need not know which
// clock is real:
//   - startedAtMs and finishedAtMs are written as the wall-clock instant of the write (the engine
//     writes them when the deploy starts and when it ends);
//   - the journal's and the record's other instants (dispatched, converged) stay on the simulated
//     timeline, anchored at the wall-clock start: the offset from the start is the simulated one;
//   - the summary is marked `clock: "simulated"` and its startedAtMs is the wall-clock start.

import type { Clock } from '../domain/clock.js';
import type { DeploySummary } from '../engine/summary.js';
import type { DeployHead, DeployPatch, DeployRecord, JournalEntry, Store } from '../store/contract.js';

/** The clock a deploy's durations (summary, journal offsets) were measured on. */
export type DeployClockKind = 'wall' | 'simulated';

interface Anchor {
  simStartMs: number;
  wallStartMs: number;
}

export class SimulatedTimeline {
  private readonly anchors = new Map<string, Anchor>();

  constructor(private readonly wall: Clock) {}

  /** The store the engine writes a simulated run through. */
  wrap(store: Store): Store {
    const updateDeploy = (id: string, patch: DeployPatch): Promise<DeployHead> =>
      store.updateDeploy(id, this.patch(id, patch));
    const appendJournal = (entries: JournalEntry[]): Promise<void> =>
      store.appendJournal(entries.map((e) => this.entry(e)));
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'updateDeploy') return updateDeploy;
        if (prop === 'appendJournal') return appendJournal;
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** The summary as stored and shown: started at the wall-clock instant, its durations labelled simulated. */
  label(deployId: string, summary: DeploySummary): DeploySummary {
    const anchor = this.anchors.get(deployId);
    return { ...summary, ...(anchor ? { startedAtMs: anchor.wallStartMs } : {}), clock: 'simulated' };
  }

  private patch(id: string, patch: DeployPatch): DeployPatch {
    const out: DeployPatch = { ...patch };
    if (patch.startedAtMs != null) {
      const anchor = { simStartMs: patch.startedAtMs, wallStartMs: this.wall.now() };
      this.anchors.set(id, anchor);
      out.startedAtMs = anchor.wallStartMs;
    }
    const anchor = this.anchors.get(id);
    if (!anchor) return out;
    if (patch.finishedAtMs != null) out.finishedAtMs = this.wall.now();
    if (patch.dispatchedAtMs != null) out.dispatchedAtMs = this.onTimeline(anchor, patch.dispatchedAtMs);
    if (patch.convergedAtMs != null) out.convergedAtMs = this.onTimeline(anchor, patch.convergedAtMs);
    if (patch.summary != null) out.summary = this.label(id, patch.summary as DeploySummary);
    return out;
  }

  private entry(e: JournalEntry): JournalEntry {
    const anchor = this.anchors.get(e.deployId);
    return anchor ? { ...e, atMs: this.onTimeline(anchor, e.atMs) } : e;
  }

  private onTimeline(anchor: Anchor, simMs: number): number {
    return anchor.wallStartMs + Math.max(0, simMs - anchor.simStartMs);
  }
}

/** Which clock a deploy's durations were measured on, from its summary (or, while it runs, its provider). */
export function deployClock(deploy: Pick<DeployRecord, 'summary'>, providerIsSimulated: boolean): DeployClockKind {
  const summary = deploy.summary as { clock?: unknown } | null;
  if (summary) return summary.clock === 'simulated' ? 'simulated' : 'wall';
  return providerIsSimulated ? 'simulated' : 'wall';
}
