// The validated, layered configuration the rest of runway reads. Produced by loadConfig (load.ts).

import type { MachineBudget, OnAbort, OnFailure, ProcessGroup, ProviderName, StrategyName } from '../domain/types.js';
import type { SimOptions } from '../providers/sim/options.js';
import type { LocalOptions } from '../providers/local/options.js';
import type { FlyOptions } from '../providers/fly/options.js';

export type VarLayer = 'org' | 'app' | 'environment';

export interface EffectiveVar {
  name: string;
  value: string;
  /** The layer whose value won (organisation < app < environment). */
  layer: VarLayer;
  /** Lower layers that set the same name, lowest first. */
  overridden: { layer: VarLayer; value: string }[];
}

export interface CheckConfig {
  name: string;
  type: 'http' | 'tcp';
  /** Process group the check applies to; undefined = every group. */
  group?: string;
  path?: string;
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  gracePeriodMs: number;
}

/** Deploy settings as written (app defaults overlaid by the environment); unset keys stay undefined. */
export interface DeploySettingsInput {
  maxUnavailable?: MachineBudget;
  maxSurge?: MachineBudget;
  maxConcurrency?: number;
  waitTimeoutMs?: number;
  convergenceTimeoutMs?: number;
  onFailure?: OnFailure;
  onAbort?: OnAbort;
  /** Strategy of `runway rollback`; default immediate. */
  rollbackStrategy?: StrategyName;
  /** What `runway recover` does when only a minority of machines got the release; default redo. */
  recoverPolicy?: 'redo' | 'rollback';
  pauseBeforeCutover?: boolean;
  drainTimeoutMs?: number;
  /** Database (or Redis) connection budget that caps extra machines. */
  connectionBudget?: { maxConnections: number; perMachine: number; reserved: number };
}

export interface ReleaseCommandConfig {
  command: string;
  timeoutMs: number;
}

export interface EnvironmentConfig {
  name: string;
  provider: ProviderName;
  /** `release`, `push:<branch>`, `manual`, or null when unset. */
  trigger: string | null;
  initiation: 'manual' | 'automatic';
  /** CLI deploys allowed without --emergency (policy; used by the control plane). */
  allowCli: boolean;
  /** Effective variables after layering, by name. */
  vars: Record<string, EffectiveVar>;
  /** Strategy from DEPLOY_STRATEGY (or FLY_DEPLOY_STRATEGY), else the default `rolling`. */
  strategy: StrategyName;
  /** Human account of where `strategy` came from, e.g. `DEPLOY_STRATEGY (environment layer)`. */
  strategySource: string;
  deploy: DeploySettingsInput;
  sim: SimOptions;
  /**
   * Release steps in the order they run, each with its settings table (the app's, overlaid key by key
   * by the environment's). `release-command` uses the app's release_command.
   */
  releaseSteps: { name: string; settings: Record<string, unknown> }[];
  /** `[environments.X.local]`, as written (defaults are the local provider's). */
  local: Partial<LocalOptions>;
  /** `[environments.X.fly]`, as written (defaults are the fly provider's). */
  fly: Partial<FlyOptions>;
}

export interface RunwayConfig {
  /** Absolute path of the file read. */
  file: string;
  dir: string;
  org: { name?: string };
  app: {
    name: string;
    processes: ProcessGroup[];
    checks: CheckConfig[];
    releaseCommand?: ReleaseCommandConfig;
  };
  environments: Record<string, EnvironmentConfig>;
  /** Store location: a SQLite file path (relative to the config's dir) or a postgres:// URL. */
  store: { url: string };
  /** `[github]`: the webhook secret's file (absolute); $RUNWAY_GITHUB_WEBHOOK_SECRET wins over it. */
  github?: {
    webhookSecretFile?: string;
    /** `owner/name`: webhook events of any other repository are ignored (202, logged). */
    repository?: string;
  };
  /** `[secrets]`: the secret key's file (absolute); $RUNWAY_SECRET_KEY wins over it. */
  secrets?: { keyFile?: string };
}
