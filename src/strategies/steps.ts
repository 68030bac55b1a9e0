// Small builders shared by the strategies: steps, draft waves, and the surplus a group sheds.

import type { CreateStep, DestroyStep, MachineRef, Step, UpdateStep, WaveKind } from '../domain/plan.js';
import type { Machine, MachineRole } from '../domain/types.js';
import type { GroupView } from './fleet-view.js';

/** A wave before it gets its index. */
export interface DraftWave {
  kind: WaveKind;
  label: string;
  steps: Step[];
  window?: Record<string, number>;
  regions?: string[];
}

/** What one strategy decided; `buildPlan` adds leftovers, removed groups, indexes and the estimate. */
export interface StrategyResult {
  waves: DraftWave[];
  /**
   * Destroys that must happen before anything else and need no capacity budget: surplus serving machines
   * (beyond the desired count) and adoptable extras the strategy does not need.
   */
  prelude: Step[];
  notes: string[];
}

export function refOf(m: Machine): MachineRef {
  return { machineId: m.id };
}

export function update(m: Machine, to: string, cordon: boolean, gate: 'checks' | 'none'): UpdateStep {
  return { kind: 'update', machineId: m.id, group: m.group, from: m.release, to, cordon, gate };
}

/** Every create is cordoned and gated on checks: no traffic reaches a new machine before it passes them. */
export function create(
  launchId: string,
  group: string,
  release: string,
  role: MachineRole,
  promote: boolean,
): CreateStep {
  return { kind: 'create', launchId, group, release, role, cordoned: true, gate: 'checks', promote };
}

/**
 * Re-gate an adopted extra that has not passed its checks yet: a create with its own launch id is
 * idempotent (the provider returns the existing machine), so the step only waits for the gate.
 */
export function regate(m: Machine, role: MachineRole, promote: boolean): CreateStep {
  return create(m.launchId!, m.group, m.release, role, promote);
}

export function destroy(ref: MachineRef, group: string, drain: boolean): DestroyStep {
  return { kind: 'destroy', machine: ref, group, drain };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Interleave per-group wave sequences: wave i holds every group's i-th batch. Empty batches are kept
 * in place (a group may start later); fully empty waves are dropped.
 */
export function zipGroups(perGroup: Step[][][]): Step[][] {
  const length = Math.max(0, ...perGroup.map((w) => w.length));
  const out: Step[][] = [];
  for (let i = 0; i < length; i++) {
    const steps: Step[] = [];
    for (const waves of perGroup) steps.push(...(waves[i] ?? []));
    if (steps.length > 0) out.push(steps);
  }
  return out;
}

/**
 * Merge per-group lists into one, each list spread evenly over the result in proportion to its length
 * (item i of a list of n sits at (i + ½) / n; ties keep list order). Stable within each list.
 */
export function interleaveByShare<T>(lists: readonly (readonly T[])[]): T[] {
  const keyed = lists.flatMap((list, g) => list.map((item, i) => ({ item, g, key: (i + 0.5) / list.length })));
  keyed.sort((a, b) => a.key - b.key || a.g - b.g);
  return keyed.map((k) => k.item);
}

/**
 * A group with more serving machines than desired sheds `count` of them: machines that need work
 * before done ones, and among those the ones already out of traffic first (so shedding costs no
 * capacity). Returns the machines to destroy and the old machines that remain (still sorted).
 */
export function shed(group: GroupView, count: number): { destroyed: Machine[]; old: Machine[]; done: Machine[] } {
  if (count <= 0) return { destroyed: [], old: group.old, done: group.done };
  const fromOld = Math.min(count, group.old.length);
  const fromDone = count - fromOld;
  return {
    destroyed: [...group.old.slice(0, fromOld), ...group.done.slice(group.done.length - fromDone)],
    old: group.old.slice(fromOld),
    done: group.done.slice(0, group.done.length - fromDone),
  };
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${count(n)} ${n === 1 ? word : many}`;
}

/** 12345 → "12,345" (no locale lookup: output is the same everywhere). */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
