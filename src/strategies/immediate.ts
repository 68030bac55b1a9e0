// immediate: update every machine in place at once (bounded only by the executor's concurrency and
// rate limits). No health gate on updates; the executor tracks convergence instead.

import type { PlanInput } from '../domain/plan.js';
import type { Step } from '../domain/plan.js';
import type { FleetView } from './fleet-view.js';
import { create, destroy, refOf, shed, update, type StrategyResult } from './steps.js';

export function planImmediate(input: PlanInput, view: FleetView): StrategyResult {
  const target = input.target.version;
  const prelude: Step[] = [];
  const steps: Step[] = [];
  for (const g of view.groups) {
    const surplus = g.done.length + g.old.length - g.desired;
    const { destroyed, old } = shed(g, surplus);
    for (const m of destroyed) prelude.push(destroy(refOf(m), g.name, true));
    for (let i = surplus; i < 0; i++)
      steps.push(create(view.launchIds.allocate(g.name, 'serving'), g.name, target, 'serving', true));
    for (const m of old) {
      // A machine left cordoned (out of traffic) goes back only once checked; the rest are dispatched.
      steps.push(m.cordoned ? update(m, target, true, 'checks') : update(m, target, false, 'none'));
    }
  }
  const waves =
    steps.length > 0 ? [{ kind: 'dispatch' as const, label: 'dispatch: update every machine at once', steps }] : [];
  return { waves, prelude, notes: [] };
}
