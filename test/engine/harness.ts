// An in-process deploy rig: sim fleet on a virtual clock behind the resilient provider, an in-memory
// SQLite store, and runDeploy — the same parts the CLI wires, minus the terminal.

import type { AnalysisSpec, MetricSources } from '../../src/domain/analysis.js';
import { VirtualClock } from '../../src/domain/clock.js';
import type { Machine, ProcessGroup, Release, StrategySettings } from '../../src/domain/types.js';
import { runDeploy } from '../../src/engine/executor.js';
import type { ProgressEvent } from '../../src/engine/progress.js';
import type { ReleaseStep } from '../../src/engine/release-steps.js';
import type { DeploySummary } from '../../src/engine/summary.js';
import { ResilientProvider } from '../../src/providers/resilient-provider.js';
import { SimProvider } from '../../src/providers/sim/sim-provider.js';
import type { SimOptionsInput } from '../../src/providers/sim/resolve-options.js';
import type { Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';

export const SCOPE = { app: 'mechanic', env: 'staging' };

export function settings(overrides: Partial<StrategySettings> = {}): StrategySettings {
  return {
    strategy: 'rolling',
    maxUnavailable: { fraction: 0.33 },
    maxSurge: { fraction: 0.1 },
    maxConcurrency: 64,
    waitTimeoutMs: 120_000,
    convergenceTimeoutMs: 180_000,
    onFailure: 'rollback',
    pauseBeforeCutover: false,
    drainTimeoutMs: 5_000,
    ...overrides,
  };
}

export interface Rig {
  clock: VirtualClock;
  sim: SimProvider;
  provider: ResilientProvider;
  store: Store;
  groups: ProcessGroup[];
  deploy(
    release: string,
    s: StrategySettings,
    options?: {
      deployId?: string;
      signal?: AbortSignal;
      onProgress?: (e: ProgressEvent) => void;
      releaseSteps?: ReleaseStep[];
      analysis?: AnalysisSpec;
      metricSources?: MetricSources;
    },
  ): Promise<DeploySummary>;
  fleet(): Promise<Machine[]>;
  close(): Promise<void>;
}

let deploys = 0;

export async function rig(
  options: { groups?: ProcessGroup[]; sim?: SimOptionsInput; initial?: string } = {},
): Promise<Rig> {
  const clock = new VirtualClock();
  const sim = new SimProvider(clock, {
    clock: 'virtual',
    seed: 11,
    rateLimits: true,
    ...options.sim,
    faults: { unhealthyReleases: ['v-broken'], bootFailureReleases: ['v-bootfail'], ...options.sim?.faults },
  });
  const provider = new ResilientProvider(sim, { clock, seed: 3 });
  const store = await openStore(':memory:', process.cwd());
  const groups = options.groups ?? [
    { name: 'web', count: 8 },
    { name: 'worker', count: 4 },
  ];
  sim.seed(SCOPE, groups, options.initial ?? 'v1');
  for (const version of ['v1', 'v2', 'v3', 'v-broken', 'v-bootfail']) {
    await store.createRelease(SCOPE.app, { version, image: `mechanic:${version}`, createdAtMs: 0 });
  }
  const release = (version: string): Release => ({ version, image: `mechanic:${version}`, createdAtMs: 0 });
  return {
    clock,
    sim,
    provider,
    store,
    groups,
    async deploy(version, s, o = {}) {
      const deployId = o.deployId ?? `dep_test${++deploys}`;
      if (!(await store.getDeploy(deployId))) {
        await store.createDeploy({
          id: deployId,
          ...SCOPE,
          release: version,
          previousRelease: null,
          strategy: s.strategy,
          initiator: 'test',
          responsible: 'test',
          trigger: 'cli',
          reason: null,
          plan: null,
          createdAtMs: clock.now(),
        });
      }
      return runDeploy(
        {
          provider,
          store,
          clock,
          apiStats: () => ({ calls: provider.stats.totalCalls, rateLimited: sim.stats.rateLimited }),
          onProgress: o.onProgress,
          ...(o.metricSources ? { metricSources: o.metricSources } : {}),
        },
        {
          deployId,
          scope: SCOPE,
          target: release(version),
          groups,
          settings: s,
          findRelease: async (v) => release(v),
          ...(o.releaseSteps ? { releaseSteps: o.releaseSteps } : {}),
          ...(o.analysis ? { analysis: o.analysis } : {}),
        },
        o.signal,
      );
    },
    fleet: () => provider.list(SCOPE),
    async close() {
      await sim.close();
      await store.close();
    },
  };
}

export function spread(machines: Machine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of machines) out[`${m.role}:${m.release}`] = (out[`${m.role}:${m.release}`] ?? 0) + 1;
  return out;
}
