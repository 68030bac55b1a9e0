import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Step } from '../../src/domain/plan.js';
import {
  API_CALL_COSTS,
  applyPlanToModel,
  buildPlan,
  countApiCalls,
  simulatePlan,
  stepApiCalls,
} from '../../src/strategies/index.js';
import { input, machines, settings } from './fixtures.js';

describe('API call costs', () => {
  it('follow the executor, step by step', () => {
    const cases: [Step, string[]][] = [
      [
        { kind: 'update', machineId: 'm', group: 'web', from: 'v1', to: 'v2', cordon: true, gate: 'checks' },
        ['cordon', 'update', 'wait', 'uncordon'],
      ],
      [
        { kind: 'update', machineId: 'm', group: 'web', from: 'v1', to: 'v2', cordon: false, gate: 'checks' },
        ['update', 'wait'],
      ],
      [
        { kind: 'update', machineId: 'm', group: 'web', from: 'v1', to: 'v2', cordon: false, gate: 'none' },
        ['update', 'wait'],
      ],
      [
        {
          kind: 'create',
          launchId: 'l',
          group: 'web',
          release: 'v2',
          role: 'green',
          cordoned: true,
          gate: 'checks',
          promote: false,
        },
        ['create', 'wait'],
      ],
      [
        {
          kind: 'create',
          launchId: 'l',
          group: 'web',
          release: 'v2',
          role: 'surge',
          cordoned: true,
          gate: 'checks',
          promote: true,
        },
        ['create', 'wait', 'uncordon'],
      ],
      [
        { kind: 'cutover', promote: [{ launchId: 'a' }, { machineId: 'b' }], cordon: ['c'] },
        ['uncordon', 'uncordon', 'cordon'],
      ],
      [
        { kind: 'destroy', machine: { machineId: 'm' }, group: 'web', drain: true },
        ['cordon', 'stop', 'wait', 'destroy', 'wait'],
      ],
      [{ kind: 'destroy', machine: { machineId: 'm' }, group: 'web', drain: false }, ['destroy', 'wait']],
      [{ kind: 'pause', reason: 'r' }, []],
    ];
    for (const [step, ops] of cases) assert.deepEqual([...stepApiCalls(step)], ops, step.kind);
    assert.deepEqual(countApiCalls([{ steps: cases.map(([s]) => s) }]), {
      list: 1,
      create: 2,
      update: 3,
      cordon: 3,
      uncordon: 4,
      stop: 1,
      destroy: 2,
      wait: 8,
    });
    assert.deepEqual([...API_CALL_COSTS.plan], ['list']);
  });

  it('the plan estimate totals them', () => {
    const plan = buildPlan(
      input(machines(4), { web: 4 }, settings('waves', { maxSurge: { count: 1 }, maxUnavailable: { count: 1 } })),
    );
    const sum = Object.values(plan.estimate.apiCalls).reduce((a, b) => a + b, 0);
    assert.equal(plan.estimate.apiCallsTotal, sum);
    // surge: create+wait+uncordon; 3 updates × 4; 1 drained destroy × 5 (cordon, stop, wait, destroy, wait); + list.
    assert.equal(sum, 3 + 12 + 5 + 1);
  });
});

describe('model fleet', () => {
  it('applies a prefix of waves and reports each wave’s worst moment', () => {
    const inp = input(machines(4), { web: 4 }, settings('rolling', { maxUnavailable: { count: 2 } }));
    const plan = buildPlan(inp);
    const half = applyPlanToModel(inp.fleet, plan, { waves: 2 });
    assert.deepEqual(
      half.map((m) => m.release),
      ['v3', 'v3', 'v3', 'v2'],
    );
    assert.ok(
      inp.fleet.every((m) => m.release === 'v2'),
      'the input fleet is not changed',
    );
    const run = simulatePlan(inp.fleet, plan, inp.groups);
    assert.deepEqual(
      run.waves.map((w) => w.groups[0]!.availableDuring),
      [3, 2, 3],
    );
    assert.deepEqual(
      run.waves.map((w) => w.groups[0]!.unavailableByPlan),
      [1, 2, 1],
    );
  });

  it('counts extra machines during a wave that creates them', () => {
    const inp = input(machines(3), { web: 3 }, settings('bluegreen'));
    const run = simulatePlan(inp.fleet, buildPlan(inp), inp.groups);
    assert.deepEqual(
      run.waves.map((w) => w.extrasDuring),
      [3, 3, 3],
    );
    assert.deepEqual(
      run.waves.map((w) => w.groups[0]!.liveAfter),
      [6, 6, 3],
    );
  });
});
