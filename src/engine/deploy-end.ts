// The end of a deploy run: the summary (counted on the fleet as it is, or on the last listing when the
// provider does not answer), and its record in the store, kept trying while the store is down. A run
// that was taken over or stepped back records nothing but that.

import type { DeployStatus, Machine } from '../domain/types.js';
import type { DeployRequest, EngineDeps } from './deploy-request.js';
import type { DeployTally } from './deploy-tally.js';
import type { JournalWriter } from './journal-writer.js';
import type { ProgressListener } from './progress.js';
import type { RunControl } from './run-control.js';
import type { StoreGate } from './store-gate.js';
import type { DeploySummary } from './summary.js';
import { describeError } from './errors.js';
import { outOfTraffic } from './settle.js';

/** How long the end of a deploy waits for an unreachable store before giving up on recording it. */
const FINAL_WRITE_PATIENCE_MS = 15 * 60_000;

/** What the end of a run needs of it. */
export interface EndHost {
  readonly deps: EngineDeps;
  readonly req: DeployRequest;
  readonly tally: DeployTally;
  readonly control: RunControl;
  readonly journal: JournalWriter;
  readonly storeGate: StoreGate;
  emit: ProgressListener;
  note(kind: string, message: string, data?: unknown): void;
  observe(): Promise<Machine[]>;
  /** The last fleet a listing returned, and when (provider time). */
  lastFleet(): { machines: Machine[]; atMs: number } | undefined;
}

export async function finishDeploy(
  host: EndHost,
  status: DeployStatus,
  error: string | null,
  previous: string | null,
): Promise<DeploySummary> {
  const { deps, req, tally, control } = host;
  const { store } = deps;
  const wall = deps.wallClock ?? deps.clock;
  let fleet: Machine[];
  let fleetSeenAt: number | null = null;
  let listed = true;
  try {
    fleet = await host.observe();
  } catch (err) {
    // Not an empty fleet: the last one seen, said to be that.
    listed = false;
    const last = host.lastFleet();
    fleet = last?.machines ?? [];
    fleetSeenAt = last ? last.atMs - tally.startedAt : null;
    host.note(
      'fleet_unknown',
      `the fleet could not be listed at the end (${describeError(err)}); the summary counts the last listing${fleetSeenAt === null ? ' (none)' : ''}`,
    );
  }
  const target = req.target.version;
  const serving = fleet.filter((m) => m.role === 'serving');
  const onTarget = serving.filter((m) => m.release === target && m.state === 'started' && m.health === 'passing');
  const now = deps.clock.now();
  const stats = deps.apiStats?.() ?? { calls: 0, rateLimited: 0 };
  const summary: DeploySummary = {
    deployId: req.deployId,
    app: req.scope.app,
    env: req.scope.env,
    release: target,
    previousRelease: previous,
    strategy: req.settings.strategy,
    status,
    startedAtMs: tally.startedAt,
    dispatchedAtMs: tally.dispatchedAt === null ? null : tally.dispatchedAt - tally.startedAt,
    convergedAtMs: status === 'succeeded' && tally.convergedAt !== null ? tally.convergedAt - tally.startedAt : null,
    finishedAtMs: now - tally.startedAt,
    machines: {
      total: serving.length,
      onTarget: onTarget.length,
      failed: tally.failed.size,
      stragglers: tally.stragglers.length,
    },
    failedMachineIds: [...tally.failed].sort(),
    leftOutOfTraffic:
      status === 'succeeded'
        ? []
        : outOfTraffic(fleet)
            .map((m) => m.id)
            .sort(),
    ...(listed ? {} : { fleetListedAtMs: fleetSeenAt }),
    stragglerIds: [...tally.stragglers].sort(),
    extraMachinesPeak: Math.max(0, tally.extraPeak),
    apiCalls: stats.calls,
    rateLimited: stats.rateLimited,
    error,
  };
  if (control.lostOwnership) {
    // The new owner writes the record and the journal's end; this run says only that it stepped back.
    host.note('owner_lost', `${deps.owner ?? 'this run'} stopped: ${error ?? 'taken over'}`);
    await host.journal.flush();
    return summary;
  }
  if (control.steppingBack) {
    // Resumable as it is: running, without an owner or a fresh heartbeat, so another instance
    // claims it at once and `runway deploy resume` accepts it. Its lock stays with it.
    host.note('stepped_back', `${deps.owner ?? 'this run'} stopped (${error}); nothing was rolled back`);
    await host.journal.flush();
    await store.updateDeploy(req.deployId, { owner: null, heartbeatAtMs: 0 }).catch(() => {});
    return summary;
  }
  host.note('status', status, { error });
  host.emit({ type: 'status', status, ...(error ? { message: error } : {}) });
  // The end must be recorded: while the store is down, keep trying (bounded) rather than lose it.
  const deadline = wall.now() + FINAL_WRITE_PATIENCE_MS;
  for (;;) {
    await host.journal.flush();
    try {
      if (host.journal.pending > 0) throw new Error(host.storeGate.reason ?? 'journal not written');
      await store.updateDeploy(req.deployId, {
        status,
        summary,
        error,
        dispatchedAtMs: tally.dispatchedAt,
        convergedAtMs: summary.convergedAtMs === null ? null : tally.convergedAt,
        finishedAtMs: now,
      });
      return summary;
    } catch (err) {
      if (wall.now() >= deadline) throw err;
      await wall.sleep(deps.pollMs ?? 1000);
    }
  }
}
