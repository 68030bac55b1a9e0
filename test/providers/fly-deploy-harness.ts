// Real deploys with the fly provider against `runway sim serve`'s server over real HTTP: the engine
// (runDeploy), an in-memory SQLite store and the fly client, as the CLI wires them. The server tells
// `exchanges` every Machines API request and answer, so suites can hold both sides to Fly's spec.

import type { Machine, ProcessGroup, Release, StrategySettings } from '../../src/domain/types.js';
import { runDeploy } from '../../src/engine/executor.js';
import type { ProgressEvent } from '../../src/engine/progress.js';
import type { ReleaseStep } from '../../src/engine/release-steps.js';
import type { DeploySummary } from '../../src/engine/summary.js';
import { ScaledClock } from '../../src/domain/clock.js';
import type { SecretsSource } from '../../src/providers/fly/app-secrets.js';
import { startSimServer, type SimServer } from '../../src/providers/sim/serve/sim-server.js';
import type { Exchange } from '../../src/providers/sim/serve/spec-validation.js';
import type { Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';
import { flyRig, SPEED, TOKEN, type FlyRig } from './fly-harness.js';

export function settings(overrides: Partial<StrategySettings> = {}): StrategySettings {
  return {
    strategy: 'rolling',
    maxUnavailable: { fraction: 0.34 },
    maxSurge: { count: 2 },
    maxConcurrency: 16,
    waitTimeoutMs: 120_000,
    convergenceTimeoutMs: 180_000,
    onFailure: 'rollback',
    pauseBeforeCutover: false,
    drainTimeoutMs: 2_000,
    ...overrides,
  };
}

export const BROKEN = 'v-broken';

/** A server of its own, recording every exchange. */
export async function recordingServer(): Promise<{ server: SimServer; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = [];
  const server = await startSimServer({
    clock: new ScaledClock(SPEED),
    token: TOKEN,
    sim: { seed: 21, rateLimits: true, faults: { unhealthyReleases: [BROKEN] } },
    observe: (x) => exchanges.push(x),
  });
  return { server, exchanges };
}

export interface FlyDeployRig {
  rig: FlyRig;
  store: Store;
  groups: ProcessGroup[];
  deploy(
    version: string,
    s: StrategySettings,
    options?: {
      deployId?: string;
      signal?: AbortSignal;
      onProgress?: (e: ProgressEvent) => void;
      releaseSteps?: ReleaseStep[];
      rig?: FlyRig;
    },
  ): Promise<DeploySummary>;
  fleet(): Promise<Machine[]>;
  close(): Promise<void>;
}

let deploys = 0;

/** A fresh Fly app on `server`, seeded with `groups` on v1 (unless `seed: false`), and a store that knows v1, v2, v3 and the broken release. */
export async function flyDeployRig(
  server: SimServer,
  groups: ProcessGroup[] = [
    { name: 'web', count: 3 },
    { name: 'worker', count: 2 },
  ],
  options: { seed?: boolean; secrets?: SecretsSource } = {},
): Promise<FlyDeployRig> {
  const rig = await flyRig({ server, ...(options.secrets ? { secrets: options.secrets } : {}) });
  if (options.seed !== false)
    server.backend.seed(rig.app, { groups, release: 'v1', image: `registry.fly.io/${rig.app}:v1` });
  const store = await openStore(':memory:', process.cwd());
  const release = (version: string): Release => ({
    version,
    image: `registry.fly.io/${rig.app}:${version}`,
    createdAtMs: 0,
  });
  for (const version of ['v1', 'v2', 'v3', BROKEN]) await store.createRelease(rig.scope.app, release(version));
  return {
    rig,
    store,
    groups,
    async deploy(version, s, o = {}) {
      const on = o.rig ?? rig;
      const deployId = o.deployId ?? `dep_fly${++deploys}`;
      if (!(await store.getDeploy(deployId))) {
        await store.createDeploy({
          id: deployId,
          ...on.scope,
          release: version,
          previousRelease: null,
          strategy: s.strategy,
          initiator: 'test',
          responsible: 'test',
          trigger: 'cli',
          reason: null,
          plan: null,
          createdAtMs: on.clock.now(),
        });
      }
      return runDeploy(
        { provider: on.provider, store, clock: on.clock, onProgress: o.onProgress },
        {
          deployId,
          scope: on.scope,
          target: release(version),
          groups,
          settings: s,
          findRelease: async (v) => release(v),
          ...(o.releaseSteps ? { releaseSteps: o.releaseSteps } : {}),
        },
        o.signal,
      );
    },
    fleet: () => rig.provider.list(rig.scope),
    async close() {
      await rig.close();
      await store.close();
    },
  };
}
