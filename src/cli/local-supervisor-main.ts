// Entry point of a local environment's supervisor process (started detached by
// providers/local/launcher.ts):
//   node local-supervisor-main.js --config <runway.toml> --env <name>
// It lives with the front ends because it reads runway.toml (config/), which the providers never import.
// RUNWAY_LOCAL_OWNER_PID, when set, names a process whose death shuts the supervisor down.

import { getEnvironment, loadConfig } from '../config/load.js';
import { runSupervisorProcess } from '../providers/local/supervisor.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const configFile = arg('--config');
const envName = arg('--env');
if (!configFile || !envName) {
  process.stderr.write('usage: local-supervisor-main --config <runway.toml> --env <name>\n');
  process.exit(2);
}
const owner = Number(process.env.RUNWAY_LOCAL_OWNER_PID);
await runSupervisorProcess({
  configFile,
  envName,
  load: (file, name) => {
    const config = loadConfig(file);
    return { config, env: getEnvironment(config, name) };
  },
  ...(Number.isInteger(owner) && owner > 0 ? { ownerPid: owner } : {}),
});
