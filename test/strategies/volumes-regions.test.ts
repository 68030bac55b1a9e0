// Groups with volumes and fleets spread over regions, planned by every strategy (pure: no I/O).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CreateStep, Plan, Step } from '../../src/domain/plan.js';
import type { Machine } from '../../src/domain/types.js';
import { applyPlanToModel, buildPlan, formatPlan, PlanError } from '../../src/strategies/index.js';
import { input, machine, settings, TARGET } from './fixtures.js';

const REGIONS = ['ord', 'iad', 'cdg'];

/** `web-0..n-1` with a volume each and `worker-0..m-1` without, round robin over ord, iad, cdg. */
function fleet(web: number, worker: number): Machine[] {
  const out: Machine[] = [];
  for (let i = 0; i < web; i++) out.push(machine(`web-${i}`, { region: REGIONS[i % 3], volumes: [`vol_web${i}`] }));
  for (let i = 0; i < worker; i++) out.push(machine(`worker-${i}`, { group: 'worker', region: REGIONS[i % 3] }));
  return out;
}

const steps = (plan: Plan): Step[] => plan.waves.flatMap((w) => w.steps);
const creates = (plan: Plan): CreateStep[] => steps(plan).filter((s): s is CreateStep => s.kind === 'create');

describe('groups with volumes', () => {
  it("bluegreen rolls a group with volumes in place, one machine at a time, and gives the rest greens in their blue's region", () => {
    const f = fleet(3, 3);
    const plan = buildPlan(
      input(
        f,
        { web: 3, worker: 3 },
        settings('bluegreen', { maxUnavailable: { count: 0 }, maxSurge: { fraction: 1 } }),
      ),
    );
    assert.ok(
      creates(plan).every((c) => c.group === 'worker'),
      'no web machine created',
    );
    const webUpdates = plan.waves
      .map((w) => w.steps.filter((s) => s.kind === 'update' && s.group === 'web').length)
      .filter((n) => n > 0);
    assert.deepEqual(webUpdates, [1, 1, 1], 'web rolls one machine at a time');
    assert.ok(
      plan.notes.some((n) =>
        /web has volumes: rolled in place \(one machine at a time\).*new_volumes = "fork"/.test(n),
      ),
      plan.notes.join('\n'),
    );
    const byId = new Map(f.map((m) => [m.id, m]));
    const stoodFor = creates(plan).map((c) => byId.get(c.standsFor!)!);
    assert.deepEqual(stoodFor.map((m) => m.id).sort(), ['worker-0', 'worker-1', 'worker-2'], 'one green per blue');
    const end = applyPlanToModel(f, plan);
    assert.deepEqual(
      end.filter((m) => m.group === 'web').map((m) => `${m.id}:${m.volumes}`),
      ['web-0:vol_web0', 'web-1:vol_web1', 'web-2:vol_web2'],
    );
    assert.deepEqual(
      end
        .filter((m) => m.group === 'worker')
        .map((m) => m.region)
        .sort(),
      ['cdg', 'iad', 'ord'],
      'greens where their blues were',
    );
    assert.match(formatPlan(plan), /web has volumes: rolled in place/);
  });

  it('waves rolls it within max_unavailable; canary gives it no canary', () => {
    const waves = buildPlan(
      input(fleet(6, 0), { web: 6 }, settings('waves', { maxUnavailable: { count: 2 }, maxSurge: { count: 2 } })),
    );
    assert.equal(creates(waves).length, 0);
    assert.ok(waves.waves.every((w) => w.steps.filter((s) => s.kind === 'update').length <= 2));
    assert.ok(waves.notes.some((n) => /within max_unavailable/.test(n)));
    const canary = buildPlan(input(fleet(3, 3), { web: 3, worker: 3 }, settings('canary')));
    assert.deepEqual(
      creates(canary).map((c) => c.group),
      ['worker'],
      'a canary for worker only',
    );
    assert.ok(canary.notes.some((n) => /web has volumes: no canary there/.test(n)));
  });

  it('a group with volumes that must grow is refused unless volumes may be forked', () => {
    for (const strategy of ['immediate', 'rolling', 'bluegreen', 'canary', 'waves'] as const) {
      assert.throws(
        () => buildPlan(input(fleet(3, 0), { web: 5 }, settings(strategy))),
        (e: unknown) =>
          e instanceof PlanError &&
          /"web" has volumes and the plan needs 2 new machines.*new_volumes = "fork"/.test(e.message),
        strategy,
      );
    }
    const plan = buildPlan(input(fleet(3, 0), { web: 5 }, settings('rolling', { newVolumes: 'fork' })));
    const grown = creates(plan);
    assert.equal(grown.length, 2);
    assert.ok(
      grown.every((c) => c.forkVolumes === true && /^web-\d$/.test(c.standsFor ?? '')),
      JSON.stringify(grown),
    );
  });

  it('new_volumes = "fork": greens, surge machines and canaries stand in for a machine and fork its volumes', () => {
    for (const strategy of ['bluegreen', 'waves', 'canary'] as const) {
      const f = fleet(6, 0);
      const plan = buildPlan(input(f, { web: 6 }, settings(strategy, { newVolumes: 'fork', maxSurge: { count: 2 } })));
      const made = creates(plan);
      assert.ok(made.length > 0, strategy);
      for (const c of made) {
        assert.equal(c.forkVolumes, true, `${strategy}: ${c.launchId} forks`);
        assert.ok(
          f.some((m) => m.id === c.standsFor),
          `${strategy}: ${c.launchId} stands in for a machine`,
        );
      }
      assert.equal(new Set(made.map((c) => c.standsFor)).size, made.length, `${strategy}: each for another machine`);
      const end = applyPlanToModel(f, plan).filter((m) => m.role === 'serving');
      assert.ok(
        end.every((m) => (m.volumes?.length ?? 0) > 0),
        `${strategy}: every serving machine has a volume`,
      );
    }
  });
});

describe('regions', () => {
  it('region_order ["ord", "*"]: ord first, its steps only on ord machines, the rest after; the plan says so', () => {
    const f = fleet(0, 9);
    const plan = buildPlan(
      input(f, { worker: 9 }, settings('rolling', { regionOrder: ['ord', '*'], maxUnavailable: { count: 2 } })),
    );
    const regionOf = new Map(f.map((m) => [m.id, m.region]));
    const phases = [...new Set(plan.waves.map((w) => (w.regions ?? []).join('+')))];
    assert.deepEqual(phases, ['ord', 'cdg+iad']);
    for (const w of plan.waves) {
      for (const s of w.steps)
        if (s.kind === 'update')
          assert.ok(w.regions!.includes(regionOf.get(s.machineId)!), `${s.machineId} in wave of ${w.regions}`);
    }
    const text = formatPlan(plan);
    assert.match(text, /region order: ord, then cdg\+iad/);
    assert.match(text, /region ord first:/);
    assert.match(text, /region cdg\+iad next, once the region before is done and checked:/);
    assert.match(text, /wave 0 spearhead \[ord\]/);
  });

  it('immediate checks a region before the next; the last region is dispatched as usual', () => {
    const plan = buildPlan(input(fleet(0, 6), { worker: 6 }, settings('immediate', { regionOrder: ['iad'] })));
    assert.deepEqual(
      plan.waves.map((w) => [
        w.regions!.join('+'),
        w.steps.map((s) => (s.kind === 'update' ? s.gate : s.kind)).join(','),
      ]),
      [
        ['iad', 'checks,checks'],
        ['cdg+ord', 'none,none,none,none'],
      ],
    );
  });

  it("without an order, stand-ins still go to their machine's region; a fleet without regions has no phases", () => {
    const f = fleet(0, 6);
    const plan = buildPlan(
      input(f, { worker: 6 }, settings('waves', { maxUnavailable: { count: 0 }, maxSurge: { count: 3 } })),
    );
    const end = applyPlanToModel(f, plan).filter((m) => m.role === 'serving');
    const count = (list: Machine[]) =>
      list.reduce<Record<string, number>>((o, m) => ({ ...o, [m.region!]: (o[m.region!] ?? 0) + 1 }), {});
    assert.deepEqual(count(end), count(f), 'each region keeps its count');
    assert.ok(end.every((m) => m.release === TARGET));
    const flat = buildPlan(
      input([machine('a'), machine('b')], { web: 2 }, settings('rolling', { regionOrder: ['ord', '*'] })),
    );
    assert.ok(flat.waves.every((w) => w.regions === undefined));
  });

  it('re-planned after any wave (a crash, a resume), every region ends with the machines it had', () => {
    for (const strategy of ['bluegreen', 'waves'] as const) {
      const f = fleet(0, 9);
      const inp = input(
        f,
        { worker: 9 },
        settings(strategy, {
          regionOrder: ['ord', '*'],
          maxUnavailable: { count: 0 },
          maxSurge: { count: 2 },
          ...(strategy === 'bluegreen' ? { maxSurge: { fraction: 1 } } : {}),
        }),
      );
      const plan = buildPlan(inp);
      const count = (list: Machine[]) =>
        list
          .filter((m) => m.role === 'serving')
          .reduce<Record<string, number>>((o, m) => ({ ...o, [m.region!]: (o[m.region!] ?? 0) + 1 }), {});
      for (let cut = 0; cut <= plan.waves.length; cut++) {
        const mid = applyPlanToModel(f, plan, { waves: cut });
        const end = applyPlanToModel(mid, buildPlan({ ...inp, fleet: mid }));
        assert.deepEqual(count(end), count(f), `${strategy}, re-planned after wave ${cut}`);
        assert.ok(end.every((m) => m.release === TARGET));
      }
    }
  });

  it('a region order does not change the end: the whole fleet on the target at its desired counts', () => {
    for (const strategy of ['immediate', 'rolling', 'bluegreen', 'canary', 'waves'] as const) {
      const f = fleet(0, 7);
      const plan = buildPlan(
        input(f, { worker: 8 }, settings(strategy, { regionOrder: ['cdg', '*'], maxSurge: { count: 1 } })),
      );
      const end = applyPlanToModel(f, plan).filter((m) => m.role === 'serving');
      assert.equal(end.length, 8, strategy);
      assert.ok(
        end.every((m) => m.release === TARGET),
        strategy,
      );
      assert.equal(plan.waves[0]!.regions!.join(), 'cdg', strategy);
    }
  });
});
