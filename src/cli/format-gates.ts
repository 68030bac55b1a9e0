// What a deploy must get past besides its plan, for `runway deploy --dry-run`: the release steps that
// run before any serving machine changes, and the checks each new or updated machine must pass (on
// the target release, within wait_timeout) before the plan moves on. Pure: config in, text (or, for --json, data) out.

import type { CheckConfig, EnvironmentConfig, RunwayConfig } from '../config/types.js';
import { durationText } from '../config/values.js';
import type { StrategySettings } from '../domain/types.js';
import { tableRow } from './table.js';

/** The --json form of the gates, beside the plan in `runway deploy --dry-run --json`. */
export interface Gates {
  /** In order; the release command's entry names its command and timeout. */
  releaseSteps: { name: string; settings: Record<string, unknown>; command?: string; timeoutMs?: number }[];
  /** `gate`: each step waits on them; `convergence` (immediate): a machine not passing them within `withinMs` is a straggler. */
  checksDecide: 'gate' | 'convergence';
  withinMs: number;
  /** Every process group with the checks that apply to it (none: started on the target release is enough). */
  groups: { group: string; checks: CheckConfig[] }[];
}

export function gatesJson(
  config: Pick<RunwayConfig, 'app'>,
  env: Pick<EnvironmentConfig, 'releaseSteps'>,
  settings: Pick<StrategySettings, 'strategy' | 'waitTimeoutMs' | 'convergenceTimeoutMs'>,
): Gates {
  const rc = config.app.releaseCommand;
  const immediate = settings.strategy === 'immediate';
  return {
    releaseSteps: env.releaseSteps.map((step) =>
      step.name === 'release-command' && rc ? { ...step, command: rc.command, timeoutMs: rc.timeoutMs } : step,
    ),
    checksDecide: immediate ? 'convergence' : 'gate',
    withinMs: immediate ? settings.convergenceTimeoutMs : settings.waitTimeoutMs,
    groups: checksByGroup(config),
  };
}

function checksByGroup(config: Pick<RunwayConfig, 'app'>): Gates['groups'] {
  return config.app.processes.map((group) => ({
    group: group.name,
    checks: config.app.checks.filter((c) => c.group === undefined || c.group === group.name),
  }));
}

export function formatGates(
  config: Pick<RunwayConfig, 'app'>,
  env: Pick<EnvironmentConfig, 'releaseSteps'>,
  settings: Pick<StrategySettings, 'strategy' | 'waitTimeoutMs' | 'convergenceTimeoutMs'>,
): string {
  const lines: string[] = ['before any serving machine changes'];
  if (env.releaseSteps.length === 0) lines.push('  release steps  none');
  for (const [i, step] of env.releaseSteps.entries()) {
    const rc = config.app.releaseCommand;
    const text =
      step.name === 'release-command' && rc
        ? `release command \`${rc.command}\` once, on a throw-away machine of the target release (timeout ${durationText(rc.timeoutMs)}); failing it ends the deploy, nothing changed`
        : `${step.name}${
            Object.keys(step.settings).length
              ? ` (${Object.entries(step.settings)
                  .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
                  .join(', ')})`
              : ''
          }`;
    lines.push(`  ${i === 0 ? 'release steps  ' : '               '}${i + 1}. ${text}`);
  }
  lines.push(
    settings.strategy === 'immediate'
      ? `checks that decide convergence (immediate does not wait on them; a machine not passing them on the target release within ${durationText(settings.convergenceTimeoutMs)} is a straggler)`
      : `checks that gate each step (a new or updated machine must pass them on the target release within ${durationText(settings.waitTimeoutMs)})`,
  );
  const layout = { widths: [Math.max(...config.app.processes.map((g) => g.name.length))], indent: '  ', gap: '  ' };
  for (const { group, checks } of checksByGroup(config)) {
    const text = checks.length
      ? checks
          .map(
            (c) =>
              `${c.name}: ${c.type === 'http' ? `http GET ${c.path ?? '/'}` : 'tcp'}${c.port ? ` on port ${c.port}` : ''} every ${durationText(c.intervalMs)}, timeout ${durationText(c.timeoutMs)}, grace ${durationText(c.gracePeriodMs)}`,
          )
          .join('; ')
      : 'no checks: started on the target release is enough';
    lines.push(tableRow(layout, [group, text]));
  }
  return lines.join('\n');
}
