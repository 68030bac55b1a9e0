// The environment a machine's process runs with: runway's own variables removed, then the
// environment's variables and secrets, the release's, the machine's, and runway's RUNWAY_* and PORT.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ProviderError } from '../contract.js';
import { parseEnvFile, type ReleaseArtifact } from './artifact.js';
import type { LocalAppConfig, LocalMachineRecord } from './machine-record.js';

/** Variables of runway's own processes that a machine must not inherit. */
export const PRIVATE_ENV = [
  'RUNWAY_LOCAL_OWNER_PID',
  'RUNWAY_LOCAL_SUPERVISOR',
  'RUNWAY_SECRET_KEY',
  'RUNWAY_SECRET_KEY_FILE',
  'NODE_TEST_CONTEXT',
  'NODE_OPTIONS',
];

/** Machines find `node` as the Node that runs runway first, then the usual PATH. */
export function pathEnv(): string {
  return [path.dirname(process.execPath), process.env.PATH ?? ''].filter(Boolean).join(path.delimiter);
}

/** The variables of the environment's `secrets_file` (none without one); bad_request if it cannot be read. */
export function fileSecrets(file: string | undefined): Record<string, string> {
  if (!file) return {};
  try {
    return parseEnvFile(readFileSync(file, 'utf8'), file);
  } catch (error) {
    throw new ProviderError('bad_request', `secrets_file: ${(error as Error).message}`, { status: 422 });
  }
}

export function machineEnv(
  config: LocalAppConfig,
  rec: LocalMachineRecord,
  artifact: ReleaseArtifact,
): Record<string, string> {
  const m = rec.machine;
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PRIVATE_ENV.includes(k)) base[k] = v;
  return {
    ...base,
    ...config.vars,
    ...config.secrets,
    ...fileSecrets(config.options.secretsFile),
    ...artifact.env,
    ...rec.env,
    PATH: pathEnv(),
    PORT: String(rec.port),
    RUNWAY_APP: m.app,
    RUNWAY_ENV: m.env,
    RUNWAY_RELEASE: m.release,
    RUNWAY_MACHINE_ID: m.id,
    RUNWAY_PROCESS_GROUP: m.group,
    RUNWAY_INSTANCE_VERSION: m.instanceVersion,
    RUNWAY_ROLE: m.role,
  };
}
