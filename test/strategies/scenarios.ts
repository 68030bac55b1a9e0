// Random scenarios for the strategy property tests, and the interrupted-run model.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Plan, PlanInput, Step } from '../../src/domain/plan.js';
import {
  resolveBudget,
  STRATEGIES,
  type Machine,
  type MachineBudget,
  type MachineRole,
  type StrategyName,
} from '../../src/domain/types.js';
import { applyPlanToModel, buildPlan, PlanError } from '../../src/strategies/index.js';
import { checkBudgets, checkEnd, checkPlan, DEPLOY, input, machine, settings, TARGET } from './fixtures.js';

const GROUPS = ['web', 'worker', 'cron'];
const RELEASES = ['v1', 'v2', TARGET];

const budget = (maxCount: number): fc.Arbitrary<MachineBudget> =>
  fc.oneof(
    fc.integer({ min: 0, max: maxCount }).map((count) => ({ count })),
    fc.integer({ min: 1, max: 100 }).map((p) => ({ fraction: p / 100 })),
  );

interface MachineSeed {
  release: string;
  state: Machine['state'];
  health: Machine['health'];
  cordoned: boolean;
  role: MachineRole;
  ours: boolean;
}

const machineSeed: fc.Arbitrary<Omit<MachineSeed, 'cordoned'>> = fc.record({
  release: fc.constantFrom(...RELEASES),
  state: fc.constantFrom<Machine['state']>(
    'started',
    'started',
    'started',
    'started',
    'started',
    'stopped',
    'failed',
    'starting',
  ),
  health: fc.constantFrom<Machine['health']>('passing', 'passing', 'passing', 'unknown', 'critical'),
  role: fc.constantFrom<MachineRole>(
    'serving',
    'serving',
    'serving',
    'serving',
    'serving',
    'serving',
    'serving',
    'serving',
    'green',
    'canary',
    'surge',
  ),
  ours: fc.boolean(),
});

const seedArb: fc.Arbitrary<MachineSeed> = fc
  .tuple(machineSeed, fc.integer({ min: 0, max: 9 }))
  .map(([s, roll]) => ({ ...s, cordoned: roll === 0 }));

export interface Scenario {
  groups: { name: string; count: number; seeds: MachineSeed[] }[];
  removed: MachineSeed[];
  strategy: StrategyName;
  maxUnavailable: MachineBudget;
  maxSurge: MachineBudget;
  maxExtraTotal: number | undefined;
  pause: boolean;
}

export const scenarioArb = (strategies: readonly StrategyName[] = STRATEGIES): fc.Arbitrary<Scenario> =>
  fc.record({
    groups: fc.subarray(GROUPS, { minLength: 1, maxLength: 3 }).chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          fc.array(seedArb, { maxLength: 60 }).chain((seeds) => {
            const serving = seeds.filter((x) => x.role === 'serving').length;
            // Mostly the fleet's own size (a plain deploy), sometimes a little off, sometimes anything.
            const count = fc.oneof(
              { arbitrary: fc.constant(serving), weight: 3 },
              { arbitrary: fc.integer({ min: -3, max: 3 }).map((d) => Math.max(0, serving + d)), weight: 2 },
              { arbitrary: fc.integer({ min: 0, max: 60 }), weight: 1 },
            );
            return fc.record({ name: fc.constant(name), count, seeds: fc.constant(seeds) });
          }),
        ),
      ),
    ),
    removed: fc.array(seedArb, { maxLength: 4 }),
    strategy: fc.constantFrom(...strategies),
    maxUnavailable: budget(5),
    maxSurge: budget(8),
    maxExtraTotal: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
    pause: fc.boolean(),
  });

function toMachine(group: string, i: number, s: MachineSeed): Machine {
  const extra = s.role !== 'serving';
  return machine(`${group}-${String(i).padStart(3, '0')}`, {
    group,
    release: s.release,
    state: s.state,
    health: s.state === 'started' ? s.health : 'unknown',
    cordoned: extra ? true : s.cordoned,
    role: s.role,
    ...(s.ours ? { deployId: DEPLOY } : { deployId: 'd0' }),
    ...(extra ? { launchId: `${s.ours ? DEPLOY : 'd0'}:${group}:${s.role}:${i}` } : {}),
  });
}

export function toInput(sc: Scenario): PlanInput {
  const fleet: Machine[] = [];
  for (const g of sc.groups) g.seeds.forEach((s, i) => fleet.push(toMachine(g.name, i, s)));
  sc.removed.forEach((s, i) => fleet.push(toMachine('old-group', i, s)));
  // Not ours: another environment's machine and a release-command machine are left alone.
  fleet.push(machine('other-env-0', { env: 'staging', release: 'v1' }));
  fleet.push(
    machine('release-cmd-0', {
      role: 'release-command',
      release: TARGET,
      cordoned: true,
      deployId: DEPLOY,
      launchId: `${DEPLOY}:release`,
    }),
  );
  return input(
    fleet,
    Object.fromEntries(sc.groups.map((g) => [g.name, g.count])),
    settings(sc.strategy, {
      maxUnavailable: sc.maxUnavailable,
      maxSurge: sc.maxSurge,
      ...(sc.maxExtraTotal !== undefined
        ? { maxExtraTotal: sc.maxExtraTotal, surgeReason: `budget allows ${sc.maxExtraTotal}` }
        : {}),
      pauseBeforeCutover: sc.pause,
    }),
  );
}

/** Build, or return the PlanError after checking that the refusal is legitimate. */
export function planOrRefusal(inp: PlanInput): Plan | PlanError {
  try {
    return buildPlan(inp);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    const s = inp.settings;
    const zeroU = inp.groups.some((g) => resolveBudget(s.maxUnavailable, g.count) === 0);
    if (s.strategy === 'rolling') assert.ok(zeroU, `rolling refused without a zero max_unavailable: ${err.message}`);
    else if (s.strategy === 'canary')
      assert.ok(zeroU || s.maxExtraTotal !== undefined, `canary refused: ${err.message}`);
    else if (s.strategy === 'bluegreen')
      assert.ok(s.maxExtraTotal !== undefined, `bluegreen refused without a budget: ${err.message}`);
    else if (s.strategy === 'waves') assert.ok(zeroU, `waves refused although max_unavailable > 0: ${err.message}`);
    else assert.fail(`immediate never refuses: ${err.message}`);
    return err;
  }
}

/** Launch ids a plan creates that did not exist in its input. */
export function newLaunches(inp: PlanInput, steps: Step[]): number {
  const existing = new Set(inp.fleet.map((m) => m.launchId));
  return steps.filter((s) => s.kind === 'create' && !existing.has(s.launchId)).length;
}

/**
 * The model fleet after the first `full` waves and a random part of the next one: each step of it is
 * skipped, done, or cut off halfway (cordoned but not updated; created but not yet checked; drained but
 * not destroyed; a cutover that promoted some machines and cordoned some).
 */
export function interrupted(
  inp: PlanInput,
  plan: Plan,
  full: number,
  choices: number[],
): { fleet: Machine[]; doneSteps: number; partial: boolean } {
  let fleet = applyPlanToModel(inp.fleet, plan, { waves: full });
  const wave = plan.waves[full];
  if (!wave) return { fleet, doneSteps: 0, partial: false };
  const whole: Step[] = [];
  const halves: Step[] = [];
  wave.steps.forEach((s, i) => {
    const c = (choices[i % Math.max(1, choices.length)] ?? 0) % 3;
    if (c === 1) whole.push(s);
    if (c === 2) halves.push(s);
  });
  fleet = applyPlanToModel(fleet, { ...plan, waves: [{ ...wave, steps: whole }] });
  const byId = new Map(fleet.map((m) => [m.id, m]));
  const byLaunch = new Map(fleet.filter((m) => m.launchId).map((m) => [m.launchId!, m]));
  const patch = (m: Machine | undefined, p: Partial<Machine>) => {
    if (m) byId.set(m.id, { ...m, ...p });
  };
  for (const s of halves) {
    switch (s.kind) {
      case 'update':
        // Cordoned (if the step cordons) and restarting on the new release, or crashed on it.
        patch(byId.get(s.machineId), {
          cordoned: s.cordon || byId.get(s.machineId)!.cordoned,
          release: s.to,
          state: s.machineId.endsWith('3') ? 'failed' : 'starting',
          health: 'unknown',
          deployId: inp.deployId,
        });
        break;
      case 'create':
        if (!byLaunch.has(s.launchId)) {
          const m = machine(`half:${s.launchId}`, {
            group: s.group,
            release: s.release,
            role: s.role,
            cordoned: true,
            state: 'starting',
            health: 'unknown',
            deployId: inp.deployId,
            launchId: s.launchId,
          });
          byId.set(m.id, m);
        }
        break;
      case 'cutover': {
        const refs = s.promote.slice(0, Math.ceil(s.promote.length / 2));
        for (const r of refs) {
          const m = 'machineId' in r ? byId.get(r.machineId) : byLaunch.get(r.launchId);
          patch(m && byId.get(m.id), { role: 'serving', cordoned: false });
        }
        if (refs.length === s.promote.length)
          for (const id of s.cordon.slice(0, Math.floor(s.cordon.length / 2))) patch(byId.get(id), { cordoned: true });
        break;
      }
      case 'destroy': {
        const m = 'machineId' in s.machine ? byId.get(s.machine.machineId) : byLaunch.get(s.machine.launchId);
        if (s.drain) patch(m && byId.get(m.id), { cordoned: true, state: 'stopped', health: 'unknown' });
        break;
      }
      case 'pause':
        break;
    }
  }
  const doneSteps = plan.waves.slice(0, full).reduce((n, w) => n + w.steps.length, 0) + whole.length;
  return { fleet: [...byId.values()], doneSteps, partial: halves.length > 0 };
}

export function checkAll(inp: PlanInput, plan: Plan): void {
  checkPlan(inp, plan);
  checkBudgets(inp, plan);
  checkEnd(inp, applyPlanToModel(inp.fleet, plan));
}
