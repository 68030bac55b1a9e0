// What a deploy must get past besides its plan, for `runway deploy --dry-run`: the release steps that
// run before any serving machine changes, and the checks each new or updated machine must pass (on
// the target release, within wait_timeout) before the plan moves on. Pure: config in, text out.

import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import { durationText } from '../config/values.js';
import type { StrategySettings } from '../domain/types.js';

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
  const width = Math.max(...config.app.processes.map((g) => g.name.length));
  for (const group of config.app.processes) {
    const checks = config.app.checks.filter((c) => c.group === undefined || c.group === group.name);
    const text = checks.length
      ? checks
          .map(
            (c) =>
              `${c.name}: ${c.type === 'http' ? `http GET ${c.path ?? '/'}` : 'tcp'}${c.port ? ` on port ${c.port}` : ''} every ${durationText(c.intervalMs)}, timeout ${durationText(c.timeoutMs)}, grace ${durationText(c.gracePeriodMs)}`,
          )
          .join('; ')
      : 'no checks: started on the target release is enough';
    lines.push(`  ${group.name.padEnd(width)}  ${text}`);
  }
  return lines.join('\n');
}
