// What a running deploy tells the outside (CLI progress, later the dashboard's live view).

import type { Measurement } from '../domain/analysis.js';
import type { Plan, Step, Wave } from '../domain/plan.js';
import type { DeployStatus } from '../domain/types.js';
import type { MachineEvent } from '../providers/contract.js';

export type DeployPhase = 'release' | 'deploy' | 'converge' | 'rollback' | 'settle' | 'verify';

export type ProgressEvent =
  | { type: 'plan'; plan: Plan; round: number; phase: DeployPhase }
  | { type: 'phase'; phase: DeployPhase; message: string }
  | { type: 'wave-start'; wave: Wave; waves: number; phase: DeployPhase }
  | { type: 'wave-end'; wave: Wave; ok: boolean; phase: DeployPhase }
  | {
      type: 'step';
      step: Step;
      machineId: string | null;
      status: 'started' | 'succeeded' | 'failed' | 'skipped';
      error?: string;
    }
  | { type: 'dispatched'; atMs: number }
  | { type: 'converged'; atMs: number }
  | { type: 'machine'; event: MachineEvent }
  | { type: 'analysis'; measurement: Measurement; wave: number }
  | { type: 'release-step'; step: string; ok: boolean; summary: string; output: string[] }
  | { type: 'status'; status: DeployStatus; message?: string };

export type ProgressListener = (event: ProgressEvent) => void;

/** Counts of a wave's steps, for "wave 3/9: 40/132 done" lines. */
export interface WaveTally {
  index: number;
  label: string;
  total: number;
  started: number;
  succeeded: number;
  failed: number;
}
