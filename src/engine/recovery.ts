// `runway recover`: the recovery runbook as a pure function. From the fleet's version spread, the
// environment's recent deploys and its lock, decide what to do:
//   - a deploy whose process died: finish it forward when most serving machines already run its
//     release; otherwise redo it or roll back, as `recover_policy` says;
//   - a deploy that ended half-way (failed, halted, aborted leaving mixed versions): the same rule;
//   - extra machines no live deploy owns (greens, canaries, surge machines, release command machines): destroy;
//   - a lock whose holder is gone: release.
// The command (src/cli/commands/recover.ts) prints what was found and the actions, then applies them.

import type { Machine } from '../domain/types.js';
import { TERMINAL_STATUSES } from '../domain/types.js';
import type { DeployRecord, Lock } from '../store/contract.js';
import { outOfTraffic } from './settle.js';

export type RecoverPolicy = 'redo' | 'rollback';

export interface RecoveryInput {
  fleet: Machine[];
  /** The environment's deploys, newest first. */
  deploys: DeployRecord[];
  /** Whether a deploy's owning process is alive (heartbeat fresh, process present). */
  ownerAlive(deploy: DeployRecord): boolean;
  lock: Lock | null;
  /** Why the lock's holder is gone, or null if it is alive (see cli/commands/lock.ts inspectLock). */
  lockStale: string | null;
  policy: RecoverPolicy;
}

export interface Findings {
  serving: number;
  byRelease: Record<string, number>;
  /** The deploy recovery is about (the newest one that did not finish cleanly), if any. */
  deploy: { id: string; release: string; previousRelease: string | null; status: string; dead: boolean } | null;
  onTarget: number;
  orphans: { id: string; role: string; release: string; deployId: string | null }[];
  failedMachines: string[];
  /** Serving machines out of traffic (cordoned or stopped): what a deploy that gave up left, if anything. */
  outOfTraffic: string[];
  lock: { holder: string; stale: string | null } | null;
}

export type RecoveryAction =
  | { kind: 'release-lock'; holder: string; why: string }
  | { kind: 'destroy-orphans'; machineIds: string[] }
  | { kind: 'resume'; deployId: string; release: string; why: string }
  | { kind: 'deploy'; release: string; mode: 'finish-forward' | 'redo' | 'rollback'; why: string }
  | { kind: 'close-deploy'; deployId: string; why: string };

export interface Recovery {
  findings: Findings;
  actions: RecoveryAction[];
}

export function assessRecovery(input: RecoveryInput): Recovery {
  const serving = input.fleet.filter((m) => m.role === 'serving');
  const byRelease: Record<string, number> = {};
  for (const m of serving) byRelease[m.release] = (byRelease[m.release] ?? 0) + 1;

  const live = new Set(
    input.deploys.filter((d) => !TERMINAL_STATUSES.includes(d.status) && input.ownerAlive(d)).map((d) => d.id),
  );
  const subject = input.deploys.find((d) => d.status !== 'succeeded' && !live.has(d.id) && d.status !== 'rolled_back');
  const newestSucceeded = input.deploys.find((d) => d.status === 'succeeded');
  // Only the newest deploy's leftovers matter: one that succeeded after it already settled the fleet.
  const deploy =
    subject && (!newestSucceeded || subject.createdAtMs > newestSucceeded.createdAtMs) ? subject : undefined;
  const dead = deploy !== undefined && !TERMINAL_STATUSES.includes(deploy.status);

  // Release command machines included: one left by a crash is an orphan like any green.
  const orphans = input.fleet.filter((m) => m.role !== 'serving' && !(m.deployId && live.has(m.deployId)));
  const target = deploy?.release;
  const onTarget = target ? serving.filter((m) => m.release === target).length : 0;
  const findings: Findings = {
    serving: serving.length,
    byRelease,
    deploy: deploy
      ? { id: deploy.id, release: deploy.release, previousRelease: deploy.previousRelease, status: deploy.status, dead }
      : null,
    onTarget,
    orphans: orphans.map((m) => ({ id: m.id, role: m.role, release: m.release, deployId: m.deployId ?? null })),
    failedMachines: serving.filter((m) => m.state === 'failed').map((m) => m.id),
    outOfTraffic: outOfTraffic(input.fleet).map((m) => m.id),
    lock: input.lock ? { holder: input.lock.holder, stale: input.lockStale } : null,
  };

  const actions: RecoveryAction[] = [];
  if (input.lock && input.lockStale && !live.has(input.lock.holder)) {
    actions.push({ kind: 'release-lock', holder: input.lock.holder, why: input.lockStale });
  }
  if (live.size > 0) {
    // A live deploy owns the environment: recovering under it would fight it. Only its lock and
    // other deploys' orphans are ours to touch — and not even those while it may adopt them.
    return { findings, actions: actions.filter((a) => a.kind !== 'release-lock') };
  }

  const mixed = Object.keys(byRelease).length > 1 || findings.failedMachines.length > 0;
  if (deploy && (dead || mixed || orphans.length > 0)) {
    // A deploy's plan destroys leftover greens, canaries and surge machines itself; release command
    // machines it does not touch, so those go first.
    const commands = orphans.filter((m) => m.role === 'release-command').map((m) => m.id);
    if (commands.length > 0) actions.push({ kind: 'destroy-orphans', machineIds: commands });
    const majority = onTarget * 2 > serving.length;
    const back = deploy.previousRelease;
    if (majority || input.policy === 'redo' || !back) {
      const why = majority
        ? `${onTarget} of ${serving.length} serving machines already run ${deploy.release}`
        : input.policy === 'redo'
          ? `only ${onTarget} of ${serving.length} run ${deploy.release}; recover_policy = redo`
          : `only ${onTarget} of ${serving.length} run ${deploy.release} and no previous release is known`;
      // A dead deploy goes on under its own id (its extra machines are adopted); one that ended is redone.
      if (dead) actions.push({ kind: 'resume', deployId: deploy.id, release: deploy.release, why });
      else actions.push({ kind: 'deploy', release: deploy.release, mode: majority ? 'finish-forward' : 'redo', why });
    } else {
      if (dead)
        actions.push({
          kind: 'close-deploy',
          deployId: deploy.id,
          why: 'its process died; recovery rolls back instead',
        });
      actions.push({
        kind: 'deploy',
        release: back,
        mode: 'rollback',
        why: `only ${onTarget} of ${serving.length} run ${deploy.release}; recover_policy = rollback`,
      });
    }
    return { findings, actions };
  }
  if (orphans.length > 0) actions.push({ kind: 'destroy-orphans', machineIds: orphans.map((m) => m.id) });
  return { findings, actions };
}
