// Process groups whose machines have volumes (DESIGN.md: a machine is never given without its volume).
//
// A volume belongs to one machine, in one region. A machine created to stand in for another (green,
// surge, canary) would start without the data, so unless the configuration says how new volumes are
// made (settings.newVolumes = fork: each stand-in gets forks of the volumes of the machine it stands in
// for), such a group rolls in place under every strategy: bluegreen and waves roll it like rolling
// (one machine at a time when their max_unavailable is 0), canary gives it no canary. A group with
// volumes that must grow gets new machines only with forks; otherwise the plan is refused. Pure.

import type { PlanInput, Step } from '../domain/plan.js';
import type { Machine, StrategySettings } from '../domain/types.js';
import { isGone, type FleetView, type GroupView } from './fleet-view.js';
import { PlanError } from './plan-error.js';
import { planRolling } from './rolling.js';
import { destroy, plural, refOf, type DraftWave, type StrategyResult } from './steps.js';

export function hasVolumes(m: Machine): boolean {
  return (m.volumes?.length ?? 0) > 0;
}

/**
 * Desired groups with a machine of the environment that has volumes, whatever its role or region: the
 * group's machines mount volumes, so none of its new machines may start without one.
 */
export function volumeGroups(input: PlanInput): Set<string> {
  const desired = new Set(input.groups.map((g) => g.name));
  const out = new Set<string>();
  for (const m of input.fleet) {
    if (
      m.app === input.app &&
      m.env === input.env &&
      m.role !== 'release-command' &&
      m.state !== 'destroyed' &&
      desired.has(m.group) &&
      hasVolumes(m)
    )
      out.add(m.group);
  }
  return out;
}

/** Groups the strategy must roll in place: it would stand machines in for them, and no volume may be forked. */
export function inPlaceGroups(settings: StrategySettings, groups: ReadonlySet<string>): Set<string> {
  if (settings.newVolumes === 'fork') return new Set();
  if (settings.strategy !== 'bluegreen' && settings.strategy !== 'waves') return new Set();
  return new Set(groups);
}

/**
 * Roll `groups` in place, as rolling does, within max_unavailable — one machine at a time when it is 0
 * (bluegreen's and waves' default): a machine with its volume out of traffic for a moment, rather than a
 * machine without it. Extras this deploy left in those groups are destroyed first.
 */
export function planInPlace(input: PlanInput, view: FleetView, groups: ReadonlySet<string>): StrategyResult {
  const mu = input.settings.maxUnavailable;
  const oneAtATime = 'count' in mu && mu.count === 0;
  const sub: FleetView = { ...view, groups: view.groups.filter((g) => groups.has(g.name)) };
  const settings: StrategySettings = oneAtATime ? { ...input.settings, maxUnavailable: { count: 1 } } : input.settings;
  const rolled = planRolling({ ...input, settings }, sub);
  const prelude: Step[] = [...rolled.prelude];
  for (const g of sub.groups) for (const m of g.adoptable) prelude.push(destroy(refOf(m), g.name, false));
  const names = [...groups].join(', ');
  const notes =
    rolled.waves.length === 0
      ? []
      : [
          `${names} ${groups.size === 1 ? 'has' : 'have'} volumes: rolled in place (${oneAtATime ? 'one machine at a time' : 'within max_unavailable'}) before the rest, ` +
            `since ${input.settings.strategy} would create machines without their volumes; set new_volumes = "fork" to give new machines forks of the volumes instead`,
        ];
  notes.push(...rolled.notes);
  const waves: DraftWave[] = rolled.waves.map((w) => ({ ...w, label: `${names} in place: ${w.label}` }));
  return { waves, prelude, notes };
}

/**
 * Check and complete the creates of a plan for groups with volumes: with forks allowed, every new
 * machine of such a group gets forks of the volumes of the machine it stands in for (a machine of the
 * group, round robin, when the group grows); without, a new machine there is refused. Creates of
 * machines that exist already (adopted extras, re-gated) are left alone.
 */
export function completeCreates(
  input: PlanInput,
  view: FleetView,
  waves: DraftWave[],
  groups: ReadonlySet<string>,
  everywhere: readonly Machine[],
): DraftWave[] {
  if (groups.size === 0) return waves;
  const fork = input.settings.newVolumes === 'fork';
  const existing = new Set(input.fleet.map((m) => m.launchId).filter((l): l is string => l !== undefined));
  const byId = new Map(input.fleet.map((m) => [m.id, m]));
  // Forks come from a machine of the scope (its region phase) when there is one, else from anywhere.
  const sources = new Map(view.groups.map((g) => [g.name, withVolumes(g)]));
  for (const [group, list] of sources)
    if (list.length === 0)
      sources.set(
        group,
        everywhere.filter((m) => m.group === group && m.role === 'serving' && hasVolumes(m) && !isGone(m)),
      );
  const turn = new Map<string, number>();
  const refused = new Map<string, number>();
  const orphans = new Map<string, number>();
  const out = waves.map((w) => ({
    ...w,
    steps: w.steps.map((s): Step => {
      if (s.kind !== 'create' || !groups.has(s.group) || existing.has(s.launchId)) return s;
      if (!fork) {
        refused.set(s.group, (refused.get(s.group) ?? 0) + 1);
        return s;
      }
      const stood = s.standsFor !== undefined ? byId.get(s.standsFor) : undefined;
      if (stood && hasVolumes(stood)) return { ...s, forkVolumes: true };
      // Forks from a machine of the group in the stood-in machine's region when there is one, so the new machine stays there.
      const all = sources.get(s.group) ?? [];
      const local = stood ? all.filter((m) => m.region === stood.region) : [];
      const pool = local.length > 0 ? local : all;
      if (pool.length === 0) {
        orphans.set(s.group, (orphans.get(s.group) ?? 0) + 1);
        return s;
      }
      const n = turn.get(s.group) ?? 0;
      turn.set(s.group, n + 1);
      return { ...s, standsFor: pool[n % pool.length]!.id, forkVolumes: true };
    }),
  }));
  if (refused.size > 0) {
    const [group, n] = [...refused][0]!;
    throw new PlanError(
      `process group "${group}" has volumes and the plan needs ${plural(n, 'new machine')} there, which would start without them; ` +
        `set new_volumes = "fork" to give each new machine forks of the volumes of a machine of the group, ` +
        `or create the machines with their volumes first (fly volumes create, fly machine clone)`,
    );
  }
  if (orphans.size > 0) {
    const [group, n] = [...orphans][0]!;
    throw new PlanError(
      `process group "${group}" has volumes and the plan needs ${plural(n, 'new machine')} there, but no serving machine of the group has a volume to fork; ` +
        `create the machines with their volumes first (fly volumes create, fly machine clone)`,
    );
  }
  return out;
}

/** Serving machines of a group that have volumes: where a new machine's forks come from (extras may be destroyed first). */
function withVolumes(g: GroupView): Machine[] {
  return [...g.done, ...g.old].filter(hasVolumes);
}
