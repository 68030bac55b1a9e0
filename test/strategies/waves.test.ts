import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, PlanError } from '../../src/strategies/index.js';
import { allocate, fairSplit } from '../../src/strategies/waves.js';
import { checkBudgets, checkEnd, checkPlan, endFleet, input, machine, machines, settings, shape } from './fixtures.js';

describe('waves', () => {
  it('surge first, then batches of surge + max_unavailable with the destroys last', () => {
    const inp = input(
      machines(9),
      { web: 9 },
      settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 1 } }),
    );
    const plan = buildPlan(inp);
    // 3 replacement waves = ceil(9 / (2 + 1)); "batches of updates, then a destroy wave" would need 4.
    assert.deepEqual(shape(plan), [
      'surge: c(web:surge:0,p) c(web:surge:1,p)',
      'batch: u(web-0) u(web-1) u(web-2)',
      'batch: u(web-3) u(web-4) u(web-5)',
      'batch: u(web-6) d(web-7) d(web-8)',
    ]);
    assert.equal(plan.estimate.extraMachinesPeak, 2);
    assert.equal(plan.estimate.unavailablePeak, 1);
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('with max_unavailable 0 keeps full capacity: each wave takes out only what the surge added', () => {
    const inp = input(
      machines(10),
      { web: 10 },
      settings('waves', { maxSurge: { count: 3 }, maxUnavailable: { count: 0 } }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'surge: c(web:surge:0,p) c(web:surge:1,p) c(web:surge:2,p)',
      'batch: u(web-0) u(web-1) u(web-2)',
      'batch: u(web-3) u(web-4) u(web-5)',
      'batch: u(web-6) d(web-7) d(web-8)',
      'destroy: d(web-9)',
    ]);
    assert.equal(plan.estimate.unavailablePeak, 0);
    checkBudgets(inp, plan);
  });

  it('with analysis, one surge machine per group goes into traffic alone first; the window counts it as slack', () => {
    const inp = input(
      machines(10),
      { web: 10 },
      { ...settings('waves', { maxSurge: { count: 3 }, maxUnavailable: { count: 0 } }), analysisSpearhead: true },
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'spearhead: c(web:surge:0,p)',
      'surge: c(web:surge:1,p) c(web:surge:2,p)',
      'batch: u(web-0) u(web-1) u(web-2)',
      'batch: u(web-3) u(web-4) u(web-5)',
      'batch: u(web-6) d(web-7) d(web-8)',
      'destroy: d(web-9)',
    ]);
    assert.equal(plan.waves[0]!.window, undefined, 'the spearhead is a step of its own, analysed before the flow');
    assert.equal(plan.waves[1]!.window?.['web'], 1, 'the spearhead is in traffic when the flow starts');
    assert.equal(plan.estimate.unavailablePeak, 0);
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('a machine already out of traffic costs no budget, but is no capacity either', () => {
    const inp = input(
      [machine('web-0', { state: 'failed' }), ...machines(5).slice(1)],
      { web: 5 },
      settings('waves', { maxSurge: { count: 1 }, maxUnavailable: { count: 0 } }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'surge: c(web:surge:0,p)',
      'batch: u(web-0)',
      'batch: u(web-1)',
      'batch: u(web-2)',
      'batch: u(web-3)',
      'destroy: d(web-4)',
    ]);
    checkBudgets(inp, plan);
  });

  it('re-planning after the surge wave keeps the promoted surge and adopts the rest', () => {
    const inp = input(
      [
        ...machines(6),
        machine('s0', { release: 'v3', deployId: 'd1', launchId: 'd1:web:surge:0' }),
        machine('s1', { role: 'surge', release: 'v3', cordoned: true, deployId: 'd1', launchId: 'd1:web:surge:1' }),
      ],
      { web: 6 },
      settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 0 } }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'surge: cut(+s1 -)',
      'batch: u(web-0) u(web-1)',
      'batch: u(web-2) u(web-3)',
      'destroy: d(web-4) d(web-5)',
    ]);
    checkPlan(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('splits a connection budget fairly and notes why surge was lowered', () => {
    const inp = input(
      [...machines(10), ...machines(10, 'worker')],
      { web: 10, worker: 10 },
      settings('waves', {
        maxSurge: { count: 3 },
        maxUnavailable: { count: 0 },
        maxExtraTotal: 3,
        surgeReason: 'connection budget: 3 extra machines',
      }),
    );
    const plan = buildPlan(inp);
    assert.equal(plan.waves[0]!.steps.length, 3);
    assert.equal(plan.estimate.extraMachinesPeak, 3);
    assert.ok(
      plan.notes.includes(
        'surge lowered from 6 to 3 extra machines in total (web 2, worker 1) — connection budget: 3 extra machines',
      ),
    );
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it("interleaves the groups' surge creates in proportion to their surge: they share the app's create rate", () => {
    const inp = input(
      [...machines(40), ...machines(10, 'worker')],
      { web: 40, worker: 10 },
      settings('waves', { maxSurge: { fraction: 0.1 }, maxUnavailable: { count: 0 } }),
    );
    const plan = buildPlan(inp);
    const surge = plan.waves.find((w) => w.kind === 'surge')!;
    // web 4, worker 1: worker's create sits mid-wave, not behind all of web's.
    assert.deepEqual(
      surge.steps.map((st) => (st.kind === 'create' ? st.group : st.kind)),
      ['web', 'web', 'worker', 'web', 'web'],
    );
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('when the budget cannot give every group a surge machine, groups take turns', () => {
    const inp = input(
      [...machines(3), ...machines(3, 'worker')],
      { web: 3, worker: 3 },
      settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 0 }, maxExtraTotal: 1 }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'surge: c(web:surge:0,p)',
      'batch: u(web-0)',
      'batch: u(web-1)',
      'destroy: d(web-2)',
      'surge: c(worker:surge:0,p)',
      'batch: u(worker-0)',
      'batch: u(worker-1)',
      'destroy: d(worker-2)',
    ]);
    assert.equal(plan.estimate.extraMachinesPeak, 1);
    assert.match(plan.notes.join('\n'), /worker waits until web is done/);
    checkBudgets(inp, plan);
  });

  it('refuses when neither surge nor unavailability is allowed', () => {
    for (const s of [
      settings('waves', { maxSurge: { count: 0 }, maxUnavailable: { count: 0 } }),
      settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 0 }, maxExtraTotal: 0 }),
    ]) {
      assert.throws(
        () => buildPlan(input(machines(3), { web: 3 }, s)),
        (err: unknown) => {
          assert.ok(err instanceof PlanError);
          assert.match(
            err.message,
            /waves cannot replace group "web": max_surge allows 0 extra machines.* max_unavailable resolves to 0/,
          );
          return true;
        },
      );
    }
    // Without surge, max_unavailable alone works (in-place batches of U).
    const inp = input(
      machines(3),
      { web: 3 },
      settings('waves', { maxSurge: { count: 0 }, maxUnavailable: { count: 2 } }),
    );
    assert.deepEqual(shape(buildPlan(inp)), ['batch: u(web-0) u(web-1)', 'batch: u(web-2)']);
  });

  it('fairSplit and allocate share extra machines deterministically', () => {
    assert.deepEqual(fairSplit([5, 5, 5], 10), [4, 3, 3]);
    assert.deepEqual(fairSplit([1, 9, 9], 10), [1, 5, 4]);
    assert.deepEqual(fairSplit([2, 2], 100), [2, 2]);
    assert.deepEqual(fairSplit([3, 3], 0), [0, 0]);
    assert.deepEqual(
      allocate([3, 3, 3], 4, [
        [0, 0, 2],
        [1, 1, 1],
      ]),
      [1, 1, 2],
    );
  });
});

describe('waves: rolling window', () => {
  it('the surge and replacement waves flow with one window per group: the slack max_unavailable leaves', () => {
    const plan = buildPlan(
      input(
        [...machines(20), ...machines(5, 'worker')],
        { web: 20, worker: 5 },
        settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 1 } }),
      ),
    );
    assert.equal(plan.waves[0]!.kind, 'surge');
    assert.ok(plan.waves.length > 1);
    // 20 in traffic − (20 desired − 1 unavailable) = 1; the surge machines add theirs as they come in.
    for (const w of plan.waves) assert.deepEqual(w.window, { web: 1, worker: 1 });
  });

  it('a group short of machines starts with no slack: replacements wait for the new machines', () => {
    const plan = buildPlan(
      input(machines(8), { web: 10 }, settings('waves', { maxSurge: { count: 2 }, maxUnavailable: { count: 0 } })),
    );
    assert.deepEqual(plan.waves[0]!.window, { web: -2 });
  });

  it('leftover clean-up is not folded into a windowed wave', () => {
    const fleet = [
      ...machines(6),
      { ...machines(1)[0]!, id: 'stray', role: 'green' as const, deployId: 'other', cordoned: true },
    ];
    const plan = buildPlan(
      input(fleet, { web: 6 }, settings('waves', { maxSurge: { count: 0 }, maxUnavailable: { count: 2 } })),
    );
    assert.equal(plan.waves[0]!.window, undefined);
    assert.match(plan.waves[0]!.label, /clean up/);
    assert.ok(plan.waves.slice(1).every((w) => w.window?.web === 2));
  });
});
