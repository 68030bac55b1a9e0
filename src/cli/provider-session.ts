// A provider for one environment, wrapped in the one place rate limits and retries live
// (ResilientProvider), plus the clock it runs on and whatever must be saved when the command ends
// (a sim fleet lives in the store between CLI runs).

import type { EnvironmentConfig, RunwayConfig } from '../config/types.js';
import type { Clock } from '../domain/clock.js';
import type { Provider } from '../providers/contract.js';
import { ResilientProvider } from '../providers/resilient-provider.js';
import { SimProvider, simClock, type SimState } from '../providers/sim/index.js';
import type { Store } from '../store/contract.js';
import { CliError } from './io.js';

export interface ProviderSession {
  provider: Provider;
  clock: Clock;
  apiStats(): { calls: number; rateLimited: number };
  /** Persist provider state that must outlive this process. */
  save(): Promise<void>;
  close(): Promise<void>;
}

export async function openProviderSession(config: RunwayConfig, env: EnvironmentConfig, store: Store, clockOverride?: Clock): Promise<ProviderSession> {
  switch (env.provider) {
    case 'sim':
      return openSimSession(config, env, store, clockOverride);
    default:
      throw new CliError(`environment ${env.name}: provider "${env.provider}" is not available yet in this build (use "sim")`);
  }
}

async function openSimSession(config: RunwayConfig, env: EnvironmentConfig, store: Store, clockOverride?: Clock): Promise<ProviderSession> {
  // Virtual time starts at the real now, so deploys of successive CLI runs order by time.
  const clock = clockOverride ?? simClock(env.sim, Date.now());
  const scope = { app: config.app.name, env: env.name };
  const saved = (await store.loadSimFleet(scope.app, scope.env)) as SimState | undefined;
  const sim = saved ? SimProvider.fromJSON(saved, clock, env.sim) : new SimProvider(clock, env.sim);
  if (env.sim.initialRelease) {
    const seeded = sim.seedIfNew(scope, config.app.processes, env.sim.initialRelease);
    if (seeded.length > 0) {
      if (!(await store.getRelease(scope.app, env.sim.initialRelease))) {
        await store.createRelease(scope.app, { version: env.sim.initialRelease, image: `${scope.app}:${env.sim.initialRelease}`, createdAtMs: clock.now() });
      }
      await store.saveSimFleet(scope.app, scope.env, sim.toJSON());
    }
  }
  const provider = new ResilientProvider(sim, { clock, seed: env.sim.seed });
  return {
    provider,
    clock,
    apiStats: () => ({ calls: provider.stats.totalCalls, rateLimited: sim.stats.rateLimited }),
    save: () => store.saveSimFleet(scope.app, scope.env, sim.toJSON()),
    close: async () => {
      await sim.close();
    },
  };
}
