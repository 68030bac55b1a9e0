// Regions rolled in order (settings.regionOrder, e.g. ["ord", "*"]): the fleet is split into phases,
// one per named region that has machines and one for every other region (`*`, last when not named),
// and the strategy plans each phase on its own machines. A phase's waves finish — every machine of the
// region on the target and checked — before the next phase's start, and waves of different phases
// never run as one flow (Wave.regions), so an abort between regions leaves the later ones untouched.
//
// Each phase keeps the number of serving machines its regions have. A group that grows does so in the
// first phase (new machines that fork volumes find every machine to fork from still there); one that
// shrinks keeps phases whole in order while its desired count lasts, so the last regions shed. Pure.

import type { PlanInput } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';
import type { DraftWave } from './steps.js';

/** Region of machines whose provider has none. */
export const NO_REGION = '';

/**
 * The phases of a plan, each with its regions (sorted; `NO_REGION` for machines without one) and its
 * part of the input; one phase with every machine (and no regions) when there is no order to keep.
 */
export function regionPhases(input: PlanInput): { regions?: string[]; input: PlanInput }[] {
  const order = input.settings.regionOrder;
  if (!order || order.length === 0) return [{ input }];
  const mine = (m: Machine) => m.app === input.app && m.env === input.env;
  const present = new Set(input.fleet.filter((m) => mine(m) && m.state !== 'destroyed').map(regionOf));
  const named = order.filter((r) => r !== '*');
  const rest = [...present].filter((r) => !named.includes(r)).sort();
  const phases: string[][] = [];
  for (const entry of new Set(order.includes('*') ? order : [...order, '*'])) {
    if (entry === '*') phases.push(rest);
    else if (present.has(entry)) phases.push([entry]);
  }
  const merged = phases.filter((p) => p.length > 0);
  if (merged.length <= 1) return [{ input }];

  const serving = (m: Machine, group: string) =>
    mine(m) && m.role === 'serving' && m.group === group && m.state !== 'destroying' && m.state !== 'destroyed';
  const sets = merged.map((regions) => new Set(regions));
  // A stand-in of this deploy already serving (a promoted surge machine, a green after its cutover) next
  // to an old machine it will replace counts once: an interrupted region re-planned keeps its size.
  const standIn = (m: Machine) => m.deployId === input.deployId && /:(surge|green):\d+$/.test(m.launchId ?? '');
  const counts = input.groups.map((g) => {
    const here = sets.map((set) => {
      const list = input.fleet.filter((m) => serving(m, g.name) && set.has(regionOf(m)));
      const doubled = Math.min(
        list.filter(standIn).length,
        list.filter((m) => m.release !== input.target.version).length,
      );
      return list.length - doubled;
    });
    const total = here.reduce((a, b) => a + b, 0);
    // Growing: in the first phase, so the machines new ones may fork volumes from are all still there.
    if (g.count >= total) return here.map((n, i) => (i === 0 ? n + g.count - total : n));
    // Shrinking: phases keep their machines in order while the desired count lasts; later ones shed.
    let left = g.count;
    return here.map((n) => {
      const keep = Math.min(n, left);
      left -= keep;
      return keep;
    });
  });
  return merged.map((regions, i) => {
    const groups = input.groups.map((g, j) => ({ ...g, count: counts[j]![i]! }));
    const fleet = input.fleet.filter((m) => !mine(m) || sets[i]!.has(regionOf(m)));
    const settings = i === 0 ? input.settings : { ...input.settings, pauseBeforeCutover: false };
    return { regions, input: { ...input, fleet, groups, settings } };
  });
}

export function regionOf(m: Machine): string {
  return m.region ?? NO_REGION;
}

/** `ord`, `iad+cdg`, or `machines without a region`. */
export function regionsLabel(regions: readonly string[]): string {
  const named = regions.filter((r) => r !== NO_REGION);
  if (named.length === 0) return 'machines without a region';
  return named.join('+') + (named.length < regions.length ? ' (and machines without a region)' : '');
}

/**
 * The waves of one phase, marked with its regions. A phase before the last is verified: immediate's
 * dispatched updates wait for checks there, so the next region starts only once this one passes them.
 */
export function phaseWaves(waves: readonly DraftWave[], regions: readonly string[], last: boolean): DraftWave[] {
  const label = regionsLabel(regions);
  return waves.map((w) => ({
    ...w,
    label: `${label}: ${w.label}`,
    regions: [...regions],
    steps: last
      ? w.steps
      : w.steps.map((s) => (s.kind === 'update' && s.gate === 'none' ? { ...s, gate: 'checks' as const } : s)),
  }));
}
