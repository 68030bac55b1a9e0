// Fleets, inputs and plan checkers shared by the strategy tests.

import assert from 'node:assert/strict';
import type { Plan, PlanInput, Step } from '../../src/domain/plan.js';
import { resolveBudget, type Machine, type StrategyName, type StrategySettings } from '../../src/domain/types.js';
import { applyPlanToModel, simulatePlan } from '../../src/strategies/index.js';

export const APP = 'mechanic';
export const ENV = 'production';
export const DEPLOY = 'd1';
export const TARGET = 'v3';

export function machine(id: string, over: Partial<Machine> = {}): Machine {
  return {
    id,
    app: APP,
    env: ENV,
    group: 'web',
    release: 'v2',
    instanceVersion: `${id}@1`,
    role: 'serving',
    state: 'started',
    health: 'passing',
    cordoned: false,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...over,
  };
}

/** `n` serving machines `${group}-0..n-1` on `release`. */
export function machines(n: number, group = 'web', release = 'v2', over: Partial<Machine> = {}): Machine[] {
  return Array.from({ length: n }, (_, i) => machine(`${group}-${i}`, { group, release, ...over }));
}

export function settings(strategy: StrategyName, over: Partial<StrategySettings> = {}): StrategySettings {
  return {
    strategy,
    maxUnavailable: { count: 1 },
    maxSurge: { count: 1 },
    maxConcurrency: 16,
    waitTimeoutMs: 60_000,
    convergenceTimeoutMs: 60_000,
    onFailure: 'rollback',
    pauseBeforeCutover: false,
    drainTimeoutMs: 1000,
    ...over,
  };
}

export function input(
  fleet: Machine[],
  groups: Record<string, number>,
  s: StrategySettings,
  target = TARGET,
): PlanInput {
  return {
    deployId: DEPLOY,
    app: APP,
    env: ENV,
    fleet,
    target: { version: target, image: `img:${target}`, createdAtMs: 0 },
    groups: Object.entries(groups).map(([name, count]) => ({ name, count })),
    settings: s,
  };
}

/** Compact shape of a plan's waves for exact assertions: `kind: step step ...`. */
export function shape(plan: Plan): string[] {
  return plan.waves.map((w) => `${w.kind}: ${w.steps.map(stepText).join(' ')}`);
}

export function stepText(s: Step): string {
  switch (s.kind) {
    case 'update':
      return `u(${s.machineId}${s.cordon ? '' : ',nc'}${s.gate === 'none' ? ',ng' : ''})`;
    case 'create':
      return `c(${s.launchId.replace(`${DEPLOY}:`, '')}${s.promote ? ',p' : ''})`;
    case 'cutover':
      return `cut(+${s.promote.map((r) => ('machineId' in r ? r.machineId : r.launchId.replace(`${DEPLOY}:`, ''))).join(',')} -${s.cordon.join(',')})`;
    case 'destroy':
      return `d(${'machineId' in s.machine ? s.machine.machineId : s.machine.launchId.replace(`${DEPLOY}:`, '')}${s.drain ? '' : ',nd'})`;
    case 'pause':
      return 'pause';
  }
}

const isOld = (m: Machine, target: string) =>
  m.role === 'serving' && (m.release !== target || m.state === 'failed' || m.cordoned);
const isChecked = (m: Machine, target: string) =>
  m.release === target && m.state === 'started' && m.health === 'passing';

function refKey(ref: { machineId: string } | { launchId: string }): string {
  return 'machineId' in ref ? `id:${ref.machineId}` : `launch:${ref.launchId}`;
}

/**
 * Every invariant a plan of any strategy must satisfy, checked against the input it was built from.
 * Returns nothing; throws an assertion error naming the broken rule.
 */
export function checkPlan(inp: PlanInput, plan: Plan): void {
  const target = inp.target.version;
  const desired = new Map(inp.groups.map((g) => [g.name, g.count]));
  const byId = new Map(inp.fleet.map((m) => [m.id, m]));
  const existingLaunch = new Map(inp.fleet.filter((m) => m.launchId).map((m) => [m.launchId!, m]));
  const strategy = inp.settings.strategy;

  // Structure.
  plan.waves.forEach((w, i) => {
    assert.equal(w.index, i, 'wave indexes are 0..n-1');
    assert.ok(w.steps.length > 0, `wave ${i} is not empty`);
  });

  // Touch each machine at most once; every old serving machine of a desired group exactly once.
  const touched = new Map<string, number>();
  const createdAt = new Map<string, number>();
  for (const w of plan.waves) {
    for (const s of w.steps) {
      if (s.kind === 'update') touched.set(`id:${s.machineId}`, (touched.get(`id:${s.machineId}`) ?? 0) + 1);
      if (s.kind === 'destroy') touched.set(refKey(s.machine), (touched.get(refKey(s.machine)) ?? 0) + 1);
      // bluegreen puts a checked machine on the target that was left out of traffic back in at the cutover.
      if (s.kind === 'cutover')
        for (const r of s.promote) if ('machineId' in r) touched.set(refKey(r), (touched.get(refKey(r)) ?? 0) + 1);
      if (s.kind === 'create') {
        assert.ok(!createdAt.has(s.launchId), `launch id ${s.launchId} is created once`);
        createdAt.set(s.launchId, w.index);
        assert.equal(s.cordoned, true, 'every create is cordoned');
        assert.equal(s.gate, 'checks', 'every create is gated on checks');
        assert.equal(s.release, target, 'creates are on the target');
        const existing = existingLaunch.get(s.launchId);
        if (existing) {
          // Re-gate of an adopted extra: only a usable extra of this deploy.
          assert.equal(existing.deployId, inp.deployId, 'a re-gated machine belongs to this deploy');
          assert.equal(existing.release, target);
          assert.notEqual(existing.state, 'failed');
          assert.equal(existing.role, s.role);
        } else {
          assert.match(s.launchId, new RegExp(`^${inp.deployId}:${s.group}:${s.role}:\\d+$`), 'launch id format');
        }
      }
    }
  }
  for (const [key, n] of touched) assert.equal(n, 1, `${key} is updated or destroyed once`);
  for (const m of inp.fleet) {
    if (m.app !== inp.app || m.env !== inp.env || m.role === 'release-command' || m.state === 'destroyed') {
      assert.ok(!touched.has(`id:${m.id}`), `${m.id} (not ours) is left alone`);
      continue;
    }
    if (desired.has(m.group) && isOld(m, target) && m.state !== 'destroying') {
      assert.equal(touched.get(`id:${m.id}`), 1, `old serving machine ${m.id} is touched exactly once`);
    }
  }
  for (const w of plan.waves) {
    for (const s of w.steps) {
      if (s.kind === 'update') {
        const m = byId.get(s.machineId);
        assert.ok(m, `update names an existing machine ${s.machineId}`);
        assert.ok(isOld(m, target), `update ${s.machineId} only touches machines that need work`);
        assert.equal(s.to, target);
        if (strategy !== 'immediate' || m.cordoned) {
          // Nothing serves the new release before it passes checks.
          assert.equal(s.cordon, true, `${strategy} updates cordon first`);
          assert.equal(s.gate, 'checks', `${strategy} updates are gated on checks`);
        }
      }
      if (s.kind === 'destroy' && 'launchId' in s.machine) {
        const at = createdAt.get(s.machine.launchId);
        assert.ok(at !== undefined && at < w.index, 'a destroy by launch id follows its create');
      }
      if (s.kind === 'destroy' && 'machineId' in s.machine) {
        const m = byId.get(s.machine.machineId);
        assert.ok(m, `destroy names an existing machine ${s.machine.machineId}`);
        if (m.role === 'serving' && desired.has(m.group) && !isOld(m, target)) {
          // Destroying a done machine only sheds a surplus.
          const serving = inp.fleet.filter(
            (x) => x.group === m.group && x.role === 'serving' && x.state !== 'destroying',
          ).length;
          assert.ok(
            serving > desired.get(m.group)!,
            `done machine ${m.id} destroyed only when ${m.group} has a surplus`,
          );
        }
      }
      if (s.kind === 'cutover') {
        for (const ref of s.promote) {
          if ('launchId' in ref) {
            const at = createdAt.get(ref.launchId);
            assert.ok(
              at !== undefined && at < w.index,
              `promoted launch ${ref.launchId} was created (and checked) in an earlier wave`,
            );
          } else {
            const m = byId.get(ref.machineId);
            assert.ok(m, 'promoted machine exists');
            const regatedAt = m.launchId !== undefined ? createdAt.get(m.launchId) : undefined;
            assert.ok(
              (regatedAt !== undefined && regatedAt < w.index) || isChecked(m, target),
              `promoted machine ${m.id} passed checks (observed, or gated in an earlier wave)`,
            );
          }
        }
      }
    }
  }
}

/** After the whole plan, in the model: every desired group at its count, all on target, in traffic, no extras. */
export function checkEnd(inp: PlanInput, fleetAfter: Machine[]): void {
  const target = inp.target.version;
  const ours = fleetAfter.filter(
    (m) => m.app === inp.app && m.env === inp.env && m.role !== 'release-command' && m.state !== 'destroyed',
  );
  for (const g of inp.groups) {
    const serving = ours.filter((m) => m.group === g.name);
    assert.equal(serving.length, g.count, `${g.name} ends with ${g.count} machines`);
    for (const m of serving) {
      assert.equal(m.role, 'serving', `${m.id} ends serving`);
      assert.equal(m.release, target, `${m.id} ends on ${target}`);
      assert.equal(m.cordoned, false, `${m.id} ends in traffic`);
      assert.notEqual(m.state, 'failed', `${m.id} ends not failed`);
    }
  }
  const groups = new Set(inp.groups.map((g) => g.name));
  for (const m of ours) assert.ok(groups.has(m.group), `${m.id} of unconfigured group ${m.group} is gone`);
}

/** Budgets the plan must keep, checked on the model. */
export function checkBudgets(inp: PlanInput, plan: Plan): void {
  const s = inp.settings;
  const run = simulatePlan(inp.fleet, plan, inp.groups);
  for (const w of run.waves) {
    const wave = plan.waves[w.index]!;
    for (const g of w.groups) {
      const name = g.group;
      const U = resolveBudget(s.maxUnavailable, g.desired);
      if (s.strategy === 'bluegreen')
        assert.equal(g.unavailableByPlan, 0, `bluegreen keeps ${name} at capacity (wave ${w.index})`);
      else if (s.strategy !== 'immediate') {
        // Rolling and canary batches: at most U machines; the spearhead is one.
        assert.ok(
          g.unavailableByPlan <= U,
          `${s.strategy}: wave ${w.index} takes ${g.unavailableByPlan} of ${name} out, budget ${U}`,
        );
      }
      if (w.creates > 0 && s.strategy === 'waves') {
        const S = resolveBudget(s.maxSurge, g.desired);
        assert.ok(
          g.liveDuring - g.desired <= S,
          `waves: ${name} has ${g.liveDuring - g.desired} extras in wave ${w.index}, max_surge ${S}`,
        );
      }
      if (w.creates > 0 && (s.strategy === 'rolling' || s.strategy === 'immediate')) {
        assert.ok(
          g.liveDuring <= g.desired,
          `${s.strategy} creates only up to the desired count (${name}, wave ${w.index})`,
        );
      }
    }
    if (w.creates > 0 && s.maxExtraTotal !== undefined && s.strategy !== 'rolling' && s.strategy !== 'immediate') {
      assert.ok(
        w.groupExtrasDuring <= s.maxExtraTotal,
        `${s.strategy}: ${w.groupExtrasDuring} extras in wave ${w.index}, connection budget ${s.maxExtraTotal}`,
      );
    }
    if (s.strategy === 'canary' && w.creates > 0)
      assert.ok(w.groupExtrasDuring <= inp.groups.length, 'canary: one extra per group');
    if (s.strategy === 'waves' && wave.kind === 'surge') {
      assert.ok(
        !wave.steps.some((st) => st.kind === 'update' || (st.kind === 'destroy' && st.drain)),
        'the surge wave touches no old machine',
      );
    }
  }
  assert.equal(
    plan.estimate.unavailablePeak,
    Math.max(0, ...run.waves.flatMap((w) => w.groups.map((g) => g.unavailableByPlan))),
  );
}

export function endFleet(inp: PlanInput, plan: Plan): Machine[] {
  return applyPlanToModel(inp.fleet, plan);
}
