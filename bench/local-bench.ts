// A fresh `local` environment for the benchmarks that measure real requests (bench:traffic,
// bench:analysis): WEB web machines of examples/demo-app/server.js behind runway's proxy, releases as
// directories with their [env], a SQLite store, and deploys run through the engine as `runway deploy`
// runs them (settings as it resolves them, analysis sources opened for the environment).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openMetricSources } from '../src/analysis/sources.js';
import { getEnvironment, loadConfig } from '../src/config/load.js';
import type { EnvironmentConfig, RunwayConfig } from '../src/config/types.js';
import { settingsFor } from '../src/deploys/request.js';
import { RealClock } from '../src/domain/clock.js';
import type { FleetScope, StrategyName } from '../src/domain/types.js';
import { runDeploy } from '../src/engine/executor.js';
import type { DeploySummary } from '../src/engine/summary.js';
import type { LocalClient } from '../src/providers/local/client.js';
import { connectSupervisor, stopSupervisor } from '../src/providers/local/launcher.js';
import type { Store } from '../src/store/contract.js';
import { openStore } from '../src/store/open-store.js';

const SERVER = join(resolve(import.meta.dirname, '..'), 'examples/demo-app/server.js');

export interface LocalBenchOptions {
  web: number;
  /** Release versions and the `[env]` lines of each. */
  releases: Record<string, string>;
  /** More runway.toml, appended under [app] (e.g. `[[app.analysis]]` tables). */
  appToml?: string;
}

export interface LocalBench {
  config: RunwayConfig;
  env: EnvironmentConfig;
  provider: LocalClient;
  proxyUrl: string;
  store: Store;
  scope: FleetScope;
  deploy(version: string, strategy: StrategyName): Promise<{ summary: DeploySummary; deployId: string }>;
  close(): Promise<void>;
}

function project(dir: string, o: LocalBenchOptions): string {
  for (const [version, env] of Object.entries(o.releases)) {
    mkdirSync(join(dir, 'releases', version), { recursive: true });
    writeFileSync(
      join(dir, 'releases', version, 'runway-release.toml'),
      `version = "${version}"\n[processes]\nweb = ${JSON.stringify(`node ${SERVER}`)}\n[env]\n${env}\n`,
    );
  }
  const config = join(dir, 'runway.toml');
  writeFileSync(
    config,
    `
[app]
name = "bench"
[app.processes]
web = { count = ${o.web} }
[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"
interval = "100ms"
timeout = "1s"
grace_period = "1s"
${o.appToml ?? ''}
[app.deploy]
wait_timeout = "30s"
drain_timeout = "5s"
[environments.bench]
provider = "local"
trigger = "manual"
initiation = "manual"
allow_cli = true
[environments.bench.local]
releases_dir = "releases"
stop_timeout = "5s"
drain_timeout = "5s"
queue_timeout = "10s"
`,
  );
  return config;
}

export async function openLocalBench(o: LocalBenchOptions): Promise<LocalBench> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-bench-local-'));
  const config = loadConfig(project(dir, o));
  const env = getEnvironment(config, 'bench');
  const connection = await connectSupervisor({
    config,
    env,
    processEnv: { RUNWAY_LOCAL_OWNER_PID: String(process.pid) },
  });
  const provider = connection!.client;
  const store = await openStore(join(dir, 'runway.db'), dir);
  const scope = { app: 'bench', env: 'bench' };
  let n = 0;
  return {
    config,
    env,
    provider,
    proxyUrl: connection!.info.proxyUrl,
    store,
    scope,
    async deploy(version, strategy) {
      const release = { version, image: `releases/${version}`, createdAtMs: Date.now() };
      if (!(await store.getRelease('bench', version))) await store.createRelease('bench', release);
      const deployId = `dep_bench_${strategy}_${++n}`;
      const settings = settingsFor(env, config.app.processes, { kind: 'deploy', strategy });
      await store.createDeploy({
        id: deployId,
        ...scope,
        release: version,
        previousRelease: null,
        strategy,
        initiator: 'bench',
        responsible: 'bench',
        trigger: 'cli',
        reason: null,
        plan: null,
        createdAtMs: Date.now(),
      });
      const metrics = openMetricSources(env.analysis, provider, scope);
      try {
        const summary = await runDeploy(
          { provider, store, clock: new RealClock(), pollMs: 500, metricSources: metrics.sources },
          {
            deployId,
            scope,
            target: release,
            groups: config.app.processes,
            settings,
            analysis: env.analysis,
            findRelease: (v) => store.getRelease('bench', v),
          },
        );
        return { summary, deployId };
      } finally {
        await metrics.close();
      }
    },
    async close() {
      await provider.close();
      await stopSupervisor(connection!.info.stateDir);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
