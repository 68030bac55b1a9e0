// Property tests: random fleets (mixed versions, stopped and failed machines, leftovers of this and
// other deploys, counts off from desired) × random settings × every strategy. A plan (unless the
// strategy refuses with a PlanError) keeps its budgets on the model fleet, touches every machine that
// needs work exactly once, never puts traffic on an unchecked new machine, ends with every group at its
// desired count on the target, is deterministic, and is level-triggered: re-planning after any prefix
// of it — including a wave cut off halfway, steps half done — continues to the same end. Rolling (and
// canary, which rolls) flow their batches under a window for every group they touch.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveBudget, STRATEGIES } from '../../src/domain/types.js';
import { applyPlanToModel, buildPlan, PlanError } from '../../src/strategies/index.js';
import { APP, checkBudgets, checkEnd, checkPlan, DEPLOY, ENV, TARGET } from './fixtures.js';
import { checkAll, interrupted, newLaunches, planOrRefusal, scenarioArb, toInput } from './scenarios.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

/** fc.assert, with the failing assertion's own message in the error (node:test shows only the message). */
function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>): void {
  try {
    fc.assert(property, { numRuns: RUNS });
  } catch (err) {
    const cause = (err as Error).cause;
    throw new Error(`${(err as Error).message}\n${cause instanceof Error ? cause.message : ''}`, { cause });
  }
}

describe('strategy properties', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: budgets, every machine once, no unchecked traffic, correct end, deterministic`, () => {
      check(
        fc.property(scenarioArb([strategy]), (sc) => {
          const inp = toInput(sc);
          const plan = planOrRefusal(inp);
          if (plan instanceof PlanError) return;
          checkAll(inp, plan);
          assert.deepEqual(buildPlan(structuredClone(inp)), plan, 'buildPlan is deterministic');
          // A fleet that has converged needs no plan at all.
          const after = applyPlanToModel(inp.fleet, plan);
          assert.deepEqual(buildPlan({ ...inp, fleet: after }).waves, [], 'nothing left after the plan');
        }),
      );
    });

    it(`${strategy}: level-triggered — re-planning after any prefix (even mid-wave) finishes the job`, () => {
      check(
        fc.property(
          scenarioArb([strategy]),
          fc.nat(),
          fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 8 }),
          (sc, cut, choices) => {
            const inp = toInput(sc);
            const plan = planOrRefusal(inp);
            if (plan instanceof PlanError) return;
            const full = cut % (plan.waves.length + 1);
            const { fleet, partial } = interrupted(inp, plan, full, choices);
            const again = { ...inp, fleet };
            const replan = buildPlan(again);
            checkPlan(again, replan);
            checkBudgets(again, replan);
            checkEnd(again, applyPlanToModel(fleet, replan));
            // Only the remaining work: no machine that was done gets touched (checkPlan), and no more
            // new machines than the original plan had still to create.
            const remaining = plan.waves.slice(full).flatMap((w) => w.steps);
            // waves tops surge capacity back up to max_surge whenever machines in traffic remain to be replaced.
            const slack =
              strategy === 'waves'
                ? inp.groups.reduce((n, g) => n + resolveBudget(inp.settings.maxSurge, g.count), 0)
                : 0;
            if (!(strategy === 'canary' && partial)) {
              assert.ok(
                newLaunches(
                  again,
                  replan.waves.flatMap((w) => w.steps),
                ) <=
                  newLaunches(inp, remaining) + slack,
                're-plan creates no more than remained',
              );
            }
            if (full === plan.waves.length) assert.deepEqual(replan.waves, [], 'a finished plan re-plans to nothing');
          },
        ),
      );
    });
  }
});

describe('rolling window', () => {
  for (const strategy of ['rolling', 'canary'] as const) {
    it(`${strategy}: the batches flow under a window for every group they take machines from, never wider than max_unavailable`, () => {
      check(
        fc.property(scenarioArb([strategy]), (sc) => {
          const inp = toInput(sc);
          const plan = planOrRefusal(inp);
          if (plan instanceof PlanError) return;
          const budgets = new Map(inp.groups.map((g) => [g.name, resolveBudget(inp.settings.maxUnavailable, g.count)]));
          const windowed = plan.waves.filter((w) => w.window);
          // The release is proven (spearhead, or canary and spearhead) behind a barrier before any window.
          if (windowed.length > 0) assert.ok(plan.waves[0]!.window === undefined, 'the first wave is a barrier');
          for (const w of windowed) {
            for (const [group, slack] of Object.entries(w.window!)) {
              assert.ok(
                slack <= budgets.get(group)!,
                `${group}: window ${slack} wider than max_unavailable ${budgets.get(group)}`,
              );
            }
            for (const step of w.steps) {
              // A group missing from the window would have no bound at all on what leaves traffic.
              if (step.kind === 'update' || (step.kind === 'destroy' && step.drain))
                assert.ok(step.group in w.window!, `${w.label}: ${step.group} has no window`);
            }
          }
          if (strategy === 'rolling') {
            const updates = plan.waves
              .flatMap((w, i) => (i > 0 && w.kind === 'batch' ? w.steps : []))
              .filter((st) => st.kind === 'update');
            if (updates.length > 0) assert.ok(windowed.length > 0, 'rolling batches flow as a window');
          }
        }),
      );
    });
  }
});

describe('launch ids', () => {
  it('re-planning never hands out a launch id that exists', () => {
    check(
      fc.property(scenarioArb(['bluegreen', 'waves', 'canary']), (sc) => {
        const inp = toInput(sc);
        const plan = planOrRefusal(inp);
        if (plan instanceof PlanError) return;
        const existing = new Map(inp.fleet.filter((m) => m.launchId).map((m) => [m.launchId!, m]));
        for (const w of plan.waves) {
          for (const s of w.steps) {
            if (s.kind !== 'create') continue;
            const m = existing.get(s.launchId);
            // An existing launch id is only ever the re-gate of that very machine, adopted.
            if (m) assert.ok(m.deployId === DEPLOY && m.release === TARGET && m.app === APP && m.env === ENV);
          }
        }
      }),
    );
  });
});
