// Property tests for volumes and regions: the random fleets of the strategy properties (scenarios.ts),
// spread over ord, iad and cdg, with volumes on every machine of some groups, new_volumes unset, none
// or fork, and sometimes a region order. Whatever the strategy:
//  - no machine of a group with volumes is ever without one: machines keep their own volumes, and a
//    new machine there exists only with forks (new_volumes = fork) of a machine's volumes;
//  - a plan is refused only for a group with volumes that must grow while forks are not allowed;
//  - with a region order, regions come one after another, each wave touches only its own regions;
//  - the plan still keeps the rules of every plan (checkPlan), ends right (checkEnd), and re-planning
//    after any prefix of it finishes the job.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Plan, PlanInput } from '../../src/domain/plan.js';
import { resolveBudget, STRATEGIES, type Machine, type NewVolumes } from '../../src/domain/types.js';
import { applyPlanToModel, buildPlan, PlanError, simulatePlan } from '../../src/strategies/index.js';
import { regionPhases } from '../../src/strategies/regions.js';
import { checkBudgets, checkEnd, checkPlan } from './fixtures.js';
import { interrupted, planOrRefusal, scenarioArb, toInput, type Scenario } from './scenarios.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);
const REGIONS = ['ord', 'iad', 'cdg'];

function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>): void {
  try {
    fc.assert(property, { numRuns: RUNS });
  } catch (err) {
    const cause = (err as Error).cause;
    throw new Error(`${(err as Error).message}\n${cause instanceof Error ? cause.message : ''}`, { cause });
  }
}

interface Spread {
  /** Region of the i-th machine: REGIONS[(i * step + offset) % 3]. */
  step: number;
  offset: number;
  volumeGroups: string[];
  newVolumes: NewVolumes | undefined;
  order: string[] | undefined;
}

const spreadArb: fc.Arbitrary<Spread> = fc.record({
  step: fc.integer({ min: 0, max: 2 }),
  offset: fc.integer({ min: 0, max: 2 }),
  volumeGroups: fc.subarray(['web', 'worker', 'cron']),
  newVolumes: fc.constantFrom<NewVolumes | undefined>(undefined, 'none', 'fork'),
  order: fc.option(fc.constantFrom(['ord', '*'], ['iad'], ['cdg', 'ord', '*'], ['*', 'ord'], ['lhr', 'iad', '*']), {
    nil: undefined,
  }),
});

function spreadInput(sc: Scenario, sp: Spread): PlanInput {
  const inp = toInput(sc);
  const fleet = inp.fleet.map((m, i): Machine => {
    const region = REGIONS[(i * sp.step + sp.offset + (i % 2)) % 3];
    const volumes = sp.volumeGroups.includes(m.group) ? [`vol_${m.id}`] : undefined;
    return { ...m, region, ...(volumes ? { volumes } : {}) };
  });
  const settings = { ...inp.settings };
  if (sp.newVolumes !== undefined) settings.newVolumes = sp.newVolumes;
  if (sp.order !== undefined) settings.regionOrder = sp.order;
  return { ...inp, fleet, settings };
}

const mine = (inp: PlanInput, m: Machine) => m.app === inp.app && m.env === inp.env && m.role !== 'release-command';
const withVolumes = (inp: PlanInput) =>
  new Set(
    inp.fleet
      .filter((m) => mine(inp, m) && (m.volumes?.length ?? 0) > 0 && inp.groups.some((g) => g.name === m.group))
      .map((m) => m.group),
  );

/** The plan, or the refusal after checking it is one the rules allow. */
function planned(inp: PlanInput): Plan | PlanError {
  try {
    return buildPlan(inp);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    const volume = /process group "(\w+)" has volumes and the plan needs/.exec(err.message);
    if (!volume) return planOrRefusal(inp);
    const group = volume[1]!;
    assert.ok(withVolumes(inp).has(group), `${group} has volumes`);
    if (/no serving machine of the group has a volume to fork/.test(err.message)) {
      assert.equal(inp.settings.newVolumes, 'fork');
      assert.ok(
        !inp.fleet.some(
          (m) =>
            mine(inp, m) &&
            m.group === group &&
            m.role === 'serving' &&
            (m.volumes?.length ?? 0) > 0 &&
            m.state !== 'destroying',
        ),
        'a serving machine had a volume',
      );
    } else {
      assert.notEqual(inp.settings.newVolumes, 'fork', 'refused for volumes although forks are allowed');
    }
    const serving = inp.fleet.filter(
      (m) =>
        mine(inp, m) &&
        m.role === 'serving' &&
        m.group === group &&
        m.state !== 'destroying' &&
        m.state !== 'destroyed',
    ).length;
    assert.ok(
      inp.groups.find((g) => g.name === group)!.count > serving,
      `${group} refused though it does not grow (${serving} serving)`,
    );
    return err;
  }
}

function checkVolumes(inp: PlanInput, plan: Plan, end: Machine[]): void {
  const groups = withVolumes(inp);
  const fork = inp.settings.newVolumes === 'fork';
  const before = new Map(inp.fleet.map((m) => [m.id, m]));
  const existing = new Set(inp.fleet.map((m) => m.launchId));
  for (const w of plan.waves) {
    for (const s of w.steps) {
      if (s.kind !== 'create' || !groups.has(s.group) || existing.has(s.launchId)) continue;
      assert.ok(fork, `new machine ${s.launchId} in ${s.group} (with volumes) only with forks`);
      assert.equal(s.forkVolumes, true, `${s.launchId} forks volumes`);
      assert.ok(
        (before.get(s.standsFor ?? '')?.volumes?.length ?? 0) > 0,
        `${s.launchId} forks the volumes of a machine that has some`,
      );
    }
  }
  for (const m of end.filter((x) => mine(inp, x) && groups.has(x.group) && x.role === 'serving')) {
    assert.ok((m.volumes?.length ?? 0) > 0, `${m.id} of ${m.group} ends with a volume`);
    const was = before.get(m.id);
    if (was) assert.deepEqual(m.volumes, was.volumes, `${m.id} keeps its own volumes`);
    else assert.ok(fork, `${m.id} is new in ${m.group} only with forks`);
  }
}

function checkRegions(inp: PlanInput, plan: Plan): void {
  const order = inp.settings.regionOrder;
  const byId = new Map(inp.fleet.map((m) => [m.id, m]));
  if (!order) {
    assert.ok(
      plan.waves.every((w) => w.regions === undefined),
      'no phases without an order',
    );
    return;
  }
  const phases: string[] = [];
  const grows = (group: string) =>
    inp.groups.find((g) => g.name === group)!.count >
    inp.fleet.filter(
      (m) =>
        mine(inp, m) &&
        m.group === group &&
        m.role === 'serving' &&
        m.state !== 'destroying' &&
        m.state !== 'destroyed',
    ).length;
  for (const w of plan.waves) {
    const key = (w.regions ?? []).join('+');
    if (phases.at(-1) !== key) {
      assert.ok(!phases.includes(key), `regions ${key} come back after another phase`);
      phases.push(key);
    }
    if (!w.regions) continue;
    const inWave = (id: string | undefined) => {
      const m = id === undefined ? undefined : byId.get(id);
      return m === undefined || w.regions!.includes(m.region ?? '');
    };
    for (const s of w.steps) {
      if (s.kind === 'update') assert.ok(inWave(s.machineId), `update ${s.machineId} in a wave of ${key}`);
      if (s.kind === 'destroy' && 'machineId' in s.machine)
        assert.ok(inWave(s.machine.machineId), `destroy ${s.machine.machineId} in a wave of ${key}`);
      // A machine that grows the group stands in for nobody; one that forks volumes goes where its fork source is.
      if (s.kind === 'create' && s.role !== 'serving' && !(s.forkVolumes && grows(s.group)))
        assert.ok(inWave(s.standsFor), `create ${s.launchId} stands in within ${key}`);
    }
  }
  // Phases in the configured order: a named region at its place, the others at "*" (last when not named).
  const rank = (key: string) =>
    order.includes(key)
      ? order.indexOf(key)
      : key === ''
        ? -1
        : order.includes('*')
          ? order.indexOf('*')
          : order.length;
  const ranks = phases.map(rank);
  assert.deepEqual(
    ranks,
    [...ranks].sort((a, b) => a - b),
    `phases ${phases.join(' → ')} follow ${order.join(', ')}`,
  );
}

/**
 * Budgets: as every plan's, except that bluegreen and waves roll groups with volumes in place, one at a
 * time when max_unavailable is 0; and that with regions in order, max_unavailable holds for each region
 * as it is rolled (resolved against its machines), checked phase by phase on the model.
 */
function checkCapacity(inp: PlanInput, plan: Plan): void {
  const s = inp.settings;
  const inPlace =
    s.newVolumes !== 'fork' && (s.strategy === 'bluegreen' || s.strategy === 'waves')
      ? withVolumes(inp)
      : new Set<string>();
  const phases = regionPhases(inp);
  if (inPlace.size === 0 && phases.length === 1) return checkBudgets(inp, plan);
  const within = (fleet: Machine[], waves: Plan['waves'], groups: PlanInput['groups']) => {
    for (const w of simulatePlan(fleet, { ...plan, waves }, groups).waves) {
      for (const g of w.groups) {
        const U = resolveBudget(s.maxUnavailable, g.desired);
        const allowed = inPlace.has(g.group)
          ? Math.max(1, U)
          : s.strategy === 'bluegreen'
            ? 0
            : s.strategy === 'immediate'
              ? Infinity
              : U;
        assert.ok(
          g.unavailableByPlan <= allowed,
          `${s.strategy}: wave ${w.index} takes ${g.unavailableByPlan} of ${g.group} out, allowed ${allowed}`,
        );
      }
    }
  };
  if (phases.length === 1) return within(inp.fleet, plan.waves, inp.groups);
  const cleanup = plan.waves.filter((w) => w.regions === undefined);
  let fleet = applyPlanToModel(inp.fleet, { ...plan, waves: cleanup });
  for (const phase of phases) {
    const waves = plan.waves.filter((w) => w.regions?.join() === phase.regions!.join());
    const here = new Set(phase.regions);
    within(
      fleet.filter((m) => !mine(inp, m) || here.has(m.region ?? '')),
      waves,
      phase.input.groups,
    );
    fleet = applyPlanToModel(fleet, { ...plan, waves });
  }
}

describe('volumes and regions: properties', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: no machine without its volume, regions in order, budgets kept, correct end`, () => {
      check(
        fc.property(scenarioArb([strategy]), spreadArb, (sc, sp) => {
          const inp = spreadInput(sc, sp);
          const plan = planned(inp);
          if (plan instanceof PlanError) return;
          checkPlan(inp, plan);
          checkCapacity(inp, plan);
          const end = applyPlanToModel(inp.fleet, plan);
          checkEnd(inp, end);
          checkVolumes(inp, plan, end);
          checkRegions(inp, plan);
          assert.deepEqual(buildPlan(structuredClone(inp)), plan, 'deterministic');
        }),
      );
    });

    it(`${strategy}: re-planning after any prefix finishes the job, volumes and regions kept`, () => {
      check(
        fc.property(
          scenarioArb([strategy]),
          spreadArb,
          fc.nat(),
          fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 8 }),
          (sc, sp, cut, choices) => {
            const inp = spreadInput(sc, sp);
            const plan = planned(inp);
            if (plan instanceof PlanError) return;
            const full = cut % (plan.waves.length + 1);
            const cut_ = interrupted(inp, plan, full, choices);
            // A create cut off halfway made its machine with the forks it was given, as the provider does.
            const forks = new Map(
              plan.waves
                .flatMap((w) => w.steps)
                .flatMap((s) => (s.kind === 'create' && s.forkVolumes ? [[s.launchId, s.standsFor] as const] : [])),
            );
            const byId = new Map(inp.fleet.map((m) => [m.id, m]));
            const fleet = cut_.fleet.map((m) =>
              m.id.startsWith('half:') && forks.has(m.launchId!)
                ? {
                    ...m,
                    volumes: byId.get(forks.get(m.launchId!)!)?.volumes?.map((v) => `${v}>${m.launchId}`),
                    region: byId.get(forks.get(m.launchId!)!)?.region,
                  }
                : m,
            );
            const again = { ...inp, fleet };
            const replan = planned(again);
            if (replan instanceof PlanError) return;
            checkPlan(again, replan);
            const end = applyPlanToModel(fleet, replan);
            checkEnd(again, end);
            checkVolumes(again, replan, end);
            if (full === plan.waves.length) assert.deepEqual(replan.waves, [], 'a finished plan re-plans to nothing');
          },
        ),
      );
    });
  }
});
