// What a plan is expected to cost, found by running it on the model fleet (simulate.ts).

import type { PlanEstimate, PlanInput, Wave } from '../domain/plan.js';
import { countApiCalls } from './api-calls.js';
import { simulatePlan, type ModelRun } from './simulate.js';

export interface Estimated {
  estimate: PlanEstimate;
  run: ModelRun;
}

/**
 * - extraMachinesPeak: most machines beyond the desired count at once (per desired group beyond its
 *   count, plus machines of groups no longer configured), including leftovers present at the start;
 * - unavailablePeak: most machines of one group the plan takes out of traffic below its desired count
 *   at once (for immediate that is every machine it updates: it ignores the budget);
 * - apiCalls: the provider operations of every step (api-calls.ts) plus one list.
 */
export function estimatePlan(input: PlanInput, waves: readonly Wave[]): Estimated {
  const run = simulatePlan(
    input.fleet,
    { deployId: input.deployId, app: input.app, env: input.env, target: input.target.version, waves: [...waves] },
    input.groups,
  );
  let extraMachinesPeak = run.initialExtras;
  let unavailablePeak = 0;
  for (const w of run.waves) {
    extraMachinesPeak = Math.max(extraMachinesPeak, w.extrasDuring);
    for (const g of w.groups) unavailablePeak = Math.max(unavailablePeak, g.unavailableByPlan);
  }
  const apiCalls = countApiCalls(waves);
  const apiCallsTotal = Object.values(apiCalls).reduce((a, b) => a + b, 0);
  return { estimate: { extraMachinesPeak, unavailablePeak, apiCalls, apiCallsTotal }, run };
}
