// From runway.toml (one environment) to what the local provider runs.

import type { SessionConfig, SessionEnvironment } from '../session.js';
import type { LocalAppConfig } from './local-provider.js';
import { resolveLocalOptions } from './options.js';

export function localAppConfig(config: SessionConfig, env: SessionEnvironment): LocalAppConfig {
  const out: LocalAppConfig = {
    app: config.app.name,
    env: env.name,
    configDir: config.dir,
    processes: config.app.processes,
    checks: config.app.checks,
    vars: Object.fromEntries(Object.entries(env.vars).map(([name, v]) => [name, v.value])),
    options: resolveLocalOptions(env.local, { dir: config.dir, app: config.app.name, env: env.name }),
  };
  if (config.app.releaseCommand) out.releaseCommand = config.app.releaseCommand;
  return out;
}
