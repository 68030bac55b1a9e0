// The release steps an environment runs before its serving machines change, in its configured order
// (`release_steps`; default: the release command when [app] has one), as the engine runs them.

import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import { RealClock } from '../domain/clock.js';
import type { ReleaseStep } from '../engine/release-steps.js';
import { releaseCommandStep } from './release-command.js';
import { createReleaseStep, type ConfiguredStep } from './steps/index.js';

export function releaseStepsFor(config: RunwayConfig, env: EnvironmentConfig): ReleaseStep[] {
  const vars = Object.fromEntries(Object.values(env.vars).map((v) => [v.name, v.value]));
  return env.releaseSteps.map(({ name, settings }) => {
    if (name === 'release-command') {
      const rc = config.app.releaseCommand;
      // The config loader refuses "release-command" without a release_command; this is a guard.
      if (!rc) throw new Error('release step "release-command" needs [app] release_command');
      return releaseCommandStep({ command: rc.command, timeoutMs: rc.timeoutMs, env: vars });
    }
    const step = createReleaseStep(name, settings);
    if ('problems' in step) throw new Error(`release step ${name}: ${step.problems.map((p) => p.message).join('; ')}`);
    return builtin(step, vars);
  });
}

/**
 * A built-in step (sidekiq-quiet, ...) as the engine runs it. It talks to services outside the fleet,
 * so it runs on the wall clock whatever clock the provider uses; a failure ends the deploy `failed`
 * with no serving machine changed.
 */
function builtin(step: ConfiguredStep, vars: Record<string, string>): ReleaseStep {
  return {
    name: step.name,
    failStatus: 'failed',
    async run(ctx) {
      const report = await step.run({ vars, signal: ctx.signal, log: ctx.log, clock: new RealClock() });
      return {
        ok: report.ok,
        summary: `${step.name}: ${report.summary}`,
        details: { status: report.status, ...report.details },
      };
    },
  };
}
