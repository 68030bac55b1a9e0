// The observed fleet as the strategies see it: per desired process group, which serving machines are
// done and which still need work, which extra machines of this deploy can be adopted, and what is
// left over. Pure: no I/O, no clock.

import type { PlanInput } from '../domain/plan.js';
import type { Machine, MachineRole } from '../domain/types.js';

/** Roles of the extra machines strategies create next to the serving fleet. */
export type ExtraRole = 'green' | 'canary' | 'surge';

const EXTRA_ROLES: readonly MachineRole[] = ['green', 'canary', 'surge'];

/** The machine is gone or going: nothing can use it. */
export function isGone(m: Machine): boolean {
  return m.state === 'destroying' || m.state === 'destroyed';
}

/**
 * In traffic (or able to take it, as a stopped machine that autostarts does): a serving machine that is
 * neither cordoned nor failed. What a group's availability is counted in.
 */
export function isAvailable(m: Machine): boolean {
  return m.role === 'serving' && !m.cordoned && m.state !== 'failed' && !isGone(m);
}

/** Runs `release` and passes its checks right now: what a gate waits for. */
export function isChecked(m: Machine, release: string): boolean {
  return m.release === release && m.state === 'started' && m.health === 'passing';
}

/** A serving machine with nothing left to do: on the target, not failed, in traffic. */
export function isDone(m: Machine, target: string): boolean {
  return m.release === target && isAvailable(m);
}

/**
 * Order of machines that need work (and of surplus to shed): those already out of traffic first
 * (changing them costs no capacity), then those not on the target, then by id.
 */
export function compareWork(target: string): (a: Machine, b: Machine) => number {
  return (a, b) => {
    const ua = isAvailable(a) ? 1 : 0;
    const ub = isAvailable(b) ? 1 : 0;
    if (ua !== ub) return ua - ub;
    const ta = a.release === target ? 1 : 0;
    const tb = b.release === target ? 1 : 0;
    if (ta !== tb) return ta - tb;
    return compareIds(a.id, b.id);
  };
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface GroupView {
  name: string;
  desired: number;
  /** Serving machines on the target, not failed, not cordoned: nothing to do. Sorted by id. */
  done: Machine[];
  /**
   * Serving machines that need work: another release, or failed, or cordoned (left out of traffic by an
   * interrupted step). Sorted: out of traffic first, then not on the target, then by id.
   */
  old: Machine[];
  /**
   * Extra machines of this deploy in the strategy's extra role, on the target, not failed, with a launch
   * id: candidates for adoption. Checked ones first, then by launch id.
   */
  adoptable: Machine[];
  /** A serving machine of this deploy already runs the target: the deploy has made progress here. */
  progressed: boolean;
}

/** Why a machine is destroyed first without draining. */
export type LeftoverReason =
  'other-deploy' | 'other-release' | 'failed' | 'wrong-role' | 'destroying' | 'unconfigured-group';

export interface Leftover {
  machine: Machine;
  reason: LeftoverReason;
}

export interface FleetView {
  groups: GroupView[];
  /** Extra machines nobody can use (no traffic on them): destroyed first, without draining. */
  leftovers: Leftover[];
  /** Serving machines of process groups no longer configured: destroyed (drained) at the end. */
  removed: Machine[];
  /** The release most serving machines not on the target run (rollback target). */
  previous?: string;
  /** Serving machines observed, by release (for notes). */
  servingByRelease: Map<string, number>;
  launchIds: LaunchIds;
}

/**
 * Allocates deterministic launch ids `${deployId}:${group}:${role}:${n}`, choosing the smallest n not
 * carried by any observed machine, so re-planning never hands out a launch id that exists.
 */
export class LaunchIds {
  private readonly next = new Map<string, number>();

  constructor(
    private readonly deployId: string,
    private readonly used: Set<string>,
  ) {}

  allocate(group: string, role: MachineRole): string {
    const key = `${group}:${role}`;
    let n = this.next.get(key) ?? 0;
    let id = `${this.deployId}:${group}:${role}:${n}`;
    while (this.used.has(id)) {
      n++;
      id = `${this.deployId}:${group}:${role}:${n}`;
    }
    this.used.add(id);
    this.next.set(key, n + 1);
    return id;
  }
}

/** Classify the observed fleet. `adoptRole` is the extra role the strategy can adopt, if any. */
export function viewFleet(input: PlanInput, adoptRole: ExtraRole | undefined): FleetView {
  const target = input.target.version;
  const byName = new Map<string, GroupView>();
  const groups: GroupView[] = input.groups.map((g) => {
    const view: GroupView = { name: g.name, desired: g.count, done: [], old: [], adoptable: [], progressed: false };
    byName.set(g.name, view);
    return view;
  });
  const leftovers: Leftover[] = [];
  const removed: Machine[] = [];
  const used = new Set<string>();
  const servingByRelease = new Map<string, number>();
  const previousCounts = new Map<string, number>();

  for (const m of input.fleet) {
    if (m.launchId !== undefined) used.add(m.launchId);
    // Another app or environment, or a release-command machine: not this plan's business.
    if (m.app !== input.app || m.env !== input.env || m.role === 'release-command') continue;
    if (m.state === 'destroyed') continue;
    if (m.state === 'destroying') {
      leftovers.push({ machine: m, reason: 'destroying' });
      continue;
    }
    const group = byName.get(m.group);
    if (m.role === 'serving') {
      servingByRelease.set(m.release, (servingByRelease.get(m.release) ?? 0) + 1);
      if (m.release !== target) previousCounts.set(m.release, (previousCounts.get(m.release) ?? 0) + 1);
      if (!group) {
        removed.push(m);
      } else if (isDone(m, target)) {
        group.done.push(m);
        if (m.deployId === input.deployId) group.progressed = true;
      } else {
        group.old.push(m);
        if (m.deployId === input.deployId && m.release === target && m.state !== 'failed') group.progressed = true;
      }
      continue;
    }
    if (!EXTRA_ROLES.includes(m.role)) continue;
    if (!group) leftovers.push({ machine: m, reason: 'unconfigured-group' });
    else if (m.deployId !== input.deployId || m.launchId === undefined)
      leftovers.push({ machine: m, reason: 'other-deploy' });
    else if (m.release !== target) leftovers.push({ machine: m, reason: 'other-release' });
    else if (m.state === 'failed') leftovers.push({ machine: m, reason: 'failed' });
    else if (m.role !== adoptRole) leftovers.push({ machine: m, reason: 'wrong-role' });
    else group.adoptable.push(m);
  }

  for (const g of groups) {
    g.done.sort((a, b) => compareIds(a.id, b.id));
    g.old.sort(compareWork(target));
    g.adoptable.sort((a, b) => {
      const ca = isChecked(a, target) ? 0 : 1;
      const cb = isChecked(b, target) ? 0 : 1;
      return ca - cb || compareIds(a.launchId ?? '', b.launchId ?? '');
    });
  }
  leftovers.sort((a, b) => compareIds(a.machine.id, b.machine.id));
  removed.sort((a, b) => compareIds(a.id, b.id));

  let previous: string | undefined;
  let best = 0;
  for (const [release, n] of [...previousCounts].sort((a, b) => compareIds(a[0], b[0]))) {
    if (n > best) {
      previous = release;
      best = n;
    }
  }

  return { groups, leftovers, removed, previous, servingByRelease, launchIds: new LaunchIds(input.deployId, used) };
}
