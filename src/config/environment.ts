// Looking up an environment by the name a person typed.

import { ConfigError } from './errors.js';
import type { EnvironmentConfig, RunwayConfig } from './types.js';

/** The named environment, or a ConfigError listing the ones that exist. */
export function getEnvironment(config: RunwayConfig, name: string): EnvironmentConfig {
  const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
  if (env) return env;
  const known = Object.keys(config.environments);
  throw new ConfigError({
    file: config.file,
    key: `environments.${name}`,
    problem: `unknown environment "${name}"; ${known.length ? `known environments: ${known.join(', ')}` : 'no [environments.NAME] tables are defined'}`,
  });
}
