import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, PlanError } from '../../src/strategies/index.js';
import { checkBudgets, checkEnd, checkPlan, endFleet, input, machine, machines, settings, shape } from './fixtures.js';

const green = (id: string, n: number, over = {}) =>
  machine(id, { role: 'green', release: 'v3', cordoned: true, deployId: 'd1', launchId: `d1:web:green:${n}`, ...over });

describe('bluegreen', () => {
  it('greens without traffic, one cutover, then blues destroyed; capacity never drops', () => {
    const inp = input(machines(3), { web: 3 }, settings('bluegreen'));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'create: c(web:green:0) c(web:green:1) c(web:green:2)',
      'cutover: cut(+web:green:0,web:green:1,web:green:2 -web-0,web-1,web-2)',
      'destroy: d(web-0) d(web-1) d(web-2)',
    ]);
    assert.equal(plan.estimate.extraMachinesPeak, 3);
    assert.equal(plan.estimate.unavailablePeak, 0);
    assert.deepEqual(plan.estimate.apiCalls, {
      list: 1,
      create: 3,
      cordon: 3,
      uncordon: 3,
      stop: 3,
      destroy: 3,
      wait: 9,
    });
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('pauses before the cutover when asked', () => {
    const plan = buildPlan(input(machines(1), { web: 1 }, settings('bluegreen', { pauseBeforeCutover: true })));
    assert.deepEqual(shape(plan), [
      'create: c(web:green:0)',
      'pause: pause',
      'cutover: cut(+web:green:0 -web-0)',
      'destroy: d(web-0)',
    ]);
  });

  it('adopts this deploy’s greens (re-gating unchecked ones), destroys unusable ones, never reuses a launch id', () => {
    const inp = input(
      [
        ...machines(3),
        green('g0', 0),
        green('g1', 1, { state: 'starting', health: 'unknown' }),
        green('g2', 2, { release: 'v2' }),
      ],
      { web: 3 },
      settings('bluegreen', { pauseBeforeCutover: true }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'destroy: d(g2,nd)',
      'create: c(web:green:1) c(web:green:3)',
      'pause: pause',
      'cutover: cut(+g0,g1,web:green:3 -web-0,web-1,web-2)',
      'destroy: d(web-0) d(web-1) d(web-2)',
    ]);
    checkPlan(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('after an interrupted cutover finishes it, without pausing again', () => {
    const inp = input(
      [
        machine('web-0', { cordoned: true }),
        machine('web-1', { cordoned: true }),
        machine('web-2'),
        machine('g0', { release: 'v3', deployId: 'd1', launchId: 'd1:web:green:0' }),
        green('g1', 1),
        green('g2', 2),
      ],
      { web: 3 },
      settings('bluegreen', { pauseBeforeCutover: true }),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), ['cutover: cut(+g1,g2 -web-2)', 'destroy: d(web-0) d(web-1) d(web-2)']);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('puts checked machines on the target that were left out of traffic back in at the cutover', () => {
    // E.g. a rollback to the release the cordoned blues still run.
    const inp = input(
      [machine('web-0', { release: 'v3', cordoned: true }), machine('web-1', { release: 'v4' })],
      { web: 2 },
      settings('bluegreen'),
    );
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'create: c(web:green:0)',
      'cutover: cut(+web-0,web:green:0 -web-1)',
      'destroy: d(web-1)',
    ]);
    checkPlan(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('refuses when the connection budget cannot hold a green for every machine', () => {
    const inp = input(
      machines(10),
      { web: 10 },
      settings('bluegreen', { maxExtraTotal: 3, surgeReason: 'connection budget: 3 extra machines allowed' }),
    );
    assert.throws(
      () => buildPlan(inp),
      (err: unknown) => {
        assert.ok(err instanceof PlanError);
        assert.match(
          err.message,
          /bluegreen needs 10 extra machines at once .* but the connection budget allows 3 \(connection budget: 3 extra machines allowed\); use strategy waves/,
        );
        return true;
      },
    );
    assert.doesNotThrow(() => buildPlan({ ...inp, settings: { ...inp.settings, maxExtraTotal: 10 } }));
  });
});
