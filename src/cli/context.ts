// Opens what a command needs: the config, the store, and (for fleet commands) a provider session.

import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { getEnvironment } from '../config/environment.js';
import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import type { DeployRecord, Store } from '../store/contract.js';
import { openStore } from '../store/open-store.js';
import { attachOutboxPump } from '../outbox/attach.js';
import { CliError, type Io } from './io.js';

export interface GlobalOptions {
  config?: string;
}

export function configPath(options: GlobalOptions, io: Io): string {
  const given = options.config ?? io.env.RUNWAY_CONFIG;
  if (given) return resolve(io.cwd, given);
  const found = resolve(io.cwd, 'runway.toml');
  if (!existsSync(found)) {
    throw new CliError(
      `no runway.toml in ${io.cwd}; pass --config FILE or set RUNWAY_CONFIG (see examples/sim/runway.toml)`,
    );
  }
  return found;
}

export interface Context {
  config: RunwayConfig;
  store: Store;
  close(): Promise<void>;
}

export async function openContext(options: GlobalOptions, io: Io): Promise<Context> {
  const config = loadConfig(configPath(options, io));
  const store = await openStore(io.env.RUNWAY_STORE ?? config.store.url, config.dir);
  // GitHub statuses and notifications of deploys this command runs (src/outbox/); never blocks them.
  const outbox = attachOutboxPump(config, store, io.env, (line) => io.stderr.write(`runway: ${line}\n`));
  return { config, store, close: async () => (await outbox?.close(), await store.close()) };
}

export function environment(config: RunwayConfig, name: string | undefined): EnvironmentConfig {
  if (!name) {
    throw new CliError(
      `--env is required; environments in ${config.file}: ${Object.keys(config.environments).join(', ')}`,
    );
  }
  return getEnvironment(config, name);
}

/** Who a command acts for: --as, else $RUNWAY_USER, else the OS user. */
export function whoIsAsking(options: { as?: string }, io: Io): string {
  return options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
}

/** The deploy with this id, or a CliError pointing at `runway deploys list`. */
export async function existingDeploy(store: Store, id: string): Promise<DeployRecord> {
  const deploy = await store.getDeploy(id);
  if (!deploy) throw new CliError(`no deploy ${id}; see \`runway deploys list\``);
  return deploy;
}
