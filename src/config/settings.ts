// From deploy settings as written (DeploySettingsInput) to the StrategySettings a strategy plans with:
// per-strategy defaults, the connection budget's cap on extra machines, and the combinations that
// would leave a strategy unable to replace any machine.

import {
  STRATEGIES,
  type MachineBudget,
  type ProcessGroup,
  type StrategyName,
  type StrategySettings,
} from '../domain/types.js';
import { ConfigError } from './errors.js';
import type { DeploySettingsInput, EnvironmentConfig } from './types.js';
import { formatBudget, isZeroBudget } from './values.js';

export const DEPLOY_DEFAULTS = {
  maxUnavailable: { fraction: 0.33 } as MachineBudget,
  maxSurge: { fraction: 0.1 } as MachineBudget,
  maxConcurrency: 256,
  waitTimeoutMs: 5 * 60_000,
  convergenceTimeoutMs: 10 * 60_000,
  onFailure: 'rollback' as const,
  onAbort: 'rollback' as const,
  pauseBeforeCutover: false,
  drainTimeoutMs: 10_000,
};

/** Where one deploy setting was written, so errors found later (e.g. under a CLI --strategy) point at it. */
export interface SettingOrigin {
  file: string;
  key: string;
  line?: number;
}
export type DeployOrigins = Partial<Record<keyof DeploySettingsInput, SettingOrigin>>;

// Keyed by both the environment and its deploy object, so a caller that copies the environment
// (e.g. `{ ...env, strategy }`) still gets located errors.
const origins = new WeakMap<object, { file: string; fields: DeployOrigins }>();

/** Called by the loader: `file` is the config file, `fields` where each set deploy key was written. */
export function recordDeployOrigins(env: EnvironmentConfig, file: string, fields: DeployOrigins): void {
  const o = { file, fields };
  origins.set(env, o);
  origins.set(env.deploy, o);
}

const SNAKE: Record<keyof DeploySettingsInput, string> = {
  maxUnavailable: 'max_unavailable',
  maxSurge: 'max_surge',
  maxConcurrency: 'max_concurrency',
  waitTimeoutMs: 'wait_timeout',
  convergenceTimeoutMs: 'convergence_timeout',
  onFailure: 'on_failure',
  onAbort: 'on_abort',
  rollbackStrategy: 'rollback_strategy',
  recoverPolicy: 'recover_policy',
  pauseBeforeCutover: 'pause_before_cutover',
  drainTimeoutMs: 'drain_timeout',
  providerOutageTimeoutMs: 'provider_outage_timeout',
  newVolumes: 'new_volumes',
  regionOrder: 'region_order',
  connectionBudget: 'connection_budget',
};

/**
 * Settings for deploying `env` with `strategy` (default: the environment's) onto `groups` (desired
 * process groups; their total count is what the connection budget is measured against).
 * Throws ConfigError when the combination cannot replace a single machine.
 */
export function resolveStrategySettings(
  env: EnvironmentConfig,
  groups: readonly ProcessGroup[],
  strategy: StrategyName = env.strategy,
): StrategySettings {
  const d = env.deploy;
  const known = origins.get(env) ?? origins.get(d) ?? { file: 'runway.toml', fields: {} };
  const origin = (field: keyof DeploySettingsInput): SettingOrigin =>
    known.fields[field] ?? { file: known.file, key: `environments.${env.name}.deploy.${SNAKE[field]}` };
  const fail = (field: keyof DeploySettingsInput, problem: string): never => {
    const o = origin(field);
    throw new ConfigError({ file: o.file, key: o.key, line: o.line, problem });
  };

  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new ConfigError({
      file: known.file,
      key: 'strategy',
      problem: `unknown strategy "${strategy}"; valid strategies: ${STRATEGIES.join(', ')}`,
    });
  }

  // bluegreen and waves keep full serving capacity unless told otherwise.
  const fullCapacity = strategy === 'bluegreen' || strategy === 'waves';
  const maxUnavailable = d.maxUnavailable ?? (fullCapacity ? { count: 0 } : DEPLOY_DEFAULTS.maxUnavailable);
  // Only waves takes a surge budget; the others need a fixed number of extras by construction.
  const maxSurge: MachineBudget =
    strategy === 'waves'
      ? (d.maxSurge ?? DEPLOY_DEFAULTS.maxSurge)
      : strategy === 'bluegreen'
        ? { fraction: 1 }
        : strategy === 'canary'
          ? { count: 1 }
          : { count: 0 };

  const settings: StrategySettings = {
    strategy,
    maxUnavailable,
    maxSurge,
    maxConcurrency: d.maxConcurrency ?? DEPLOY_DEFAULTS.maxConcurrency,
    waitTimeoutMs: d.waitTimeoutMs ?? DEPLOY_DEFAULTS.waitTimeoutMs,
    convergenceTimeoutMs: d.convergenceTimeoutMs ?? DEPLOY_DEFAULTS.convergenceTimeoutMs,
    onFailure: d.onFailure ?? DEPLOY_DEFAULTS.onFailure,
    onAbort: d.onAbort ?? DEPLOY_DEFAULTS.onAbort,
    pauseBeforeCutover: d.pauseBeforeCutover ?? DEPLOY_DEFAULTS.pauseBeforeCutover,
    drainTimeoutMs: d.drainTimeoutMs ?? DEPLOY_DEFAULTS.drainTimeoutMs,
  };
  if (d.newVolumes !== undefined) settings.newVolumes = d.newVolumes;
  if (d.regionOrder !== undefined) settings.regionOrder = [...d.regionOrder];
  // `?.`: environments built by hand (tests) may have no analysis.
  if (env.analysis?.entries.length) settings.analysisSpearhead = true;

  if (d.connectionBudget) {
    const { maxExtraTotal, reason } = connectionBudgetCap(d.connectionBudget, groups);
    settings.maxExtraTotal = maxExtraTotal;
    settings.surgeReason = reason;
  }

  const noUnavailable = isZeroBudget(maxUnavailable);
  const unavailableText = d.maxUnavailable
    ? `${origin('maxUnavailable').key} = ${formatBudget(d.maxUnavailable)}`
    : `max_unavailable = 0 (the default for ${strategy})`;
  if (strategy === 'waves' && noUnavailable && isZeroBudget(maxSurge)) {
    fail(
      'maxSurge',
      `max_surge = 0 together with ${unavailableText} leaves waves no machine to replace: ` +
        `allow extra machines (e.g. max_surge = "10%") or unavailable ones (e.g. max_unavailable = 1)`,
    );
  }
  if (strategy === 'waves' && noUnavailable && settings.maxExtraTotal === 0) {
    fail(
      'connectionBudget',
      `${settings.surgeReason}, and ${unavailableText}: waves cannot replace any machine; ` +
        `raise max_connections or set max_unavailable (e.g. 1) to replace machines in place`,
    );
  }
  if ((strategy === 'rolling' || strategy === 'canary') && noUnavailable) {
    fail(
      'maxUnavailable',
      `${strategy} updates machines in place, so max_unavailable = 0 lets it update none; set at least 1 (or a fraction such as 0.25)`,
    );
  }
  return settings;
}

/** Extra machines a connection budget allows on top of the desired fleet, and the arithmetic as a sentence. */
export function connectionBudgetCap(
  budget: NonNullable<DeploySettingsInput['connectionBudget']>,
  groups: readonly ProcessGroup[],
): { maxExtraTotal: number; reason: string } {
  const { maxConnections, perMachine, reserved } = budget;
  const machines = Math.floor((maxConnections - reserved) / perMachine);
  const fleet = groups.reduce((sum, g) => sum + g.count, 0);
  const extra = Math.max(0, machines - fleet);
  return {
    maxExtraTotal: extra,
    reason:
      `connection budget: ${maxConnections} connections (${reserved} reserved) / ${perMachine} per machine = ${machines} machines; ` +
      `fleet is ${fleet} → ${extra} extra machine${extra === 1 ? '' : 's'} allowed`,
  };
}
