// One machine as the simulated fleet keeps it, and a saved fleet: its shape (what `sim` fleets persist
// between CLI runs through the store), and how a saved machine is written and settled back.

import type { FleetScope, HealthState, Machine } from '../../domain/types.js';
import type { MachineDraws } from './keyed-draws.js';
import type { Chain } from './lifecycle-chain.js';

/** Where a machine is headed; what it settles to when a saved fleet is loaded mid-transition. */
export type SimTarget = 'started' | 'stopped' | 'destroyed';

/** One machine as the sim keeps it. `machine` is mutated in place; callers only ever get copies. */
export interface SimMachineRecord {
  machine: Machine;
  scopeKey: string;
  target: SimTarget;
  /** MachineSpec.env (environment variables), kept as given. */
  machineEnv?: Record<string, string>;
  command?: string;
  /** instanceVersions this machine silently reverted from (flyctl#4921). */
  revertedFrom: string[];
  /** Release of the last silent revert's lost update. */
  revertedRelease?: string;
  /** The lifecycle in flight; cancelled when the next change supersedes it. */
  chain?: Chain;
  /** How many latency draws of each op this machine has had (the k of keyed-draws.ts), by the op's slot there. */
  draws?: MachineDraws;
}

/** A saved machine: the public fields plus what the sim needs to settle it. */
export type SavedSimMachine = Machine & {
  target: SimTarget;
  machineEnv?: Record<string, string>;
  command?: string;
  revertedFrom?: string[];
  revertedRelease?: string;
};

export interface SimFleetState {
  nextMachine: number;
  nextVersion: number;
  machines: SavedSimMachine[];
  /** Scopes that have ever had a machine (so `seedIfNew` seeds an environment only once). */
  scopes?: FleetScope[];
}

export function scopeKey(scope: FleetScope): string {
  return `${scope.app}\u0000${scope.env}`;
}

/** A copy for callers: the fleet mutates its machines in place. */
export function copyMachine(machine: Machine): Machine {
  return { ...machine };
}

/** A machine as a saved fleet keeps it. */
export function savedMachine(record: SimMachineRecord): SavedSimMachine {
  const saved: SavedSimMachine = { ...record.machine, target: record.target };
  if (record.machineEnv) saved.machineEnv = { ...record.machineEnv };
  if (record.command !== undefined) saved.command = record.command;
  if (record.revertedFrom.length > 0) saved.revertedFrom = [...record.revertedFrom];
  if (record.revertedRelease !== undefined) saved.revertedRelease = record.revertedRelease;
  return saved;
}

/**
 * A saved machine settled where it was headed (see SimFleet.importState), with `settledHealth` of its
 * release; undefined when it is gone (destroyed, or a release command that ran and destroyed itself).
 */
export function settledMachine(
  saved: SavedSimMachine,
  settledHealth: (release: string) => HealthState | 'failed',
): SimMachineRecord | undefined {
  const { target, machineEnv, command, revertedFrom, revertedRelease, ...machine } = saved;
  if (target === 'destroyed' || machine.state === 'destroying' || machine.state === 'destroyed') return undefined;
  if (target === 'stopped') {
    if (machine.state !== 'failed') machine.state = 'stopped';
    machine.health = machine.state === 'failed' ? 'critical' : 'unknown';
  } else if (machine.state !== 'failed') {
    const settled = settledHealth(machine.release);
    if (machine.role === 'release-command' && settled !== 'failed') return undefined; // ran and destroyed itself
    machine.state = settled === 'failed' ? 'failed' : 'started';
    machine.health = settled === 'failed' ? 'critical' : settled;
  }
  const record: SimMachineRecord = {
    machine,
    scopeKey: scopeKey({ app: machine.app, env: machine.env }),
    target,
    revertedFrom: revertedFrom ?? [],
  };
  if (machineEnv) record.machineEnv = machineEnv;
  if (command !== undefined) record.command = command;
  if (revertedRelease !== undefined) record.revertedRelease = revertedRelease;
  return record;
}
