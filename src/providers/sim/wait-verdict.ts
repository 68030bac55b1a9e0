// What a wait for a sim machine makes of the machine's latest change: met, failed (exited, stopped,
// reverted, gone), or not yet (machine-waiters.ts judges the rest). Judged on every change, so a wait never polls.

import type { Machine } from '../../domain/types.js';
import { describeCondition, ProviderError, type WaitCondition } from '../contract.js';
import { goneError, machineVerdict, type VerdictWords, type WaitVerdict } from '../machine-waiters.js';
import { copyMachine, type SimMachineRecord } from './sim-machine.js';

export function waitVerdict(
  closed: boolean,
  tombstones: ReadonlyMap<string, { scopeKey: string; machine: Machine }>,
  key: string,
  id: string,
  record: SimMachineRecord | undefined,
  condition: WaitCondition,
): WaitVerdict {
  if (closed)
    return { error: new ProviderError('unavailable', 'sim provider is closed', { machineId: id, op: 'wait' }) };
  if (!record || record.scopeKey !== key) {
    const tomb = tombstones.get(id);
    if (condition.state === 'destroyed' && tomb && tomb.scopeKey === key) return { machine: copyMachine(tomb.machine) };
    return { error: goneError('', id, '') };
  }
  // The revert is told as a string, not by a `words.reverted` closure: this runs on every change of a waited machine.
  const m = record.machine;
  const revertedWhy = reverted(record, m, condition)
    ? `reverted: it came back on ${m.release} (${m.instanceVersion}) instead of ${describeCondition(condition)}`
    : undefined;
  return machineVerdict(id, m, condition, SIM_WORDS, revertedWhy);
}

const SIM_WORDS: VerdictWords = {
  exited: (m) => `exited (failed) on ${m.release} (${m.instanceVersion})`,
  copy: copyMachine,
};

/** Whether the machine silently went back from what the wait is pinned to (its instance, or else its release). */
function reverted(record: SimMachineRecord, m: Machine, condition: WaitCondition): boolean {
  const pinnedVersion = condition.instanceVersion;
  if (pinnedVersion !== undefined) return record.revertedFrom.includes(pinnedVersion);
  return (
    condition.release !== undefined && record.revertedRelease === condition.release && m.release !== condition.release
  );
}
