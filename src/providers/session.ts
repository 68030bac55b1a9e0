// A provider opened for one environment: the provider (wrapped in ResilientProvider where it talks to
// an API), the clock it runs on, and whatever must happen when the command ends.

import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/contract.js';
import type { CheckConfig, FleetScope, ProcessGroup, ProviderName, ReleaseCommandConfig } from '../domain/types.js';
import type { Provider } from './contract.js';
import type { FlyOptions } from './fly/options.js';
import type { LocalOptions } from './local/options.js';
import type { SimOptions } from './sim/options.js';

/** A machine lease an earlier run of runway left behind (fly): what `runway recover` releases. */
export interface LeftLease {
  machineId: string;
  /** Whose it was, as the lease says (`runway <app>/<env> pid …`). */
  holder: string;
  expiresAtMs: number;
}

export interface ProviderSession {
  provider: Provider;
  clock: Clock;
  /** The clock is simulated (the sim provider): its durations are simulated time, its instants not wall-clock. */
  simulated?: boolean;
  apiStats(): { calls: number; rateLimited: number };
  /** Persist provider state that must outlive this process (a sim fleet). */
  save(): Promise<void>;
  close(): Promise<void>;
  /**
   * Providers with machine leases (fly): leases runway's own earlier runs of this environment left
   * on `machineIds` (a crash), and their release. Never anyone else's.
   */
  leftLeases?(scope: FleetScope, machineIds: string[]): Promise<LeftLease[]>;
  releaseLeftLeases?(scope: FleetScope, leases: LeftLease[]): Promise<{ released: string[]; failed: string[] }>;
}

/**
 * What a provider reads of runway.toml, declared here rather than imported from config/ (whose
 * RunwayConfig satisfies it): config composes the providers, never the reverse.
 */
export interface SessionConfig {
  /** Absolute path of the file read. */
  file: string;
  dir: string;
  app: { name: string; processes: ProcessGroup[]; checks: CheckConfig[]; releaseCommand?: ReleaseCommandConfig };
  /** `[secrets]`: the secret key's file (absolute); $RUNWAY_SECRET_KEY wins over it. */
  secrets?: { keyFile?: string };
}

/** What a provider reads of one environment (config's EnvironmentConfig satisfies it). */
export interface SessionEnvironment {
  name: string;
  provider: ProviderName;
  /** Effective variables after layering, by name. */
  vars: Record<string, { value: string }>;
  sim: SimOptions;
  /** `[environments.X.local]`, as written. */
  local: Partial<LocalOptions>;
  /** `[environments.X.fly]`, as written. */
  fly: Partial<FlyOptions>;
  deploy: { providerOutageTimeoutMs?: number };
}

export interface SessionInput {
  config: SessionConfig;
  env: SessionEnvironment;
  store: Store;
  /** Tests and benchmarks inject their own clock. */
  clock?: Clock;
  /** Process environment (tokens such as FLY_API_TOKEN). */
  processEnv: NodeJS.ProcessEnv;
}

/** Raised when a provider cannot be opened as configured; the CLI reports it as bad input. */
export class ProviderSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderSetupError';
  }
}
