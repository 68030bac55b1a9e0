// Regions rolled in order (settings.regionOrder, e.g. ["ord", "*"]): the fleet is split into phases,
// one per named region that has machines and one for every other region (`*`, last when not named),
// and the strategy plans each phase on its own machines. A phase's waves finish — every machine of the
// region on the target and checked — before the next phase's start, and waves of different phases
// never run as one flow (Wave.regions), so an abort between regions leaves the later ones untouched.
//
// A phase other than the last keeps the number of serving machines its regions have; the last phase
// takes whatever the groups' desired counts still need (growing or shrinking happens there). Pure.

import type { PlanInput } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';
import type { DraftWave } from './steps.js';

/** Region of machines whose provider has none. */
export const NO_REGION = '';

export interface RegionPhase {
  /** Regions of the phase, sorted; `NO_REGION` for machines without one. */
  regions: string[];
  input: PlanInput;
}

/** The phases of a plan; one phase with every machine (and no regions) when there is no order to keep. */
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

  const serving = (m: Machine, group: string) => mine(m) && m.role === 'serving' && m.group === group && m.state !== 'destroying' && m.state !== 'destroyed';
  const kept = new Map<string, number>();
  return merged.map((regions, i) => {
    const inPhase = new Set(regions);
    const last = i === merged.length - 1;
    const groups = input.groups.map((g) => {
      const here = input.fleet.filter((m) => serving(m, g.name) && inPhase.has(regionOf(m))).length;
      const count = last ? Math.max(0, g.count - (kept.get(g.name) ?? 0)) : Math.min(here, Math.max(0, g.count - (kept.get(g.name) ?? 0)));
      kept.set(g.name, (kept.get(g.name) ?? 0) + count);
      return { ...g, count };
    });
    const fleet = input.fleet.filter((m) => !mine(m) || inPhase.has(regionOf(m)));
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
    steps: last ? w.steps : w.steps.map((s) => (s.kind === 'update' && s.gate === 'none' ? { ...s, gate: 'checks' as const } : s)),
  }));
}
