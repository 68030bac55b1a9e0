// The validated, layered configuration the rest of runway reads. Produced by loadConfig (load.ts).

import type {
  CheckConfig,
  MachineBudget,
  NewVolumes,
  OnAbort,
  OnFailure,
  ProcessGroup,
  ProviderName,
  ReleaseCommandConfig,
  StrategyName,
} from '../domain/types.js';
import type { SimOptions } from '../providers/sim/options.js';
import type { LocalOptions } from '../providers/local/options.js';
import type { FlyOptions } from '../providers/fly/options.js';
import type { AnalysisSpec } from '../domain/analysis.js';
import type { GitHubConfig, NotificationTarget } from './integrations.js';

// A check and the release command are the product's words (domain/); config re-exports them for its readers.
export type { CheckConfig, ReleaseCommandConfig } from '../domain/types.js';

export type VarLayer = 'org' | 'app' | 'environment';

export interface EffectiveVar {
  name: string;
  value: string;
  /** The layer whose value won (organisation < app < environment). */
  layer: VarLayer;
  /** Lower layers that set the same name, lowest first. */
  overridden: { layer: VarLayer; value: string }[];
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
  /** How long a deploy waits for a provider that does not answer before giving up (default 2m). */
  providerOutageTimeoutMs?: number;
  /** How machines standing in for ones with volumes get theirs (StrategySettings.newVolumes). */
  newVolumes?: NewVolumes;
  /** Regions rolled one after another (StrategySettings.regionOrder). */
  regionOrder?: string[];
  /** Database (or Redis) connection budget that caps extra machines. */
  connectionBudget?: { maxConnections: number; perMachine: number; reserved: number };
}

export interface EnvironmentConfig {
  name: string;
  provider: ProviderName;
  /** `release`, `push:<branch>`, `manual`, or null when unset. */
  trigger: string | null;
  initiation: 'manual' | 'automatic';
  /** CLI deploys allowed without --emergency (policy; used by the control plane). */
  allowCli: boolean;
  /** The environment's address (GitHub's environment_url), when configured. */
  url?: string;
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
  /** Analysis after each step (the environment's list, else the app's) and its Prometheus. */
  analysis: AnalysisSpec;
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
  /** `[github]`: the webhook secret's file, Deployments (integrations.ts). */
  github?: GitHubConfig;
  /** `[server] public_url`: the dashboard's address, for links. */
  publicUrl?: string;
  /** `[notifications.targets.*]`. */
  notifications?: NotificationTarget[];
  /** `[secrets]`: the secret key's file (absolute); $RUNWAY_SECRET_KEY wins over it. */
  secrets?: { keyFile?: string };
}
