import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, PlanError } from '../../src/strategies/index.js';
import { checkBudgets, checkEnd, checkPlan, endFleet, input, machine, machines, settings, shape } from './fixtures.js';

describe('rolling', () => {
  it("a spearhead, then batches of at most max_unavailable (the window's order); cordoned and gated on checks", () => {
    const inp = input(machines(5), { web: 5 }, settings('rolling', { maxUnavailable: { count: 2 } }));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), ['spearhead: u(web-0)', 'batch: u(web-1) u(web-2)', 'batch: u(web-3) u(web-4)']);
    assert.equal(plan.estimate.unavailablePeak, 2);
    assert.deepEqual(plan.estimate.apiCalls, { list: 1, update: 5, cordon: 5, uncordon: 5, wait: 5 });
    checkEnd(inp, endFleet(inp, plan));
  });

  it('resolves a fractional budget against the group size (at least 1)', () => {
    const plan = buildPlan(
      input(machines(10), { web: 10 }, settings('rolling', { maxUnavailable: { fraction: 0.25 } })),
    );
    assert.deepEqual(shape(plan), [
      'spearhead: u(web-0)',
      'batch: u(web-1) u(web-2) u(web-3)',
      'batch: u(web-4) u(web-5) u(web-6)',
      'batch: u(web-7) u(web-8) u(web-9)',
    ]);
  });

  it('rolls groups side by side: wave i holds every group’s i-th batch', () => {
    const plan = buildPlan(
      input(
        [...machines(4), ...machines(2, 'worker')],
        { web: 4, worker: 2 },
        settings('rolling', { maxUnavailable: { count: 2 } }),
      ),
    );
    assert.deepEqual(shape(plan), [
      'spearhead: u(web-0) u(worker-0)',
      'batch: u(web-1) u(web-2) u(worker-1)',
      'batch: u(web-3)',
    ]);
  });

  it('spearheads on a healthy machine, then fixes machines already out of traffic first', () => {
    const fleet = [
      machine('web-0'),
      machine('web-1'),
      machine('web-2', { state: 'failed' }),
      machine('web-3'),
      machine('web-4', { cordoned: true, release: 'v3', deployId: 'd1' }),
    ];
    const inp = input(fleet, { web: 5 }, settings('rolling', { maxUnavailable: { count: 3 } }));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), ['spearhead: u(web-0)', 'batch: u(web-2) u(web-4) u(web-1)', 'batch: u(web-3)']);
    // 3 in traffic, 2 must stay: one more may leave; each machine out of traffic adds one once checked.
    assert.deepEqual(plan.waves[1]!.window, { web: 1 });
    checkPlan(inp, plan);
    checkBudgets(inp, plan);
  });

  it('with machines out of traffic using up max_unavailable, the spearhead is one of them (it costs no capacity)', () => {
    const fleet = [
      machine('web-0'),
      machine('web-1'),
      machine('web-2', { state: 'failed' }),
      machine('web-3'),
      machine('web-4', { cordoned: true, release: 'v3', deployId: 'd1' }),
    ];
    const inp = input(fleet, { web: 5 }, settings('rolling', { maxUnavailable: { count: 2 } }));
    const plan = buildPlan(inp);
    assert.deepEqual(shape(plan), ['spearhead: u(web-2)', 'batch: u(web-4) u(web-0)', 'batch: u(web-1) u(web-3)']);
    // After the spearhead: 4 in traffic, 3 must stay.
    assert.deepEqual(plan.waves[1]!.window, { web: 1 });
    checkPlan(inp, plan);
    checkBudgets(inp, plan);
  });

  it('after the spearhead the batches flow as one sliding window (Wave.window), not behind a barrier', () => {
    const plan = buildPlan(
      input(
        [...machines(10), ...machines(3, 'worker')],
        { web: 10, worker: 3 },
        settings('rolling', { maxUnavailable: { count: 3 } }),
      ),
    );
    assert.equal(plan.waves[0]!.window, undefined, 'the spearhead wave is a barrier: the release is proven first');
    for (const w of plan.waves.slice(1)) assert.deepEqual(w.window, { web: 3, worker: 3 });
    const grown = buildPlan(input(machines(3), { web: 5 }, settings('rolling', { maxUnavailable: { count: 2 } })));
    // The two new machines are in traffic when the window opens: 5 in, 3 must stay.
    assert.deepEqual(grown.waves[1]!.window, { web: 2 });
  });

  it('scales up first (new machines lead instead of a spearhead), scales down by destroying old machines', () => {
    const up = input(machines(3), { web: 5 }, settings('rolling', { maxUnavailable: { count: 2 } }));
    assert.deepEqual(shape(buildPlan(up)), [
      'create: c(web:serving:0,p) c(web:serving:1,p)',
      'batch: u(web-0) u(web-1)',
      'batch: u(web-2)',
    ]);
    checkEnd(up, endFleet(up, buildPlan(up)));
    const down = input(machines(5), { web: 3 }, settings('rolling'));
    assert.deepEqual(shape(buildPlan(down)), [
      'spearhead: d(web-0) d(web-1) u(web-2)',
      'batch: u(web-3)',
      'batch: u(web-4)',
    ]);
    checkEnd(down, endFleet(down, buildPlan(down)));
  });

  it('destroys machines of groups no longer configured at the end', () => {
    const plan = buildPlan(input([...machines(2), ...machines(1, 'cron')], { web: 2 }, settings('rolling')));
    assert.deepEqual(shape(plan), ['spearhead: u(web-0)', 'batch: u(web-1)', 'destroy: d(cron-0)']);
    assert.match(plan.notes.join('\n'), /groups no longer configured \(cron\)/);
  });

  it('refuses max_unavailable that resolves to 0', () => {
    assert.throws(
      () => buildPlan(input(machines(3), { web: 3 }, settings('rolling', { maxUnavailable: { count: 0 } }))),
      (err: unknown) => {
        assert.ok(err instanceof PlanError);
        assert.match(err.message, /rolling cannot update group "web": max_unavailable resolves to 0/);
        return true;
      },
    );
  });
});
