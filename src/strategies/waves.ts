// waves: bluegreen's guarantee without doubling the pool.
//
// Per process group of desired size D, with S = max_surge (capped so the fleet-wide total stays within
// the connection budget, split fairly) and U = max_unavailable, and k old machines in traffic:
//
//   1. surge wave: s = min(S, k) new machines on the target (role `surge`; plus any the group lacks to
//      reach D), created cordoned, gated on checks, and promoted into traffic only once they pass.
//      Nothing old is touched yet, so a broken release is caught on machines that carry no traffic —
//      the surge wave is a free canary.
//   2. replacement waves: old machines already out of traffic (failed, or left cordoned by an interrupted
//      step) are updated first — they cost no capacity, so they ride on top of any budget. Of the k in
//      traffic, k − s are updated in place (cordon, update, checks, uncordon) and s are destroyed
//      (drain): the surge machines took their place. A wave takes out at most U plus the machines in
//      traffic beyond D — s + U while the surge is in — so at least D − U keep serving.
//
// Better than the textbook "batches of s + U updates, then a final destroy wave": a destroy is just
// another way of taking one old machine out, so the destroys go into the batches, last (while they are
// pending the surge capacity is still there, which is what lets each wave take s + U out; it shrinks by
// one with each destroy, exactly as the extras do). That needs ceil(k / (s + U)) replacement waves
// instead of ceil((k − s) / (s + U)) + 1 — one fewer whenever the last batch has room for the destroys,
// never more — and no wave can do better, since at most s + U of the k machines can be out at once.
//
// Guarantees, per group, by construction (and checked on the model fleet by the property tests):
//   - extras: never more than S machines beyond D once leftovers are cleaned up (the plan's first wave);
//     fleet-wide never more than maxExtraTotal;
//   - capacity: a wave takes at most U machines below D out of traffic (beyond those already out);
//   - no new machine serves before it passes checks; every old machine is updated or destroyed once.
//
// When the connection budget is too small for every group with max_unavailable 0 to get a surge machine,
// groups take turns (phases): a later group waits until the earlier ones are done and their extras gone.
//
// Level-triggered: serving machines in traffic beyond D (surge machines promoted by an earlier run of
// this plan, or an oversized group) are kept as surge capacity up to S instead of being destroyed and
// re-created, and this deploy's surge machines are adopted, so re-planning continues where it stopped.

import type { CreateStep, MachineRef, PlanInput, Step } from '../domain/plan.js';
import { resolveBudget, type Machine } from '../domain/types.js';
import { isAvailable, isChecked, type FleetView, type GroupView } from './fleet-view.js';
import { PlanError } from './plan-error.js';
import { pairStandIns, standingIn } from './stand-ins.js';
import {
  create,
  destroy,
  interleaveByShare,
  plural,
  refOf,
  regate,
  shed,
  update,
  zipGroups,
  type DraftWave,
  type StrategyResult,
} from './steps.js';

/**
 * Max-min fair split of `total` across demands (water-filling): every group gets min(demand, level) for
 * a common level; leftover units go one each to unsaturated groups in order. Deterministic.
 */
export function fairSplit(demands: readonly number[], total: number): number[] {
  const alloc = demands.map(() => 0);
  let remaining = Math.max(0, Math.floor(total));
  let active = demands.map((_, i) => i).filter((i) => demands[i]! > 0);
  while (remaining > 0 && active.length > 0) {
    const share = Math.floor(remaining / active.length);
    if (share === 0) {
      for (const i of active.slice(0, remaining)) alloc[i]!++;
      break;
    }
    for (const i of active) {
      const give = Math.min(share, demands[i]! - alloc[i]!);
      alloc[i]! += give;
      remaining -= give;
    }
    active = active.filter((i) => alloc[i]! < demands[i]!);
  }
  return alloc;
}

/**
 * Split `total` extra machines: first each tier of floors in turn (group order, while units remain, never
 * beyond a group's demand), then the rest fairly (fairSplit).
 */
export function allocate(demands: readonly number[], total: number, tiers: readonly (readonly number[])[]): number[] {
  let remaining = Math.max(0, Math.floor(total));
  const alloc = demands.map(() => 0);
  for (const floors of tiers) {
    demands.forEach((demand, i) => {
      const give = Math.max(0, Math.min((floors[i] ?? 0) - alloc[i]!, demand - alloc[i]!, remaining));
      alloc[i]! += give;
      remaining -= give;
    });
  }
  const rest = fairSplit(
    demands.map((d, i) => d - alloc[i]!),
    remaining,
  );
  return alloc.map((a, i) => a + rest[i]!);
}

interface GroupPlan {
  prelude: Step[];
  surge: Step[];
  promote: MachineRef[];
  replace: Step[][];
  /**
   * The group's slack when the flow starts: machines in traffic − (desired − U). New machines add to
   * it as they are promoted (Wave.window), so the replacement of old machines starts with the first
   * surge machine in traffic, not after the whole surge wave.
   */
  window: number;
  surgeCount: number;
  kept: number;
}

export function planWaves(input: PlanInput, view: FleetView): StrategyResult {
  const { settings } = input;
  const notes: string[] = [];
  const waves: DraftWave[] = [];
  const prelude: Step[] = [];
  const capacity: string[] = [];

  // Surge per group: max_surge of the group, useful only for old machines in traffic (one out of
  // traffic is updated at no cost to capacity).
  const wanted = view.groups.map((g) =>
    g.done.length >= g.desired
      ? 0
      : Math.min(resolveBudget(settings.maxSurge, g.desired), g.old.filter(isAvailable).length),
  );
  const noUnavailable = view.groups.map((g) => resolveBudget(settings.maxUnavailable, g.desired) === 0);
  const holdings = view.groups.map((g) => {
    const inTraffic = g.old.filter(isAvailable).length;
    return g.adoptable.length + Math.max(0, Math.min(g.done.length + g.old.length - g.desired, inTraffic));
  });

  // Groups roll side by side. When the connection budget is too small to give every group that may not
  // take a machine out of traffic (max_unavailable 0) a surge machine, those left without one wait for a
  // later phase: the groups before them end with no extras, so the whole budget is theirs then.
  let pending = view.groups.map((_, i) => i);
  for (let phase = 1; pending.length > 0; phase++) {
    // Extra machines a group already holds (surge machines of this deploy, serving machines beyond its
    // count) stay its own first; then a group with max_unavailable 0 gets its first surge machine; then
    // the rest is shared fairly.
    const allowed =
      settings.maxExtraTotal === undefined
        ? pending.map((i) => wanted[i]!)
        : allocate(
            pending.map((i) => wanted[i]!),
            settings.maxExtraTotal,
            [pending.map((i) => (phase === 1 ? holdings[i]! : 0)), pending.map((i) => (noUnavailable[i] ? 1 : 0))],
          );
    const now: number[] = [];
    const later: number[] = [];
    pending.forEach(
      (i, j) => ((noUnavailable[i] && wanted[i]! > 0 && allowed[j] === 0 ? later : now).push(i), undefined),
    );
    // Nothing fits at all: let the first group explain why (planGroup throws the PlanError).
    if (now.length === 0) now.push(later.shift()!);
    const budget = new Map(pending.map((i, j) => [i, allowed[j]!]));
    const wantedNow = now.reduce((n, i) => n + wanted[i]!, 0);
    const allowedNow = now.reduce((n, i) => n + budget.get(i)!, 0);
    if (allowedNow < wantedNow) {
      notes.push(
        `${pending.length < view.groups.length ? `phase ${phase}: ` : ''}surge lowered from ${wantedNow} to ${allowedNow} extra machines in total ` +
          `(${now.map((i) => `${view.groups[i]!.name} ${budget.get(i)}`).join(', ')}) — ${settings.surgeReason ?? `at most ${settings.maxExtraTotal} extra machines`}`,
      );
    }
    if (later.length > 0) {
      notes.push(
        `${later.map((i) => view.groups[i]!.name).join(', ')} wait${later.length === 1 ? 's' : ''} until ${now.map((i) => view.groups[i]!.name).join(', ')} ${now.length === 1 ? 'is' : 'are'} done: the connection budget has no surge machine left for ${later.length === 1 ? 'it' : 'them'} and max_unavailable is 0`,
      );
    }

    // Groups of a later phase hold nothing while earlier ones roll: they start from scratch in their phase.
    const plans = now.map((i) => planGroup(input, view, view.groups[i]!, budget.get(i)!, phase > 1));
    prelude.push(...plans.flatMap((p) => p.prelude));
    // Creates share one rate limit per app (Fly: 1/s): interleaved in proportion to each group's surge,
    // every group's window opens at its share of that rate, so the groups finish together instead of
    // the last group starting its replacement only once every other group's surge is in.
    const surge = interleaveByShare(plans.map((p) => p.surge));
    const promote = plans.flatMap((p) => p.promote);
    if (promote.length > 0) surge.push({ kind: 'cutover', promote, cordon: [] });
    // The surge and replacement waves of a phase run as one flow with a window per group (Wave.window):
    // an old machine's replacement starts as soon as its group has slack, i.e. with the first surge
    // machine in traffic, not when the slowest machine of the wave before is done.
    const window = Object.fromEntries(now.map((i, j) => [view.groups[i]!.name, plans[j]!.window]));
    if (settings.analysisSpearhead) {
      // One new machine per group goes into traffic alone first, for analysis to judge; it is slack
      // of its group's window by the time the flow starts.
      const first = analysisSpearhead(surge);
      if (first.length > 0) {
        for (const step of first) window[step.group] = (window[step.group] ?? 0) + 1;
        surge.splice(0, surge.length, ...surge.filter((st) => !first.includes(st as CreateStep)));
        waves.push({
          kind: 'spearhead',
          label: `spearhead: ${plural(first.length, 'surge machine')} on ${input.target.version} in traffic first, analysed before the rest`,
          steps: first,
        });
      }
    }
    if (surge.length > 0) {
      const creates = surge.filter((st) => st.kind === 'create').length;
      waves.push({
        kind: 'surge',
        label: `surge: ${plural(creates + promote.length, 'new machine')} on ${input.target.version}, into traffic once checked`,
        steps: surge,
        window,
      });
    }
    for (const steps of zipGroups(plans.map((p) => p.replace))) {
      const updates = steps.filter((st) => st.kind === 'update').length;
      const destroys = steps.length - updates;
      const parts = [
        updates ? plural(updates, 'update') : '',
        destroys ? `${plural(destroys, 'old machine')} destroyed` : '',
      ].filter(Boolean);
      waves.push({ kind: updates > 0 ? 'batch' : 'destroy', label: parts.join(', '), steps, window });
    }
    now.forEach((i, j) => {
      const p = plans[j]!;
      if (p.surgeCount + p.kept > 0)
        capacity.push(
          `${view.groups[i]!.name} ${p.surgeCount + p.kept}${p.kept ? ` (${p.kept} already serving)` : ''}`,
        );
    });
    pending = later;
  }
  if (capacity.length > 0) notes.push(`surge capacity: ${capacity.join(', ')}`);
  return { waves, prelude, notes };
}

function planGroup(
  input: PlanInput,
  view: FleetView,
  g: GroupView,
  surgeBudget: number,
  holdNothing: boolean,
): GroupPlan {
  const target = input.target.version;
  const unavailable = resolveBudget(input.settings.maxUnavailable, g.desired);
  const prelude: Step[] = [];
  const d = g.done.length;
  const surplus = d + g.old.length - g.desired;

  // Serving machines beyond D are capacity already in traffic: keep up to the surge budget of them as
  // surge (they are destroyed last), shed the rest now — those out of traffic first, as they add no
  // capacity. With d ≥ D nothing is updated: all old go now.
  const kept =
    d >= g.desired || holdNothing ? 0 : Math.max(0, Math.min(surplus, surgeBudget, g.old.filter(isAvailable).length));
  const { destroyed, old } = shed(g, Math.max(0, surplus - kept));
  for (const m of destroyed) prelude.push(destroy(refOf(m), g.name, true));

  // Each surge machine stands in for one old machine in traffic, which is then destroyed instead of updated.
  const deficit = Math.max(0, -surplus);
  const inTraffic = old.filter(isAvailable).length;
  const surgeCount = Math.max(0, Math.min(surgeBudget - kept, inTraffic - kept));
  const fresh = deficit + surgeCount;

  // New machines: adopted surge machines of this deploy first, then new launches.
  const surge: Step[] = [];
  const promote: MachineRef[] = [];
  const adoptable = holdNothing ? [] : g.adoptable;
  for (const m of g.adoptable.slice(adoptable.length)) prelude.push(destroy(refOf(m), g.name, false));
  adoptable.forEach((m, i) => {
    if (i >= fresh) prelude.push(destroy(refOf(m), g.name, false));
    else if (isChecked(m, target)) promote.push(refOf(m));
    else surge.push(regate(m, 'surge', true));
  });
  const adopted = Math.min(fresh, adoptable.length);
  // Old machines to destroy: one per machine in traffic beyond D once the surge is in. Each new surge
  // machine stands in for one of them (scheduleReplacement destroys the last of those in traffic).
  const toDestroy = kept + surgeCount;
  const busy = old.filter(isAvailable);
  const replaced = busy.slice(busy.length - Math.min(busy.length, toDestroy));
  const newSurge = Math.max(0, Math.min(fresh, surgeCount) - adopted);
  const standIns = pairStandIns(replaced, adoptable.slice(0, adopted), newSurge);
  for (let i = adopted; i < fresh; i++) {
    const role = i < surgeCount ? 'surge' : 'serving';
    const step = create(view.launchIds.allocate(g.name, role), g.name, target, role, true);
    surge.push(role === 'surge' ? standingIn(step, standIns[i - adopted]) : step);
  }

  if (inTraffic > toDestroy && unavailable + toDestroy === 0) {
    throw new PlanError(
      `waves cannot replace group "${g.name}": max_surge allows 0 extra machines` +
        (input.settings.maxExtraTotal !== undefined
          ? ` (after the connection budget of ${plural(input.settings.maxExtraTotal, 'extra machine')} in total)`
          : '') +
        ` and max_unavailable resolves to 0, so no machine may leave traffic; raise max_surge, the connection budget, or max_unavailable`,
    );
  }
  const replace = scheduleReplacement(target, g.desired, unavailable, old, toDestroy, d + fresh);
  const doneInTraffic = g.done.filter((m) => isAvailable(m) && !destroyed.includes(m)).length;
  const window = unavailable + doneInTraffic + old.filter(isAvailable).length - g.desired;
  return { prelude, surge, promote, replace, window, surgeCount, kept };
}

/**
 * Order and pack the old machines into waves. `old` is sorted out-of-traffic first; `inTraffic0` counts
 * the group's machines in traffic other than `old` once the surge is in (done + new). Machines out of
 * traffic are updated first and cost nothing; the `toDestroy` machines the surge stands in for are
 * machines in traffic (there are always enough), destroyed last so the surge capacity lasts.
 */
function scheduleReplacement(
  target: string,
  desired: number,
  unavailable: number,
  old: Machine[],
  toDestroy: number,
  inTraffic0: number,
): Step[][] {
  const idle = old.filter((m) => !isAvailable(m));
  const busy = old.filter((m) => isAvailable(m));
  const free: Step[] = idle.map((m) => update(m, target, true, 'checks'));
  const costly: Step[] = [
    ...busy.slice(0, busy.length - toDestroy).map((m) => update(m, target, true, 'checks')),
    ...busy.slice(busy.length - toDestroy).map((m) => destroy(refOf(m), m.group, true)),
  ];

  const waves: Step[][] = [];
  let inTraffic = inTraffic0 + busy.length;
  let next = 0;
  let pendingFree = free;
  while (pendingFree.length > 0 || next < costly.length) {
    // Take out at most U plus whatever serves beyond the desired count.
    const budget = unavailable + Math.max(0, inTraffic - desired);
    const take = costly.slice(next, next + budget);
    if (pendingFree.length === 0 && take.length === 0)
      throw new Error(`waves: no capacity to replace ${old[0]?.group} (internal)`);
    waves.push([...pendingFree, ...take]);
    inTraffic += pendingFree.length - take.filter((s) => s.kind === 'destroy').length;
    next += take.length;
    pendingFree = [];
  }
  return waves;
}

/** The first new machine of each group that goes into traffic once checked. */
function analysisSpearhead(surge: readonly Step[]): CreateStep[] {
  const seen = new Set<string>();
  const first: CreateStep[] = [];
  for (const step of surge) {
    if (step.kind !== 'create' || !step.promote || seen.has(step.group)) continue;
    seen.add(step.group);
    first.push(step);
  }
  return first;
}
