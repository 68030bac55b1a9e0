// The release steps an environment runs before its serving machines change, from runway.toml:
// `[app] release_command` (and fly.toml's) becomes the `release-command` step.

import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import type { ReleaseStep } from '../engine/release-steps.js';
import { releaseCommandStep } from './release-command.js';

export function releaseStepsFor(config: RunwayConfig, env: EnvironmentConfig): ReleaseStep[] {
  const steps: ReleaseStep[] = [];
  const rc = config.app.releaseCommand;
  if (rc) {
    const vars = Object.fromEntries(Object.values(env.vars).map((v) => [v.name, v.value]));
    steps.push(releaseCommandStep({ command: rc.command, timeoutMs: rc.timeoutMs, env: vars }));
  }
  return steps;
}
