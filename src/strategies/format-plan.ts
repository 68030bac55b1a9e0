// A plan as human text, for `runway deploy --dry-run`. Compact by default (one line per wave, runs of
// identical waves folded into one line, so 10,000 machines still fit a screen); `verbose` lists every
// step.

import type { MachineRef, Plan, Step, Wave } from '../domain/plan.js';
import { regionsLabel } from './regions.js';
import { count as num } from './steps.js';

export interface FormatPlanOptions {
  /** List every step of every wave (and never fold waves). */
  verbose?: boolean;
}

export function formatPlan(plan: Plan, options: FormatPlanOptions = {}): string {
  const verbose = options.verbose ?? false;
  const lines: string[] = [];
  const counts = countSteps(plan.waves);
  const groups = new Set<string>();
  for (const w of plan.waves) for (const s of w.steps) if ('group' in s) groups.add(s.group);
  const byGroup = groups.size > 1;

  lines.push(`plan for ${plan.app}/${plan.env} (deploy ${plan.deployId})`);
  lines.push(`  strategy   ${plan.strategy}`);
  lines.push(`  target     ${plan.target}`);
  lines.push(`  previous   ${plan.previous ?? '(none)'}`);
  const machines = [
    counts.update ? `${num(counts.update)} to update` : '',
    counts.create ? `${num(counts.create)} to create` : '',
    counts.destroy ? `${num(counts.destroy)} to destroy` : '',
  ].filter(Boolean);
  lines.push(`  machines   ${machines.length ? machines.join(', ') : 'nothing to do'}`);
  lines.push(`  waves      ${num(plan.waves.length)}`);

  if (plan.notes.length > 0) {
    lines.push('notes');
    for (const note of plan.notes) lines.push(`  - ${note}`);
  }

  if (plan.waves.length > 0) {
    lines.push('waves');
    if (verbose) {
      for (const w of plan.waves) {
        lines.push(`  wave ${w.index} ${w.kind}${where(w)}: ${summarize(w, byGroup)}`);
        lines.push(`    ${w.label}`);
        for (const s of w.steps) lines.push(`    - ${describeStep(s)}`);
      }
    } else {
      for (let i = 0; i < plan.waves.length;) {
        const w = plan.waves[i]!;
        const text = summarize(w, byGroup);
        let j = i + 1;
        while (
          j < plan.waves.length &&
          plan.waves[j]!.kind === w.kind &&
          where(plan.waves[j]!) === where(w) &&
          summarize(plan.waves[j]!, byGroup) === text
        )
          j++;
        if (where(w) !== where(plan.waves[i - 1]))
          lines.push(
            `  region ${regionsLabel(w.regions ?? [])}${i === 0 ? ' first' : ' next, once the region before is done and checked'}:`,
          );
        if (j - i > 1) lines.push(`  waves ${w.index}–${plan.waves[j - 1]!.index} ${w.kind}${where(w)}, each: ${text}`);
        else lines.push(`  wave ${w.index} ${w.kind}${where(w)}: ${text}`);
        // Windowed waves after a non-windowed one (or first): say once that they flow.
        if (w.window && !plan.waves[i - 1]?.window) {
          lines.push(
            `    from here the waves flow as one rolling window: each group keeps desired − max_unavailable in traffic (slack now: ${windowText(w.window)}; each new machine adds one)`,
          );
        }
        i = j;
      }
    }
  }

  const e = plan.estimate;
  lines.push('estimate');
  lines.push(`  peak extra machines  ${num(e.extraMachinesPeak)}`);
  lines.push(
    `  unavailable peak     ${num(e.unavailablePeak)} (most machines of one group taken out of traffic at once)`,
  );
  const ops = Object.entries(e.apiCalls).map(([op, n]) => `${op} ${num(n)}`);
  lines.push(`  expected API calls   ${num(e.apiCallsTotal)}${ops.length ? ` (${ops.join(', ')})` : ''}`);
  return lines.join('\n');
}

/** ` [ord]` for a wave of a region phase, else nothing. */
function where(w: Wave | undefined): string {
  return w?.regions ? ` [${regionsLabel(w.regions)}]` : '';
}

function windowText(window: Record<string, number>): string {
  return Object.entries(window)
    .map(([group, n]) => `${num(n)} ${group}`)
    .join(', ');
}

function countSteps(waves: readonly Wave[]): Record<Step['kind'], number> {
  const counts: Record<Step['kind'], number> = { update: 0, create: 0, cutover: 0, destroy: 0, pause: 0 };
  for (const w of waves) for (const s of w.steps) counts[s.kind]++;
  return counts;
}

/** `132 updates (web 100, worker 32), 20 destroys (web 20)`. */
export function summarize(wave: Wave, byGroup: boolean): string {
  const parts: string[] = [];
  for (const [kind, word] of [
    ['update', 'update'],
    ['create', 'create'],
    ['destroy', 'destroy'],
  ] as const) {
    const steps = wave.steps.filter((s) => s.kind === kind) as Extract<Step, { group: string }>[];
    if (steps.length === 0) continue;
    let text = `${num(steps.length)} ${steps.length === 1 ? word : `${word}s`}`;
    if (byGroup) {
      const per = new Map<string, number>();
      for (const s of steps) per.set(s.group, (per.get(s.group) ?? 0) + 1);
      text += ` (${[...per].map(([g, n]) => `${g} ${num(n)}`).join(', ')})`;
    }
    parts.push(text);
  }
  for (const s of wave.steps) {
    if (s.kind === 'cutover') parts.push(`cutover: ${num(s.promote.length)} into traffic, ${num(s.cordon.length)} out`);
    if (s.kind === 'pause') parts.push(`pause: ${s.reason}`);
  }
  return parts.join(', ');
}

function ref(r: MachineRef): string {
  return 'machineId' in r ? r.machineId : `launch ${r.launchId}`;
}

function describeStep(s: Step): string {
  switch (s.kind) {
    case 'update': {
      const how = [s.cordon ? 'cordon' : '', `gate ${s.gate}`].filter(Boolean).join(', ');
      return `update ${s.group} ${s.machineId} ${s.from} → ${s.to} (${how})`;
    }
    case 'create': {
      const how = [s.cordoned ? 'cordoned' : 'in traffic', `gate ${s.gate}`, s.promote ? 'then serving' : '']
        .filter(Boolean)
        .join(', ');
      return `create ${s.group} ${s.role} ${s.launchId} on ${s.release} (${how})`;
    }
    case 'cutover':
      return `cutover: into traffic ${s.promote.map(ref).join(', ') || '(none)'}; out ${s.cordon.join(', ') || '(none)'}`;
    case 'destroy':
      return `destroy ${s.group} ${ref(s.machine)}${s.drain ? ' (drain)' : ''}`;
    case 'pause':
      return `pause: ${s.reason}`;
  }
}
