// A deploy of N machines (default 500: web 400, worker 100, v1 → v2) through the `fly` provider over
// real HTTP to `runway sim serve` in a separate process, once per strategy. Both sides run on a clock
// scaled by --speed, so minutes of simulated time take seconds. Reports wall time, simulated time,
// HTTP requests per machine (every request that reached the server: leases, wait slices and health
// polls included), 429s, and flyctl's calls for the same deploy derived from its documented behaviour.
//
//   npm run bench:fly -- [--n 500] [--speed 10] [--strategies immediate,rolling,bluegreen,canary,waves] [--seed 1] [--json FILE]

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getEnvironment, parseConfig, resolveStrategySettings } from '../src/config/index.js';
import { STRATEGIES, type Release, type StrategyName } from '../src/domain/types.js';
import { runDeploy } from '../src/engine/executor.js';
import type { FlyProvider } from '../src/providers/fly/fly-provider.js';
import { openFlySession } from '../src/providers/fly/session.js';
import type { ResilientProvider } from '../src/providers/resilient-provider.js';
import { openStore } from '../src/store/open-store.js';

const ROOT = resolve(import.meta.dirname, '..');
const TOKEN = 'bench-fly-token';
const APP = 'mechanic';
const ENV = 'bench';
const FLY_APP = `${APP}-${ENV}`;

/**
 * flyctl's API calls for the same deploy, per machine, from its documented behaviour
 * (/work/shared/reference/flyctl-and-machines-api.md, superfly/flyctl internal/machine/leasable_machine.go):
 * the calls of docs/benchmarks.md's flyctl models (which leave leases out), plus leases — acquired on
 * every machine it changes, refreshed every ~4 s (TTL 13 s) for as long as the deploy runs, released at
 * the end. Durations are the models' "flyctl exits" at N = 500 (docs/benchmarks.md, seed 1).
 */
const FLYCTL_500: Partial<Record<StrategyName, { modelCalls: number; seconds: number; basis: string }>> = {
  immediate: { modelCalls: 1.0, seconds: 11.9, basis: 'update only (waits for nothing)' },
  rolling: { modelCalls: 10.0, seconds: 74.2, basis: 'update, wait, ~7 smoke GETs, health GETs' },
  bluegreen: {
    modelCalls: 9.01,
    seconds: 589.2,
    basis: 'create, waits, health GETs, uncordon, tag, cordon, stop, wait, destroy',
  },
};
const FLYCTL_REFRESH_S = 4;

function flyctlPerMachine(strategy: StrategyName): { calls: number; basis: string } | undefined {
  // canary is a canary phase then rolling; waves' counterpart in flyctl is bluegreen (same guarantee).
  const model = FLYCTL_500[strategy === 'canary' ? 'rolling' : strategy === 'waves' ? 'bluegreen' : strategy];
  if (!model) return undefined;
  const leases = 2 + model.seconds / FLYCTL_REFRESH_S;
  return {
    calls: model.modelCalls + leases,
    basis: `${model.basis} + lease acquire/release + refresh every 4 s for ${model.seconds} s`,
  };
}

interface Row {
  strategy: StrategyName;
  n: number;
  speed: number;
  status: string;
  error: string | null;
  wallS: number;
  simS: number;
  dispatchedS: number | null;
  convergedS: number | null;
  requests: number;
  perMachine: number;
  byLabel: Record<string, number>;
  rateLimited: number;
  serverRateLimited: number;
  extraPeak: number;
  leases: { acquired: number; adopted: number; refreshed: number; released: number };
  flyctlPerMachine: number | null;
}

function groups(n: number) {
  const web = Math.round(n * 0.8);
  return [
    { name: 'web', count: web },
    { name: 'worker', count: n - web },
  ];
}

async function startServer(n: number, speed: number, seed: number): Promise<{ url: string; stop(): Promise<void> }> {
  const fleet = groups(n)
    .map((g) => `${g.name}=${g.count}`)
    .join(',');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'sim',
      'serve',
      '--port',
      '0',
      '--speed',
      String(speed),
      '--seed',
      String(seed),
      '--app',
      FLY_APP,
      '--fleet',
      fleet,
      '--initial-release',
      'v1',
      '--json',
    ],
    { cwd: ROOT, env: { ...process.env, FLY_API_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        resolveUrl((JSON.parse(out) as { url: string }).url);
      } catch {
        // more to come
      }
    });
    child.on('exit', (code) => reject(new Error(`sim serve exited with ${code}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function toml(n: number, url: string, speed: number): string {
  return [
    '[app]',
    `name = "${APP}"`,
    '[app.processes]',
    ...groups(n).map((g) => `${g.name} = { count = ${g.count} }`),
    `[environments.${ENV}]`,
    'provider = "fly"',
    `[environments.${ENV}.fly]`,
    `api_url = "${url}"`,
    `time_scale = ${speed}`,
    '',
  ].join('\n');
}

async function measure(strategy: StrategyName, n: number, speed: number, seed: number): Promise<Row> {
  const server = await startServer(n, speed, seed);
  try {
    const config = parseConfig(toml(n, server.url, speed), join(ROOT, 'bench/runway.toml'));
    const env = getEnvironment(config, ENV);
    const settings = resolveStrategySettings(env, config.app.processes, strategy);
    const store = await openStore(':memory:', ROOT);
    const session = await openFlySession({ config, env, store, processEnv: { FLY_API_TOKEN: TOKEN } });
    const release = (version: string): Release => ({
      version,
      image: `registry.fly.io/${FLY_APP}:${version}`,
      createdAtMs: 0,
    });
    await store.createRelease(APP, release('v1'));
    await store.createRelease(APP, release('v2'));
    const deployId = `dep_flybench_${strategy}`;
    await store.createDeploy({
      id: deployId,
      app: APP,
      env: ENV,
      release: 'v2',
      previousRelease: 'v1',
      strategy,
      initiator: 'bench',
      responsible: 'bench',
      trigger: 'cli',
      reason: null,
      plan: null,
      createdAtMs: session.clock.now(),
    });
    const wall0 = performance.now();
    const summary = await runDeploy(
      { provider: session.provider, store, clock: session.clock, apiStats: session.apiStats },
      {
        deployId,
        scope: { app: APP, env: ENV },
        target: release('v2'),
        groups: config.app.processes,
        settings,
        findRelease: async (v) => release(v),
      },
    );
    const fly = (session.provider as ResilientProvider).inner as FlyProvider;
    await session.close(); // leases released: those requests count too
    const wallS = (performance.now() - wall0) / 1000;
    const stats = (await (
      await fetch(`${server.url}/_sim/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { server: { byStatus: Record<string, number> } };
    await store.close();
    const requests = fly.apiStats.requests;
    return {
      strategy,
      n,
      speed,
      status: summary.status,
      error: summary.error,
      wallS,
      simS: summary.finishedAtMs / 1000,
      dispatchedS: summary.dispatchedAtMs === null ? null : summary.dispatchedAtMs / 1000,
      convergedS: summary.convergedAtMs === null ? null : summary.convergedAtMs / 1000,
      requests,
      perMachine: requests / n,
      byLabel: { ...fly.apiStats.byLabel },
      rateLimited: fly.apiStats.rateLimited,
      serverRateLimited: stats.server.byStatus['429'] ?? 0,
      extraPeak: summary.extraMachinesPeak,
      leases: {
        acquired: fly.leaseStats.acquired,
        adopted: fly.leaseStats.adopted,
        refreshed: fly.leaseStats.refreshed,
        released: fly.leaseStats.released,
      },
      flyctlPerMachine: flyctlPerMachine(strategy)?.calls ?? null,
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '500' },
      speed: { type: 'string', default: '10' },
      strategies: { type: 'string', default: STRATEGIES.join(',') },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const n = Number(values.n);
  const speed = Number(values.speed);
  const seed = Number(values.seed);
  const strategies = values.strategies!.split(',').map((s) => s.trim()) as StrategyName[];
  for (const s of strategies)
    if (!(STRATEGIES as readonly string[]).includes(s)) throw new Error(`unknown strategy ${s}`);
  console.error(
    `fly-api bench: N=${n}, speed ${speed}x, seed ${seed}, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  );
  const rows: Row[] = [];
  for (const strategy of strategies) {
    const row = await measure(strategy, n, speed, seed);
    rows.push(row);
    console.error(
      `  ${strategy}: ${row.status} in ${row.simS.toFixed(1)} s simulated (dispatched ${row.dispatchedS?.toFixed(1) ?? '—'} s), ${row.wallS.toFixed(1)} s wall, ${row.perMachine.toFixed(2)} requests/machine, ${row.rateLimited} 429s`,
    );
  }
  const lines = [
    '| strategy | status | simulated (s) | converged (s) | wall (s) | requests / machine | flyctl, derived / machine | 429s received | extra peak |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) =>
      [
        r.strategy,
        r.status,
        r.simS.toFixed(1),
        r.convergedS === null ? '—' : r.convergedS.toFixed(1),
        r.wallS.toFixed(1),
        r.perMachine.toFixed(2),
        r.flyctlPerMachine === null
          ? '—'
          : `${r.flyctlPerMachine.toFixed(1)}${r.strategy === 'canary' || r.strategy === 'waves' ? ` (${r.strategy === 'canary' ? 'rolling' : 'bluegreen'})` : ''}`,
        String(r.rateLimited),
        String(r.extraPeak),
      ]
        .join(' | ')
        .replace(/^/, '| ')
        .replace(/$/, ' |'),
    ),
    '',
    'Requests by kind, per machine:',
    '',
    '| strategy | ' +
      ['list', 'get', 'create', 'update', 'wait', 'lease', 'cordon', 'uncordon', 'metadata', 'stop', 'destroy'].join(
        ' | ',
      ) +
      ' |',
    '| --- |' + ' ---: |'.repeat(11),
    ...rows.map(
      (r) =>
        `| ${r.strategy} | ${['list', 'get', 'create', 'update', 'wait', 'lease', 'cordon', 'uncordon', 'metadata', 'stop', 'destroy'].map((k) => ((r.byLabel[k] ?? 0) / r.n).toFixed(2)).join(' | ')} |`,
    ),
  ];
  console.log(lines.join('\n'));
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
}

await main();
