import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan } from '../../src/strategies/index.js';
import { checkBudgets, checkEnd, checkPlan, endFleet, input, machine, machines, settings, shape } from './fixtures.js';

describe('immediate', () => {
  it('dispatches every machine not on the target in one wave, ungated and without cordoning', () => {
    const inp = input(machines(3), { web: 3 }, settings('immediate'));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), ['dispatch: u(web-0,nc,ng) u(web-1,nc,ng) u(web-2,nc,ng)']);
    assert.equal(plan.previous, 'v2');
    // It ignores max_unavailable: every update is out of traffic at once.
    assert.equal(plan.estimate.unavailablePeak, 3);
    assert.deepEqual(plan.estimate.apiCalls, { list: 1, update: 3, wait: 3 });
    checkEnd(inp, endFleet(inp, plan));
  });

  it('skips done machines, gates machines left out of traffic, creates missing ones gated', () => {
    const inp = input(
      [
        machine('web-0'),
        machine('web-1', { release: 'v3' }),
        machine('web-2', { cordoned: true }),
        machine('web-3', { state: 'failed' }),
      ],
      { web: 5 },
      settings('immediate'),
    );
    const plan = buildPlan(inp);
    // Out-of-traffic machines first; web-2 was cordoned, so it goes back only once checked.
    assert.deepEqual(shape(plan), ['dispatch: c(web:serving:0,p) u(web-2) u(web-3,nc,ng) u(web-0,nc,ng)']);
    checkPlan(inp, plan);
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('an empty fleet is created, a converged fleet needs nothing', () => {
    assert.deepEqual(shape(buildPlan(input([], { web: 2 }, settings('immediate')))), [
      'dispatch: c(web:serving:0,p) c(web:serving:1,p)',
    ]);
    const done = buildPlan(input(machines(3, 'web', 'v3'), { web: 3 }, settings('immediate')));
    assert.deepEqual(done.waves, []);
    assert.equal(done.previous, undefined);
  });
});
