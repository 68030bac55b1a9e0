// A provider opened for one environment: the provider (wrapped in ResilientProvider where it talks to
// an API), the clock it runs on, and whatever must happen when the command ends.

import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/contract.js';
import type { FleetScope } from '../domain/types.js';
import type { Provider } from './contract.js';

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

export interface SessionInput {
  config: RunwayConfig;
  env: EnvironmentConfig;
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
