// canary: one extra machine per process group on the target, without traffic, health-gated; then
// rolling. The canary is destroyed in rolling's second wave (the first batch) rather than in a wave of
// its own: it carries no traffic, so removing it alongside a batch costs nothing and saves a wave.
// Keeping it through the spearhead makes the plan level-triggered: at every moment the fleet itself
// records that the canary stage passed — the canary exists, or (from the spearhead on) a serving
// machine of this deploy runs the target — so a re-plan never repeats the canary stage.

import type { PlanInput, Step } from '../domain/plan.js';
import { isChecked, type FleetView } from './fleet-view.js';
import { planRolling } from './rolling.js';
import type { Machine } from '../domain/types.js';
import { standingIn } from './stand-ins.js';
import { create, destroy, plural, refOf, regate, type DraftWave, type StrategyResult } from './steps.js';

/** `noCanary`: groups that get no canary (they have volumes and none may be forked: volumes.ts). */
export function planCanary(
  input: PlanInput,
  view: FleetView,
  noCanary: ReadonlySet<string> = new Set(),
): StrategyResult {
  const target = input.target.version;
  const rolling = planRolling(input, view);
  const prelude: Step[] = [...rolling.prelude];
  const canarySteps: Step[] = [];
  const removeCanaries: Step[] = [];
  let adopted = 0;

  for (const g of view.groups) {
    // A canary only where machines are updated in place, and only until the rolling has begun there.
    const wanted = rolling.updatedGroups.has(g.name) && !rolling.begunGroups.has(g.name) && !noCanary.has(g.name);
    const [keep, ...rest] = wanted ? g.adoptable : [];
    const unused = wanted ? rest : g.adoptable;
    for (const m of unused) prelude.push(destroy(refOf(m), g.name, false));
    if (!wanted) continue;
    if (keep) {
      adopted++;
      if (!isChecked(keep, target)) canarySteps.push(regate(keep, 'canary', false));
      removeCanaries.push(destroy(refOf(keep), g.name, false));
    } else {
      // The canary stands in for the group's spearhead: the machine the release is proven on next.
      const launchId = view.launchIds.allocate(g.name, 'canary');
      canarySteps.push(
        standingIn(create(launchId, g.name, target, 'canary', false), spearheadOf(rolling, g.old) ?? g.old[0]),
      );
      removeCanaries.push(destroy({ launchId }, g.name, false));
    }
  }

  const notes = [...rolling.notes];
  if (adopted > 0) notes.push(`adopting ${plural(adopted, 'canary', 'canaries')} created earlier by this deploy`);
  const waves: DraftWave[] = [];
  if (canarySteps.length > 0) {
    waves.push({
      kind: 'canary',
      label: `canary: ${plural(canarySteps.length, 'machine')} on ${target} without traffic, checked`,
      steps: canarySteps,
    });
  }
  const [first, second, ...others] = rolling.waves;
  const removal = `remove ${plural(removeCanaries.length, 'canary', 'canaries')}`;
  if (first) waves.push(first);
  if (second) {
    waves.push(
      removeCanaries.length > 0
        ? { ...second, label: `${second.label}; ${removal}`, steps: [...second.steps, ...removeCanaries] }
        : second,
      ...others,
    );
  } else if (removeCanaries.length > 0) {
    waves.push({ kind: 'destroy', label: removal, steps: removeCanaries });
  }
  return { waves, prelude, notes };
}

/** The machine of `old` (one group's) that rolling updates first. */
function spearheadOf(rolling: ReturnType<typeof planRolling>, old: readonly Machine[]): Machine | undefined {
  const first = new Set(rolling.waves[0]?.steps.map((s) => (s.kind === 'update' ? s.machineId : '')));
  return old.find((m) => first.has(m.id));
}
