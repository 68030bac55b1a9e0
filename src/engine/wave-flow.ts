// Pure helpers of the executor's wave flow: merging windowed waves into one flow, and which steps
// take machines out of traffic or put them back (the window's slots).

import type { Step, Wave } from '../domain/plan.js';
import type { Machine } from '../domain/types.js';
import type { StepContext } from './step-runner.js';

/** One wave standing for a run of windowed waves (or the single wave itself). */
export function mergeWaves(waves: Wave[]): Wave {
  if (waves.length === 1) return waves[0]!;
  const updates = waves.reduce((n, w) => n + w.steps.filter((s) => s.kind === 'update').length, 0);
  const others = waves.reduce((n, w) => n + w.steps.length, 0) - updates;
  const window = Object.entries(waves[0]!.window ?? {})
    .map(([g, n]) => `${g} ${n}`)
    .join(', ');
  return {
    index: waves[0]!.index,
    kind: 'batch',
    label: `waves ${waves[0]!.index + 1}-${waves.at(-1)!.index + 1} as one rolling window: ${updates} updates${others ? `, ${others} other steps` : ''} (starting slack ${window})`,
    steps: waves.flatMap((w) => w.steps),
    ...(waves[0]!.window ? { window: waves[0]!.window } : {}),
    ...(waves[0]!.regions ? { regions: waves[0]!.regions } : {}),
  };
}

export function stepGroup(step: Step): string | undefined {
  return step.kind === 'update' || step.kind === 'destroy' || step.kind === 'create' ? step.group : undefined;
}

/** Groups of the machines a step put into traffic that were not in it when the flow began. */
export function promotedGroups(step: Step, ctx: StepContext): string[] {
  if (step.kind === 'create') return step.promote ? [step.group] : [];
  // A machine that was out of traffic (cordoned by a run that died, or failed) and comes back checked.
  if (step.kind === 'update')
    return step.cordon && step.gate === 'checks' && !takesOutOfTraffic(step, ctx.known) ? [step.group] : [];
  if (step.kind === 'cutover') {
    return step.promote.flatMap((ref) => {
      const id = 'machineId' in ref ? ref.machineId : ctx.idByLaunch.get(ref.launchId);
      const group = id ? ctx.known.get(id)?.group : undefined;
      return group ? [group] : [];
    });
  }
  return [];
}

/** Whether the step takes a machine that is in traffic now out of it (so it needs a window slot). */
export function takesOutOfTraffic(step: Step, known: Map<string, Machine>): boolean {
  if (step.kind === 'update') {
    const m = known.get(step.machineId);
    return !m || (m.role === 'serving' && !m.cordoned && m.state !== 'failed');
  }
  if (step.kind === 'destroy' && step.drain) {
    const m = 'machineId' in step.machine ? known.get(step.machine.machineId) : undefined;
    return !m || (m.role === 'serving' && !m.cordoned && m.state !== 'failed');
  }
  return false;
}

export function stepMachine(step: Step): string | null {
  switch (step.kind) {
    case 'update':
      return step.machineId;
    case 'destroy':
      return 'machineId' in step.machine ? step.machine.machineId : null;
    default:
      return null;
  }
}

export function preview(ids: string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;
}
