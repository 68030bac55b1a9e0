// The shapes `sim serve`'s backend is configured with, counts what it did in, and saves its state as.

import type { Clock } from '../../../domain/clock.js';
import type { SimOptionsInput } from '../resolve-options.js';
import type { SimProviderSettings, SimState } from '../sim-provider.js';
import type { DestroyedRecord } from './destroyed-machines.js';
import type { MachineExtra } from './machine-json.js';
import type { AppRecord } from './sim-apps.js';
import type { LeaseRecord } from './sim-leases.js';
import type { VolumeRecord } from './volumes.js';

export interface BackendFaults {
  /** The next `createDelayCount` creates answer this much later (the machine exists at once): client timeouts. */
  createDelayMs: number;
  createDelayCount: number;
  /** The delay comes before the machine is made, not after: a slow API applying a create the client gave up on. */
  createLandsLate?: boolean;
  /** With createLandsLate: the late create takes its machine name on arrival, before its delay. */
  createNameFirst?: boolean;
  /** The next `actionDelayCount` start, stop, cordon or uncordon requests apply this much later (a slow API). */
  actionDelayMs?: number;
  actionDelayCount?: number;
  /** A machine 404s on everything but list for this long after its create. */
  eventualConsistencyMs: number;
}

export interface BackendStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  /**
   * Every accepted machine update: which machine went to which release for which runway deploy
   * (metadata `runway_deploy`). Crash tests check from it that no deploy updated a machine twice.
   */
  updates: { machineId: string; release: string; deployId: string | null }[];
  /**
   * Every machine made by a create (answered or not), with runway's launch id: no launch may make two.
   * `duplicateOf`: a machine of the same launch not destroyed when this one was made (a launch made
   * twice), null when there was none (a first create, or a launch made again after its machine was gone).
   */
  creates: { machineId: string; launchId: string | null; deployId: string | null; duplicateOf?: string | null }[];
}

/** The whole server state as JSON (`--state FILE`). */
export interface SimServeState {
  format: 'runway-sim-serve/1';
  savedAtMs: number;
  sim: SimState;
  apps: AppRecord[];
  machines: [string, MachineExtra][];
  leases: [string, LeaseRecord][];
  /** Every accepted update so far (BackendStats.updates), so counts survive a restart. */
  updates?: BackendStats['updates'];
  creates?: BackendStats['creates'];
  /** Volumes (absent in files saved before volumes were modelled). */
  volumes?: VolumeRecord[];
  /** Machine names taken and the sim's launch serial (absent in older files: rebuilt, machine-names.ts). */
  names?: { names: [string, string][]; serial: number };
  /** Destroyed machines include_deleted lists (absent in older files: none listed). */
  destroyed?: [string, DestroyedRecord][];
}

export interface BackendOptions {
  clock: Clock;
  sim?: SimOptionsInput;
  simSettings?: SimProviderSettings;
  faults?: Partial<BackendFaults>;
  /** Owner shown on leases (Fly shows the token's user). */
  leaseOwner?: string;
  org?: string;
}
