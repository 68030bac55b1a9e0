// bluegreen: a green machine for every serving machine the groups need, created without traffic and
// checked; then one cutover moves traffic to all greens and takes all blues out; then blues are
// destroyed. Nothing touches a blue machine before the cutover, so a failure before it leaves blue
// untouched (the executor destroys the greens).

import type { MachineRef, PlanInput, Step } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';
import { isChecked, type FleetView } from './fleet-view.js';
import { pairStandIns, standingIn } from './stand-ins.js';
import { create, destroy, plural, refOf, regate, type DraftWave, type StrategyResult } from './steps.js';

export function planBluegreen(input: PlanInput, view: FleetView): StrategyResult {
  const target = input.target.version;
  const prelude: Step[] = [];
  const creates: Step[] = [];
  const destroys: Step[] = [];
  const promote: MachineRef[] = [];
  const cordon: string[] = [];
  const notes: string[] = [];
  let adopted = 0;
  let reused = 0;

  for (const g of view.groups) {
    const greens = Math.max(0, g.desired - g.done.length);
    // Serving machines on the target that an interrupted cutover (or rollback) left out of traffic and
    // that pass checks right now are as good as greens: they go back into traffic at the cutover.
    const reusable = g.old.filter((m) => isChecked(m, target));
    const blues = g.old.filter((m) => !isChecked(m, target));
    let needed = greens;
    // Machines already standing in (reused, adopted), so new greens go where blues still lack one.
    const covered: Machine[] = [];
    for (const m of reusable) {
      if (needed > 0) {
        promote.push(refOf(m));
        covered.push(m);
        reused++;
        needed--;
      } else {
        destroys.push(destroy(refOf(m), g.name, true));
      }
    }
    for (const m of g.adoptable) {
      if (needed > 0) {
        if (!isChecked(m, target)) creates.push(regate(m, 'green', false));
        promote.push(refOf(m));
        covered.push(m);
        adopted++;
        needed--;
      } else {
        prelude.push(destroy(refOf(m), g.name, false));
      }
    }
    // Each new green stands in for a blue: in its region, with its config.
    for (const blue of pairStandIns(blues, covered, needed)) {
      const launchId = view.launchIds.allocate(g.name, 'green');
      creates.push(standingIn(create(launchId, g.name, target, 'green', false), blue));
      promote.push({ launchId });
    }
    for (const m of blues) {
      // Blues of a group that gets greens leave traffic at the cutover; the rest are surplus, drained when destroyed.
      if (greens > 0 && !m.cordoned && m.state !== 'failed') cordon.push(m.id);
      destroys.push(destroy(refOf(m), g.name, true));
    }
    // More machines on the target than desired (scale down): the surplus goes with the blues.
    for (const m of g.done.slice(g.desired)) destroys.push(destroy(refOf(m), g.name, true));
  }

  if (adopted > 0) notes.push(`adopting ${plural(adopted, 'green machine')} created earlier by this deploy`);
  if (reused > 0)
    notes.push(`${plural(reused, 'machine')} on ${target} out of traffic but passing checks go back in at the cutover`);

  const waves: DraftWave[] = [];
  const newGreens = creates.filter((s) => s.kind === 'create').length;
  if (creates.length > 0)
    waves.push({
      kind: 'create',
      label: `create ${plural(newGreens, 'green machine')} without traffic, checked`,
      steps: creates,
    });
  if (promote.length > 0 || cordon.length > 0) {
    // Once any machine of this deploy serves the target, the cutover has begun: finish it without pausing again.
    const begun = view.groups.some((g) => g.progressed);
    if (input.settings.pauseBeforeCutover && promote.length > 0 && !begun) {
      waves.push({
        kind: 'pause',
        label: 'pause before cutover: greens are checked; waiting for promote',
        steps: [{ kind: 'pause', reason: 'pause_before_cutover: greens pass checks; promote to move traffic to them' }],
      });
    }
    waves.push({
      kind: 'cutover',
      label: `cutover: ${plural(promote.length, 'green')} into traffic, ${plural(cordon.length, 'blue')} out`,
      steps: [{ kind: 'cutover', promote, cordon }],
    });
  }
  if (destroys.length > 0)
    waves.push({ kind: 'destroy', label: `destroy ${plural(destroys.length, 'blue machine')}`, steps: destroys });
  return { waves, prelude, notes };
}
