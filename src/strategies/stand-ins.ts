// Which machine a new machine stands in for. A green replaces a blue, a surge machine the old machine
// destroyed in its place, a canary the group's spearhead: the new machine belongs in that machine's
// region (DESIGN.md, "Machines as the platform has them"), and, when volumes may be forked, gets forks
// of its volumes. Pure.

import type { CreateStep } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';

/**
 * The machines `n` new machines stand in for, in order: `replaced` (the machines the new ones take the
 * place of), skipping, region by region, one replaced machine for every machine already standing in
 * there (`covered`: adopted extras, reused machines), so that re-planning keeps each region's count.
 * Beyond the replaced machines (the group grows) a new machine stands in for nobody.
 */
export function pairStandIns(
  replaced: readonly Machine[],
  covered: readonly Machine[],
  n: number,
): (Machine | undefined)[] {
  const cover = new Map<string, number>();
  for (const m of covered) cover.set(regionKey(m), (cover.get(regionKey(m)) ?? 0) + 1);
  const open: Machine[] = [];
  for (const m of replaced) {
    const left = cover.get(regionKey(m)) ?? 0;
    if (left > 0) cover.set(regionKey(m), left - 1);
    else open.push(m);
  }
  const out: (Machine | undefined)[] = [];
  for (let i = 0; i < n; i++) out.push(open[i]);
  return out;
}

/** The create, standing in for `source` when there is one. */
export function standingIn(step: CreateStep, source: Machine | undefined): CreateStep {
  return source === undefined ? step : { ...step, standsFor: source.id };
}

function regionKey(m: Machine): string {
  return m.region ?? '';
}
