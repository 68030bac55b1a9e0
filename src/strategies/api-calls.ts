// Provider operations a plan step costs. The executor (src/engine/step-runner.ts) makes exactly these
// calls on the successful path (retries and the provider's internal calls aside), and the plan estimate
// counts with the same table, so `runway deploy --dry-run` predicts what a deploy will spend.

import type { Step } from '../domain/plan.js';
import type { ProviderOp } from '../domain/types.js';

export const API_CALL_COSTS = {
  /** Observing the fleet before planning. Once per plan. */
  plan: ['list'],
  /** Update with `cordon: true`: out of traffic, update, wait for the target and checks, back in. */
  updateCordoned: ['cordon', 'update', 'wait', 'uncordon'],
  /** Update with `cordon: false`, gate `checks` (update, wait) or `none` (update, then convergence tracking waits). */
  update: ['update', 'wait'],
  /** Create and wait for the gate. */
  create: ['create', 'wait'],
  /** Create with `promote: true`: once checked, uncordoned and marked `serving`. */
  createPromoted: ['create', 'wait', 'uncordon'],
  /** Cutover: one uncordon per promoted machine... */
  cutoverPromote: ['uncordon'],
  /** ...and one cordon per machine taken out of traffic. */
  cutoverCordon: ['cordon'],
  /**
   * Destroy with `drain: true`: cordon (unless a cutover already did), stop, wait until stopped (the
   * process finishes its requests), destroy, wait until gone.
   */
  destroyDrained: ['cordon', 'stop', 'wait', 'destroy', 'wait'],
  /** Destroy without drain (the machine carries no traffic), then wait until gone. */
  destroy: ['destroy', 'wait'],
  pause: [],
} as const satisfies Record<string, readonly ProviderOp[]>;

/** Order in which operations are listed in estimates. */
export const API_OPS: readonly ProviderOp[] = [
  'list',
  'create',
  'update',
  'cordon',
  'uncordon',
  'stop',
  'destroy',
  'wait',
];

/** Provider operations of one step, in the order the executor makes them. */
export function stepApiCalls(step: Step): readonly ProviderOp[] {
  const c = API_CALL_COSTS;
  switch (step.kind) {
    case 'update':
      return step.cordon ? c.updateCordoned : c.update;
    case 'create':
      return step.promote ? c.createPromoted : c.create;
    case 'cutover':
      return [...step.promote.map(() => c.cutoverPromote[0]), ...step.cordon.map(() => c.cutoverCordon[0])];
    case 'destroy':
      return step.drain ? c.destroyDrained : c.destroy;
    case 'pause':
      return c.pause;
  }
}

/** Expected provider calls of a plan's waves (plus the one list that observed the fleet), by operation. */
export function countApiCalls(waves: readonly { steps: readonly Step[] }[]): Record<string, number> {
  const counts = new Map<ProviderOp, number>([['list', API_CALL_COSTS.plan.length]]);
  const add = (op: ProviderOp, n = 1) => counts.set(op, (counts.get(op) ?? 0) + n);
  // Machines a cutover took out of traffic: their drained destroy skips the cordon (as the executor does).
  const cordoned = new Set<string>();
  for (const wave of waves) {
    for (const step of wave.steps) {
      if (step.kind === 'cutover') {
        if (step.promote.length) add('uncordon', step.promote.length);
        if (step.cordon.length) add('cordon', step.cordon.length);
        for (const id of step.cordon) cordoned.add(id);
        continue;
      }
      const skipCordon =
        step.kind === 'destroy' && step.drain && 'machineId' in step.machine && cordoned.has(step.machine.machineId);
      // Indexed, not for…of: one iterator per step of a 10,000-machine plan was most of what counting cost.
      const ops = stepApiCalls(step);
      for (let i = 0; i < ops.length; i++) if (!(skipCordon && ops[i] === 'cordon')) add(ops[i]!);
    }
  }
  const out: Record<string, number> = {};
  for (const op of API_OPS) {
    const n = counts.get(op);
    if (n) out[op] = n;
  }
  return out;
}
