// The [deploy] tables of runway.toml (app, then each environment) over what fly.toml gave: merged key
// by key, each value remembering the file, key and line it came from (for `vars explain`, errors).

import type { FlyImport } from './fly-toml.js';
import { formatKey, lineOf, type KeyPath } from './key-lines.js';
import type { DeployTable } from './schema.js';
import type { DeployOrigins } from './settings.js';
import type { DeploySettingsInput } from './types.js';

export interface DeploySettings {
  input: DeploySettingsInput;
  origins: DeployOrigins;
}

/** What fly.toml's [deploy] gives (max_unavailable, wait_timeout), the base the app's table goes over. */
export function flyDeploy(fly: FlyImport | undefined): DeploySettings {
  const d = fly?.deploy;
  const input: DeploySettingsInput = {};
  const origins: DeployOrigins = {};
  if (d?.maxUnavailable) {
    input.maxUnavailable = d.maxUnavailable.value;
    origins.maxUnavailable = { file: fly!.file, key: d.maxUnavailable.key, line: d.maxUnavailable.line };
  }
  if (d?.waitTimeoutMs) {
    input.waitTimeoutMs = d.waitTimeoutMs.value;
    origins.waitTimeoutMs = { file: fly!.file, key: d.waitTimeoutMs.key, line: d.waitTimeoutMs.line };
  }
  return { input, origins };
}

/** `table`'s keys over `base`'s, key by key, remembering where each came from. */
export function deployTable(
  source: { file: string; lines: Map<string, number> },
  prefix: KeyPath,
  table: DeployTable | undefined,
  base: DeploySettings,
): DeploySettings {
  const input: DeploySettingsInput = { ...base.input };
  const origins: DeployOrigins = { ...base.origins };
  if (!table) return { input, origins };
  const set = <K extends keyof DeploySettingsInput>(
    field: K,
    key: string,
    value: DeploySettingsInput[K] | undefined,
  ) => {
    if (value === undefined) return;
    input[field] = value;
    origins[field] = {
      file: source.file,
      key: formatKey([...prefix, key]),
      line: lineOf(source.lines, [...prefix, key]),
    };
  };
  set('maxUnavailable', 'max_unavailable', table.max_unavailable);
  set('maxSurge', 'max_surge', table.max_surge);
  set('maxConcurrency', 'max_concurrency', table.max_concurrency);
  set('waitTimeoutMs', 'wait_timeout', table.wait_timeout);
  set('convergenceTimeoutMs', 'convergence_timeout', table.convergence_timeout);
  set('onFailure', 'on_failure', table.on_failure);
  set('onAbort', 'on_abort', table.on_abort);
  set('rollbackStrategy', 'rollback_strategy', table.rollback_strategy);
  set('recoverPolicy', 'recover_policy', table.recover_policy);
  set('pauseBeforeCutover', 'pause_before_cutover', table.pause_before_cutover);
  set('drainTimeoutMs', 'drain_timeout', table.drain_timeout);
  set('providerOutageTimeoutMs', 'provider_outage_timeout', table.provider_outage_timeout);
  set('newVolumes', 'new_volumes', table.new_volumes);
  set('regionOrder', 'region_order', table.region_order);
  const cb = table.connection_budget;
  set(
    'connectionBudget',
    'connection_budget',
    cb && { maxConnections: cb.max_connections, perMachine: cb.per_machine, reserved: cb.reserved },
  );
  return { input, origins };
}
