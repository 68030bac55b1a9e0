import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, PlanError } from '../../src/strategies/index.js';
import { checkBudgets, checkEnd, checkPlan, endFleet, input, machine, machines, settings, shape } from './fixtures.js';

const canary = (id: string, over = {}) =>
  machine(id, { role: 'canary', release: 'v3', cordoned: true, deployId: 'd1', launchId: 'd1:web:canary:0', ...over });

describe('canary', () => {
  it('one checked canary per group, then rolling; the canary leaves with the first batch', () => {
    const inp = input([...machines(3), ...machines(1, 'worker')], { web: 3, worker: 1 }, settings('canary'));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), [
      'canary: c(web:canary:0) c(worker:canary:0)',
      'spearhead: u(web-0) u(worker-0)',
      'batch: u(web-1) d(web:canary:0,nd) d(worker:canary:0,nd)',
      'batch: u(web-2)',
    ]);
    assert.equal(plan.estimate.extraMachinesPeak, 2);
    checkPlan(inp, plan);
    checkBudgets(inp, plan);
    checkEnd(inp, endFleet(inp, plan));
  });

  it('a group with a single machine gets the canary removed in a wave of its own', () => {
    assert.deepEqual(shape(buildPlan(input(machines(1), { web: 1 }, settings('canary')))), [
      'canary: c(web:canary:0)',
      'spearhead: u(web-0)',
      'destroy: d(web:canary:0,nd)',
    ]);
  });

  it('re-planning adopts a checked canary, and skips the canary once the rolling has begun', () => {
    const adopted = buildPlan(input([...machines(3), canary('c0')], { web: 3 }, settings('canary')));
    assert.deepEqual(shape(adopted), ['spearhead: u(web-0)', 'batch: u(web-1) d(c0,nd)', 'batch: u(web-2)']);
    const begun = buildPlan(
      input(
        [machine('web-0', { release: 'v3', deployId: 'd1' }), machine('web-1'), machine('web-2'), canary('c0')],
        { web: 3 },
        settings('canary'),
      ),
    );
    assert.deepEqual(shape(begun), ['spearhead: d(c0,nd) u(web-1)', 'batch: u(web-2)']);
  });

  it('refuses when the connection budget allows no canary', () => {
    assert.throws(() => buildPlan(input(machines(3), { web: 3 }, settings('canary', { maxExtraTotal: 0 }))), PlanError);
  });
});
