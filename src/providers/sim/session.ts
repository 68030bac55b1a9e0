// The sim fleet of one environment, loaded from the store and saved back when the command ends, so
// `status`, successive deploys and rollbacks see the same fleet across CLI runs.

import { DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS, ResilientProvider } from '../resilient-provider.js';
import type { ProviderSession, SessionInput } from '../session.js';
import { SimProvider, type SimState } from './sim-provider.js';
import { simClock } from './sim-clock.js';

export async function openSimSession({ config, env, store, clock: injected }: SessionInput): Promise<ProviderSession> {
  // Virtual time starts at the real now, so deploys of successive CLI runs order by time.
  // eslint-disable-next-line no-restricted-syntax -- the starting instant of a CLI run is wall-clock time by definition
  const clock = injected ?? simClock(env.sim, Date.now());
  const scope = { app: config.app.name, env: env.name };
  const saved = (await store.loadSimFleet(scope.app, scope.env)) as SimState | undefined;
  const sim = saved ? SimProvider.fromJSON(saved, clock, env.sim) : new SimProvider(clock, env.sim);
  if (env.sim.initialRelease) {
    const seeded = sim.seedIfNew(scope, config.app.processes, env.sim.initialRelease);
    if (seeded.length > 0) {
      if (!(await store.getRelease(scope.app, env.sim.initialRelease))) {
        await store.createRelease(scope.app, {
          version: env.sim.initialRelease,
          image: `${scope.app}:${env.sim.initialRelease}`,
          createdAtMs: clock.now(),
        });
      }
      await store.saveSimFleet(scope.app, scope.env, sim.toJSON());
    }
  }
  const provider = new ResilientProvider(sim, {
    clock,
    seed: env.sim.seed,
    outageTimeoutMs: env.deploy.providerOutageTimeoutMs ?? DEFAULT_PROVIDER_OUTAGE_TIMEOUT_MS,
  });
  return {
    provider,
    clock,
    simulated: true,
    apiStats: () => ({ calls: provider.stats.totalCalls, rateLimited: sim.stats.rateLimited }),
    save: () => store.saveSimFleet(scope.app, scope.env, sim.toJSON()),
    close: () => sim.close(),
  };
}
