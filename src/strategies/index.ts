// Strategies are pure plan builders (DESIGN.md, architecture 1): observed fleet + target + settings →
// ordered waves of steps. Plans are level-triggered: built from what the fleet is now, so rebuilding
// the plan of a deploy after a crash yields only the remaining work.
//
// Rules shared by every strategy, per desired process group:
// - serving machines on the target, not failed and in traffic are done: no step;
// - serving machines on another release, failed, or left cordoned are updated or replaced, once;
// - too few serving machines: new ones are created cordoned, gated on checks, then promoted;
//   too many: the surplus is destroyed (drained), machines that need work first;
// - extra machines (green/canary/surge) of this deploy on the target are adopted; any other extra is a
//   leftover, destroyed (no drain: it carries no traffic) in the first wave — in a wave of its own when
//   the first wave creates machines, so new and leftover extras never coexist;
// - serving machines of groups no longer configured are destroyed (drained) at the end.

import type { Plan, PlanInput, Step, Wave } from '../domain/plan.js';
import { STRATEGIES, type Machine, type StrategyName } from '../domain/types.js';
import { planBluegreen } from './bluegreen.js';
import { planCanary } from './canary.js';
import { estimatePlan } from './estimate.js';
import { viewFleet, type ExtraRole, type FleetView, type LeftoverReason } from './fleet-view.js';
import { planImmediate } from './immediate.js';
import { PlanError } from './plan-error.js';
import { planRolling } from './rolling.js';
import { count, destroy, plural, refOf, type DraftWave, type StrategyResult } from './steps.js';
import { phaseWaves, regionOf, regionPhases, regionsLabel } from './regions.js';
import { planWaves } from './waves.js';
import { completeCreates, inPlaceGroups, planInPlace, volumeGroups } from './volumes.js';

export { PlanError } from './plan-error.js';
export { API_CALL_COSTS, countApiCalls, stepApiCalls } from './api-calls.js';
export { estimatePlan } from './estimate.js';
export { applyPlanToModel, simulatePlan, type ModelRun, type ModelWave, type GroupMoment } from './simulate.js';
export { formatPlan, type FormatPlanOptions } from './format-plan.js';

const STRATEGY: Record<
  StrategyName,
  { adopt?: ExtraRole; plan: (input: PlanInput, view: FleetView, noExtras: ReadonlySet<string>) => StrategyResult }
> = {
  immediate: { plan: planImmediate },
  rolling: { plan: planRolling },
  bluegreen: { adopt: 'green', plan: planBluegreen },
  canary: { adopt: 'canary', plan: planCanary },
  waves: { adopt: 'surge', plan: planWaves },
};

/** Wave kinds the leftover destroys may join (they hold no creates and no cutover). */
const JOINABLE = new Set<Wave['kind']>(['dispatch', 'spearhead', 'batch', 'destroy']);

export function buildPlan(input: PlanInput): Plan {
  validate(input);
  const { strategy } = input.settings;
  const spec = STRATEGY[strategy];
  const view = viewFleet(input, spec.adopt);
  const phases = regionPhases(input);
  // Groups with volumes are known from the whole fleet: a region phase without them is still such a group.
  const withVolumes = volumeGroups(input);
  const drafts: DraftWave[] = [];
  const notes: string[] = [];
  if (phases.length === 1) {
    const part = planScope(input, view, withVolumes, input.fleet, true);
    drafts.push(...part.drafts);
    notes.push(...part.notes);
  } else {
    const cleanup = phasedCleanup(input, view, phases, withVolumes);
    if (cleanup.length > 0)
      drafts.push({
        kind: 'destroy',
        label: `clean up: destroy ${plural(cleanup.length, 'leftover machine')} (every region)`,
        steps: cleanup.map((m) => destroy(refOf(m), m.group, false)),
      });
    const gone = new Set(cleanup.map((m) => m.id));
    // One allocator for every region phase, so phases never hand out the same launch id.
    const launchIds = viewFleet(input, spec.adopt).launchIds;
    phases.forEach((phase, i) => {
      const scoped = { ...phase.input, fleet: phase.input.fleet.filter((m) => !gone.has(m.id)) };
      const part = planScope(scoped, { ...viewFleet(scoped, spec.adopt), launchIds }, withVolumes, input.fleet, false);
      drafts.push(...phaseWaves(part.drafts, phase.regions!, i === phases.length - 1));
      notes.push(...part.notes.map((n) => `${regionsLabel(phase.regions!)}: ${n}`));
    });
    notes.unshift(
      `region order: ${phases.map((p) => regionsLabel(p.regions!)).join(', then ')} — each region rolled and checked before the next starts`,
    );
  }
  const waves: Wave[] = drafts.map((w, index) => ({
    index,
    kind: w.kind,
    label: w.label,
    steps: w.steps,
    ...(w.window ? { window: w.window } : {}),
    ...(w.regions ? { regions: w.regions } : {}),
  }));

  const { estimate, run } = estimatePlan(input, waves);
  const max = input.settings.maxExtraTotal;
  if (max !== undefined && (strategy === 'bluegreen' || strategy === 'canary')) {
    const needed = run.waves.reduce((peak, w) => (w.creates > 0 ? Math.max(peak, w.groupExtrasDuring) : peak), 0);
    if (needed > max) {
      throw new PlanError(
        `${strategy} needs ${plural(needed, 'extra machine')} at once (${strategy === 'bluegreen' ? 'a green for every serving machine' : 'a canary per process group'}) ` +
          `but the connection budget allows ${max}${input.settings.surgeReason ? ` (${input.settings.surgeReason})` : ''}; ` +
          `use strategy waves, which replaces machines within that budget`,
      );
    }
  }

  const plan: Plan = {
    deployId: input.deployId,
    app: input.app,
    env: input.env,
    strategy,
    target: input.target.version,
    settings: input.settings,
    waves,
    estimate,
    notes: [...fleetNotes(input, view), ...notes],
  };
  if (view.previous !== undefined) plan.previous = view.previous;
  return plan;
}

/**
 * The strategy's waves for one scope of the fleet (all of it, or one region phase), with leftovers
 * cleaned up first, groups with volumes kept from machines without them, and removed groups last.
 */
/**
 * Machines a phased plan destroys before its first region: leftovers, wherever they are, and this
 * deploy's extras in regions after the first one with work (a region adopts its extras when its turn
 * comes; until then they would only stand next to the extras of the region being rolled). Found with a
 * trial plan of each phase, on an allocator of its own.
 */
function phasedCleanup(
  input: PlanInput,
  view: FleetView,
  phases: readonly { regions?: string[]; input: PlanInput }[],
  withVolumes: ReadonlySet<string>,
): Machine[] {
  const spec = STRATEGY[input.settings.strategy];
  const leftovers = view.leftovers.map((l) => l.machine);
  const gone = new Set(leftovers.map((m) => m.id));
  const active = phases.findIndex((phase) => {
    const scoped = { ...phase.input, fleet: phase.input.fleet.filter((m) => !gone.has(m.id)) };
    return planScope(scoped, viewFleet(scoped, spec.adopt), withVolumes, input.fleet, false).drafts.length > 0;
  });
  const later = new Set(phases.slice(active + 1).flatMap((p) => p.regions ?? []));
  const extras = active < 0 ? [] : view.groups.flatMap((g) => g.adoptable).filter((m) => later.has(regionOf(m)));
  return [...leftovers, ...extras];
}

function planScope(
  input: PlanInput,
  view: FleetView,
  withVolumes: ReadonlySet<string>,
  everywhere: readonly Machine[],
  cleanup: boolean,
): { drafts: DraftWave[]; notes: string[] } {
  const spec = STRATEGY[input.settings.strategy];
  const inPlace = inPlaceGroups(input.settings, withVolumes);
  const noCanary = input.settings.newVolumes === 'fork' ? new Set<string>() : withVolumes;
  let result: StrategyResult;
  if (inPlace.size > 0) {
    const rolled = planInPlace(input, view, inPlace);
    const rest = spec.plan(input, { ...view, groups: view.groups.filter((g) => !inPlace.has(g.name)) }, noCanary);
    result = {
      waves: [...rolled.waves, ...rest.waves],
      prelude: [...rolled.prelude, ...rest.prelude],
      notes: [...rolled.notes, ...rest.notes],
    };
  } else {
    result = spec.plan(input, view, noCanary);
  }
  const notes = [...result.notes];
  if (input.settings.strategy === 'canary' && input.settings.newVolumes !== 'fork') {
    const skipped = view.groups.filter((g) => withVolumes.has(g.name) && g.old.length > 0).map((g) => g.name);
    if (skipped.length > 0)
      notes.push(
        `${skipped.join(', ')} ${skipped.length === 1 ? 'has' : 'have'} volumes: no canary there (it would start without them); rolled in place`,
      );
  }

  const prelude: Step[] = [
    ...(cleanup ? view.leftovers.map((l) => destroy(refOf(l.machine), l.machine.group, false)) : []),
    ...result.prelude,
  ];
  const drafts: DraftWave[] = completeCreates(input, view, [...result.waves], withVolumes, everywhere);
  if (prelude.length > 0) {
    const first = drafts[0];
    // Not into a rolling window: its slots are counted for the strategy's own steps.
    if (first && JOINABLE.has(first.kind) && !first.window && !first.steps.some((s) => s.kind === 'create')) {
      drafts[0] = {
        ...first,
        label: `${first.label}; clean up ${plural(prelude.length, 'machine')}`,
        steps: [...prelude, ...first.steps],
      };
    } else {
      drafts.unshift({
        kind: 'destroy',
        label: `clean up: destroy ${plural(prelude.length, 'leftover or surplus machine')}`,
        steps: prelude,
      });
    }
  }
  if (view.removed.length > 0) {
    const steps = view.removed.map((m) => destroy(refOf(m), m.group, true));
    const last = drafts[drafts.length - 1];
    const label = `remove ${plural(steps.length, 'machine')} of groups no longer configured`;
    if (last && last.kind === 'destroy')
      drafts[drafts.length - 1] = { ...last, label: `${last.label}; ${label}`, steps: [...last.steps, ...steps] };
    else drafts.push({ kind: 'destroy', label, steps });
  }
  return { drafts, notes };
}

function validate(input: PlanInput): void {
  if (!(STRATEGIES as readonly string[]).includes(input.settings.strategy)) {
    throw new PlanError(`unknown strategy "${String(input.settings.strategy)}" (one of: ${STRATEGIES.join(', ')})`);
  }
  const seen = new Set<string>();
  for (const g of input.groups) {
    if (seen.has(g.name)) throw new PlanError(`process group "${g.name}" is listed twice`);
    seen.add(g.name);
    if (!Number.isInteger(g.count) || g.count < 0)
      throw new PlanError(`process group "${g.name}": count must be a whole number ≥ 0, got ${g.count}`);
  }
  const max = input.settings.maxExtraTotal;
  if (max !== undefined && !(Number.isFinite(max) && max >= 0))
    throw new PlanError(`maxExtraTotal must be a number ≥ 0, got ${max}`);
}

const REASONS: Record<LeftoverReason, string> = {
  'other-deploy': 'left by another deploy',
  'other-release': 'on another release',
  failed: 'failed',
  'wrong-role': 'of a role this strategy does not use',
  destroying: 'already being destroyed',
  'unconfigured-group': 'of a group no longer configured',
};

function fleetNotes(input: PlanInput, view: FleetView): string[] {
  const notes: string[] = [];
  const target = input.target.version;
  for (const g of view.groups) {
    const serving = g.done.length + g.old.length;
    const releases = new Map<string, number>();
    for (const m of g.old) if (m.release !== target) releases.set(m.release, (releases.get(m.release) ?? 0) + 1);
    const parts = [`${count(g.done.length)} on ${target}`];
    for (const [release, n] of [...releases].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)))
      parts.push(`${count(n)} on ${release}`);
    const repairs = g.old.length - [...releases.values()].reduce((a, b) => a + b, 0);
    if (repairs > 0) parts.push(`${count(repairs)} on ${target} but failed or out of traffic`);
    const failed = g.old.filter((m) => m.state === 'failed').length;
    if (failed > 0) parts.push(`${count(failed)} failed in all`);
    notes.push(`${g.name}: ${count(serving)} serving, ${count(g.desired)} desired (${parts.join(', ')})`);
  }
  if (view.leftovers.length > 0) {
    const by = new Map<LeftoverReason, number>();
    for (const l of view.leftovers) by.set(l.reason, (by.get(l.reason) ?? 0) + 1);
    notes.push(
      `leftover extra machines destroyed first: ${[...by].map(([r, n]) => `${count(n)} ${REASONS[r]}`).join(', ')}`,
    );
  }
  if (view.removed.length > 0) {
    const groups = [...new Set(view.removed.map((m) => m.group))].join(', ');
    notes.push(
      `${plural(view.removed.length, 'machine')} of groups no longer configured (${groups}) destroyed at the end`,
    );
  }
  return notes;
}
