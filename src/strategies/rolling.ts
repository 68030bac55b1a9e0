// rolling: per process group a spearhead machine first, then a sliding window of at most max_unavailable
// machines out of traffic: each machine is cordoned, updated, and put back only once it runs the target
// and passes checks, and the next one starts as soon as one is back (Wave.window), with no barrier
// between batches. Groups roll side by side: wave i holds every group's i-th batch; the batches are the
// window's order of work and what the model (simulate.ts) checks, not points the run waits at.

import type { PlanInput, Step } from '../domain/plan.js';
import { resolveBudget } from '../domain/types.js';
import { isAvailable, type FleetView } from './fleet-view.js';
import { PlanError } from './plan-error.js';
import {
  chunk,
  create,
  destroy,
  plural,
  refOf,
  shed,
  update,
  zipGroups,
  type DraftWave,
  type StrategyResult,
} from './steps.js';

export interface RollingResult extends StrategyResult {
  /** Groups that get in-place updates (canary puts one canary in each of them). */
  updatedGroups: Set<string>;
  /** Groups where a serving machine of this deploy on the target stays (is not shed): rolling has begun. */
  begunGroups: Set<string>;
}

export function planRolling(input: PlanInput, view: FleetView): RollingResult {
  const target = input.target.version;
  const prelude: Step[] = [];
  const perGroup: Step[][][] = [];
  const updatedGroups = new Set<string>();
  const begunGroups = new Set<string>();
  const notes: string[] = [];
  // Per group, its slack when the window opens (after the spearhead wave): machines in traffic then
  // minus (desired − max_unavailable).
  const window: Record<string, number> = {};

  for (const g of view.groups) {
    const surplus = g.done.length + g.old.length - g.desired;
    const { destroyed, old, done } = shed(g, surplus);
    for (const m of destroyed) prelude.push(destroy(refOf(m), g.name, true));
    if ([...done, ...old].some((m) => m.deployId === input.deployId && m.release === target && m.state !== 'failed'))
      begunGroups.add(g.name);
    const budget = resolveBudget(input.settings.maxUnavailable, g.desired);
    // Refused whatever the fleet looks like (not only when this fleet has machines to update), so a
    // dry-run and every re-plan of a deploy agree.
    if (g.desired > 0 && budget === 0) {
      throw new PlanError(
        `rolling cannot update group "${g.name}": max_unavailable resolves to 0 machines of ${g.desired}, so no machine may leave traffic; ` +
          `set max_unavailable to at least 1 (or a fraction such as 0.25), or use waves to replace machines with surge capacity`,
      );
    }
    const updates = old.map((m) => update(m, target, true, 'checks'));
    if (updates.length > 0) updatedGroups.add(g.name);
    const waves: Step[][] = [];
    // Machines in traffic beyond desired − max_unavailable: how many more may leave it now.
    const slack = done.filter(isAvailable).length + old.filter(isAvailable).length - (g.desired - budget);
    // What the spearhead wave adds to traffic by the time the window opens.
    let joining = 0;
    if (surplus < 0) {
      // Too few machines: the new ones (checked before they serve) lead the group instead of a spearhead,
      // so the group is at its desired size before any machine leaves traffic.
      const creates: Step[] = [];
      for (let i = surplus; i < 0; i++)
        creates.push(create(view.launchIds.allocate(g.name, 'serving'), g.name, target, 'serving', true));
      waves.push(creates, ...chunk(updates, budget));
      joining = creates.length;
    } else if (updates.length > 0) {
      // The spearhead proves the release on one machine: a healthy one on another release when there is
      // one (a machine that was already failing would prove little), so it costs one machine of capacity
      // — unless the group has no slack left (machines already out of traffic use up max_unavailable):
      // then it is the first machine out of traffic, which costs none.
      const healthy = old.findIndex(
        (m) => m.release !== target && isAvailable(m) && m.state === 'started' && m.health === 'passing',
      );
      const pick = slack > 0 ? Math.max(0, healthy) : 0;
      waves.push([updates[pick]!], ...chunk([...updates.slice(0, pick), ...updates.slice(pick + 1)], budget));
      if (!isAvailable(old[pick]!)) joining = 1;
    }
    if (waves.length > 0) {
      // The window opens once the spearhead wave is done: its machines are back in traffic or new in it.
      // Machines out of traffic then cost no slot and add one once checked (Wave.window).
      window[g.name] = slack + joining;
      notes.push(
        `${g.name}: ${plural(updates.length, 'update')}${surplus < 0 ? `, ${plural(-surplus, 'new machine')}` : ''}, a window of at most ${budget} out of traffic`,
      );
    }
    perGroup.push(waves);
  }

  const waves: DraftWave[] = zipGroups(perGroup).map((steps, i) => {
    const updates = steps.filter((s) => s.kind === 'update').length;
    const creates = steps.length - updates;
    if (i === 0) {
      if (updates === 0)
        return { kind: 'create', label: `create ${plural(creates, 'machine')} (checked before they serve)`, steps };
      return {
        kind: 'spearhead',
        label: `spearhead: ${plural(updates, 'machine')}${creates ? ` and ${plural(creates, 'new machine')}` : ''}, checked before the batches`,
        steps,
      };
    }
    return { kind: 'batch', label: `batch ${i}: ${plural(updates, 'machine')}`, steps, window };
  });
  return { waves, prelude, notes, updatedGroups, begunGroups };
}
