// What a wait for a machine makes of the machine's latest change: met, failed (exited, stopped, reverted,
// gone), or not yet. Judged on every change, so a wait never polls.

import type { Machine } from '../../domain/types.js';
import { describeCondition, meets, ProviderError, type WaitCondition } from '../contract.js';
import { copyMachine, type SimMachineRecord } from './sim-machine.js';

export type Verdict = { machine: Machine } | { error: ProviderError } | undefined;

export function waitVerdict(
  closed: boolean,
  tombstones: ReadonlyMap<string, { scopeKey: string; machine: Machine }>,
  key: string,
  id: string,
  record: SimMachineRecord | undefined,
  condition: WaitCondition,
): Verdict {
  if (closed)
    return { error: new ProviderError('unavailable', 'sim provider is closed', { machineId: id, op: 'wait' }) };
  if (!record || record.scopeKey !== key) {
    const tomb = tombstones.get(id);
    if (condition.state === 'destroyed' && tomb && tomb.scopeKey === key) return { machine: copyMachine(tomb.machine) };
    return {
      error: new ProviderError('not_found', `machine ${id} not found (destroyed)`, {
        status: 404,
        machineId: id,
        op: 'wait',
      }),
    };
  }
  const m = record.machine;
  if (meets(m, condition)) return { machine: copyMachine(m) };
  if (m.state === 'failed') {
    return {
      error: new ProviderError(
        'machine_failed',
        `machine ${id} exited (failed) on ${m.release} (${m.instanceVersion})`,
        {
          machineId: id,
          op: 'wait',
        },
      ),
    };
  }
  const pinnedVersion = condition.instanceVersion;
  if (
    (pinnedVersion !== undefined && record.revertedFrom.includes(pinnedVersion)) ||
    (pinnedVersion === undefined &&
      condition.release !== undefined &&
      record.revertedRelease === condition.release &&
      m.release !== condition.release)
  ) {
    return {
      error: new ProviderError(
        'machine_failed',
        `machine ${id} reverted: it came back on ${m.release} (${m.instanceVersion}) instead of ${describeCondition(condition)}`,
        { machineId: id, op: 'wait' },
      ),
    };
  }
  if (condition.state === 'started' && m.state === 'stopped') {
    return {
      error: new ProviderError('machine_failed', `machine ${id} is stopped while waiting for it to start`, {
        machineId: id,
        op: 'wait',
      }),
    };
  }
  return undefined;
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** A wait condition in words, for error messages. */
