// Entry point of a local environment's supervisor process (started detached by launcher.ts):
//   node supervisor-main.js --config <runway.toml> --env <name>
// RUNWAY_LOCAL_OWNER_PID, when set, names a process whose death shuts the supervisor down.

import { runSupervisorProcess } from './supervisor.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const configFile = arg('--config');
const envName = arg('--env');
if (!configFile || !envName) {
  process.stderr.write('usage: supervisor-main --config <runway.toml> --env <name>\n');
  process.exit(2);
}
const owner = Number(process.env.RUNWAY_LOCAL_OWNER_PID);
await runSupervisorProcess({
  configFile,
  envName,
  ...(Number.isInteger(owner) && owner > 0 ? { ownerPid: owner } : {}),
});
