// Chaos benchmark (`npm run bench:chaos`): 500-machine deploys of random strategies through the fly
// provider against `runway sim serve` (its own process, with --state), each trial hit by one fault at
// a random moment drawn over the whole deploy, its end included:
//   kill-runway     runway killed -9, then `runway deploy resume`
//   api-outage      the sim server killed -9 and started again from its state after 2–60 s (same port)
//   slow-api        API latency median 3 s, p99 40 s (client timeouts on changes that still happen)
//   5xx             15 % of API calls answered 503, 5 % time out (504, half of them applied)
//   429             another client lists the app without pause (the app's rate limit shared)
//   pg-restart      the control plane's PostgreSQL stopped for 3 s (postgres store only; a server of
//                   the benchmark's own, never the shared one)
//   sigterm-server  the deploy runs in `runway server`, which gets SIGTERM and is started again
// Every trial must end converged (every machine on the target, started, checks passing, in traffic)
// with no machine updated or created twice (counted by the sim server, changes it applied after
// answering an error included), no extra machine, none left cordoned or stopped, and a journal that
// ends succeeded. Seeds are fresh by default and printed; `--seed` repeats a run.
//
//   npm run bench:chaos -- [--trials 20] [--scenarios all|a,b] [--stores sqlite,postgres]
//                          [--strategies all|a,b] [--machines 500] [--speed 20] [--seed N] [--max-outage 60] [--json]

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { STRATEGIES } from '../src/domain/types.js';
import { RealClock } from '../src/domain/clock.js';
import { createApiToken } from '../src/server/auth.js';
import { openStore } from '../src/store/open-store.js';
import { startRunwayServer, type Child } from '../test/support/processes.js';
import { startPostgresInstance, type PostgresInstance } from '../test/support/postgres-instance.js';
import { cli, fleetApi, simServe, sleep, TOKEN } from './chaos-processes.js';
import { judge, type Counts } from './chaos-verdict.js';

const SCENARIOS = ['kill-runway', 'api-outage', 'slow-api', '5xx', '429', 'pg-restart', 'sigterm-server'] as const;
type Scenario = (typeof SCENARIOS)[number];

const HELP = `Usage: npm run bench:chaos -- [options]

Chaos benchmark: deploys of random strategies through the fly provider against \`runway sim serve\`,
each hit by one fault at a random moment of the deploy (its end included); every trial must end
converged with no machine updated or created twice and none left out of traffic.

Options:
  --trials N          trials per scenario and store (default 20)
  --scenarios LIST    comma-separated, or "all" (default): ${SCENARIOS.join(', ')}
  --stores LIST       sqlite,postgres (default both; postgres runs on a server of the benchmark's own)
  --strategies LIST   comma-separated, or "all" (default: drawn at random from ${STRATEGIES.join(', ')})
  --machines N        machines per deploy (default 500: 80 % web, 20 % worker)
  --speed X           simulated seconds per real second, sim server and runway alike (default 20)
  --seed N            seed of every random choice (default: a fresh one, printed)
  --max-outage S      longest API outage in real seconds (default 60; drawn from 2..S)
  --keep-failed       keep a failed trial's directory (runway.toml, the store, sim serve's state) and print its path
  --json              print every trial as JSON
  -h, --help          this help
`;

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    scenarios: { type: 'string', default: 'all' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    strategies: { type: 'string', default: 'all' },
    machines: { type: 'string', default: '500' },
    speed: { type: 'string', default: '20' },
    seed: { type: 'string' },
    'max-outage': { type: 'string', default: '60' },
    'keep-failed': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const TRIALS = Number(args.trials);
const N = Number(args.machines);
const SPEED = Number(args.speed);
const MAX_OUTAGE_S = Number(args['max-outage']);
const SEED = args.seed !== undefined ? Number(args.seed) >>> 0 : randomBytes(4).readUInt32LE() >>> 0;
const chosen = (args.scenarios === 'all' ? [...SCENARIOS] : args.scenarios!.split(',')) as Scenario[];
for (const s of chosen)
  if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
const strategies = args.strategies === 'all' ? [...STRATEGIES] : args.strategies!.split(',');
for (const s of strategies)
  if (!(STRATEGIES as readonly string[]).includes(s))
    throw new Error(`unknown strategy "${s}" (known: ${STRATEGIES.join(', ')})`);
for (const [name, v] of [
  ['--trials', TRIALS],
  ['--machines', N],
  ['--speed', SPEED],
  ['--max-outage', MAX_OUTAGE_S],
] as const) {
  if (!(v > 0)) throw new Error(`${name} must be a positive number`);
}

let rng = SEED || 1;
function random(): number {
  rng = (rng * 1664525 + 1013904223) >>> 0;
  return rng / 2 ** 32;
}

/** Rough simulated duration of a deploy (s); kill moments are drawn over 110 % of it. */
const EXPECTED_SIM_S: Record<string, number> = {
  immediate: 30,
  rolling: 100,
  canary: 110,
  waves: 160,
  bluegreen: N * 1.05,
};

interface Trial {
  scenario: Scenario;
  store: string;
  trial: number;
  strategy: string;
  faultAfterMs: number;
  faultDuring: string;
  outageMs?: number;
  ok: boolean;
  counts: Counts;
  problems: string[];
  wallMs: number;
}

function simSettings(scenario: Scenario): string {
  if (scenario === 'slow-api') return `[sim.latency]\napi = { dist = "lognormal", median = "3s", p99 = "40s" }\n`;
  if (scenario === '5xx') return `[sim.faults]\nerror_rate = 0.15\ntimeout_rate = 0.05\n`;
  return '';
}

async function trial(
  scenario: Scenario,
  storeKind: string,
  i: number,
  pgServer: PostgresInstance | undefined,
): Promise<Trial> {
  const started = Date.now();
  const strategy = strategies[Math.floor(random() * strategies.length)]!;
  const app = `chaos-${i}-${randomBytes(2).toString('hex')}`;
  const flyApp = `${app}-production`;
  const dir = mkdtempSync(join(tmpdir(), 'runway-chaos-'));
  const problems: string[] = [];
  const counts: Counts = { doubleUpdates: 0, doubleCreates: 0, extras: 0, leftOut: 0, offTarget: 0 };
  const children: Child[] = [];
  let neighbour: AbortController | undefined;
  let faultAfterMs = 0;
  let faultDuring = '';
  let outageMs: number | undefined;
  try {
    const db =
      storeKind === 'postgres'
        ? pgServer!.url.replace(/\/postgres$/, `/postgres?options=-c%20search_path%3D${app.replace(/-/g, '_')}`)
        : '.runway/runway.db';
    if (storeKind === 'postgres') {
      const admin = await import('pg');
      const c = new admin.default.Client({ connectionString: pgServer!.url });
      await c.connect();
      await c.query(`create schema ${app.replace(/-/g, '_')}`);
      await c.end();
    }
    const web = Math.round(N * 0.8);
    // The outage timeout is in simulated time: long enough for the longest outage at this speed,
    // plus the sim server's own restart (a node process starting on a busy machine: up to ~30 s).
    const outageTimeoutS = Math.ceil((MAX_OUTAGE_S + 30) * SPEED * 1.5);
    // lease_ttl and request_timeout are simulated time too: their 30 s defaults would be 30/SPEED real
    // seconds, which a busy machine misses for reasons of its own. Both are 30 real seconds, as
    // against Fly (request_timeout not in slow-api, where client timeouts are the point).
    const requestTimeout = `lease_ttl = "${30 * SPEED}s"\n${scenario === 'slow-api' ? '' : `request_timeout = "${30 * SPEED}s"\n`}`;
    const config = (url: string) => `[app]
name = "${app}"
[app.processes]
web = { count = ${web} }
worker = { count = ${N - web} }
[app.deploy]
provider_outage_timeout = "${outageTimeoutS}s"

[environments.production]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "${strategy}" }
[environments.production.fly]
api_url = "${url}"
time_scale = ${SPEED}
${requestTimeout}
[environments.chaos]
provider = "sim"
${simSettings(scenario).replace(/\[sim\./g, '[environments.chaos.sim.')}
[store]
url = "${db}"
`;
    writeFileSync(join(dir, 'runway.toml'), config('http://127.0.0.1:1'));
    let fleet = await simServe(dir, SPEED, ['--env', 'chaos', '--seed', String(Math.floor(random() * 1e9))]);
    children.push(fleet);
    writeFileSync(join(dir, 'runway.toml'), config(fleet.url));
    await fleetApi(fleet.url, `/_sim/apps/${flyApp}/seed`, {
      method: 'POST',
      body: JSON.stringify({
        release: 'v1',
        groups: [
          { name: 'web', count: web },
          { name: 'worker', count: N - web },
        ],
      }),
    });
    await cli(dir, ['releases', 'create', 'v2', '--image', `registry.fly.io/${flyApp}:v2`]).done;

    if (scenario === '429') {
      neighbour = new AbortController();
      const signal = neighbour.signal;
      void (async () => {
        while (!signal.aborted) {
          await fetch(`${fleet.url}/v1/apps/${flyApp}/machines`, {
            headers: { authorization: `Bearer ${TOKEN}` },
            signal,
          }).then(
            (r) => r.arrayBuffer(),
            () => undefined,
          );
          await sleep(25);
        }
      })();
    }

    // Start the deploy: in the CLI, or in a runway server (sigterm-server).
    const store = await openStore(db, dir);
    let deployId: string | undefined;
    let deploy: ReturnType<typeof cli> | undefined;
    let server: (Child & { url: string }) | undefined;
    let apiToken = '';
    if (scenario === 'sigterm-server') {
      apiToken = (
        await createApiToken(store, new RealClock(), { name: 'chaos', role: 'admin', createdBy: 'chaos', app })
      ).token;
      server = await startRunwayServer(
        ['--instance', 'S1', '--lease-ttl', '3s'],
        { FLY_API_TOKEN: TOKEN },
        dir,
        90_000,
      );
      children.push(server);
      const res = await fetch(`${server.url}/api/deploys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ env: 'production', release: 'v2', reason: 'chaos' }),
      });
      if (res.status !== 201) throw new Error(`server refused the deploy: ${res.status} ${await res.text()}`);
      deployId = ((await res.json()) as { deploy: { id: string } }).deploy.id;
    } else {
      deploy = cli(dir, ['deploy', '--env', 'production', '--release', 'v2', '--json']);
      for (let t = 0; t < 1200 && !deployId; t++) {
        const [d] = await store.listDeploys({ app, limit: 1 });
        if (d?.status === 'running') deployId = d.id;
        else await sleep(50);
      }
    }
    if (!deployId) throw new Error('the deploy never started');

    // One fault at a random moment over the whole deploy, its end included.
    faultAfterMs = Math.round(random() * (((EXPECTED_SIM_S[strategy] ?? 100) * 1000) / SPEED) * 1.1);
    const faulty =
      scenario === 'kill-runway' ||
      scenario === 'api-outage' ||
      scenario === 'pg-restart' ||
      scenario === 'sigterm-server';
    if (faulty) {
      await sleep(faultAfterMs);
      faultDuring =
        [...(await store.listJournal(deployId).catch(() => []))].reverse().find((e) => e.kind === 'wave_started')
          ?.message ?? 'before its first wave';
    }
    let resumeNeeded = false;
    if (scenario === 'kill-runway') {
      deploy!.child.kill('SIGKILL');
      await deploy!.done;
      resumeNeeded = (await store.getDeploy(deployId))?.status === 'running';
    } else if (scenario === 'api-outage') {
      outageMs = Math.round((2 + random() * (MAX_OUTAGE_S - 2)) * 1000);
      const port = fleet.port;
      await fleet.stop('SIGKILL');
      await sleep(outageMs);
      fleet = await simServe(dir, SPEED, ['--env', 'chaos'], port);
      children.push(fleet);
    } else if (scenario === 'pg-restart') {
      if (pgServer) await pgServer.restart(3_000);
    } else if (scenario === 'sigterm-server') {
      await server!.stop('SIGTERM');
      server = await startRunwayServer(
        ['--instance', 'S2', '--lease-ttl', '3s'],
        { FLY_API_TOKEN: TOKEN },
        dir,
        90_000,
      );
      children.push(server);
    }
    if (resumeNeeded) {
      const out = await cli(dir, ['deploy', 'resume', deployId, '--json']).done;
      const summary = JSON.parse(out.stdout || '{}') as { status?: string; error?: string };
      if (summary.status !== 'succeeded')
        problems.push(`resume ended ${summary.status}: ${summary.error ?? out.stdout.slice(0, 300)}`);
    } else if (deploy) {
      const out = await deploy.done;
      if (scenario !== 'kill-runway' && out.code !== 0) {
        // The summary's status and error say why; stderr what runway said on its way out.
        const summary = (() => {
          try {
            return JSON.parse(out.stdout) as { status?: string; error?: string };
          } catch {
            return {};
          }
        })();
        const why = summary.status ? `${summary.status}: ${summary.error ?? ''}` : out.stdout.slice(-400);
        problems.push(`deploy exited ${out.code} (${why}); stderr: ${out.stderr.slice(-1500).replace(/\s+/g, ' ')}`);
      }
    } else {
      for (let t = 0; ; t++) {
        const d = await store.getDeploy(deployId).catch(() => undefined);
        if (d && d.status !== 'running' && d.status !== 'pending') break;
        if (t > 6000) throw new Error('the restarted server never finished the deploy');
        await sleep(100);
      }
    }
    neighbour?.abort();

    await judge({ url: fleet.url, flyApp, n: N, deployId, store, counts, problems });
    await store.close();
    return {
      scenario,
      store: storeKind,
      trial: i,
      strategy,
      faultAfterMs,
      faultDuring,
      ...(outageMs !== undefined ? { outageMs } : {}),
      ok: problems.length === 0,
      counts,
      problems,
      wallMs: Date.now() - started,
    };
  } catch (err) {
    problems.push((err as Error).message);
    return {
      scenario,
      store: storeKind,
      trial: i,
      strategy,
      faultAfterMs,
      faultDuring,
      ok: false,
      counts,
      problems,
      wallMs: Date.now() - started,
    };
  } finally {
    neighbour?.abort();
    await Promise.all(children.map((c) => c.stop('SIGKILL').catch(() => null)));
    if (args['keep-failed'] && problems.length > 0) process.stderr.write(`  kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const stores = args.stores!.split(',');
  const pgServer = stores.includes('postgres') ? await startPostgresInstance() : undefined;
  const results: Trial[] = [];
  const t0 = Date.now();
  process.stderr.write(
    `chaos: seed ${SEED} (repeat with --seed ${SEED}), ${N} machines, speed ${SPEED}x, scenarios ${chosen.join(', ')}, stores ${stores.join(', ')}, strategies ${strategies.join(', ')}\n`,
  );
  try {
    for (const scenario of chosen) {
      for (const storeKind of stores) {
        if (scenario === 'pg-restart' && storeKind !== 'postgres') continue;
        for (let i = 1; i <= TRIALS; i++) {
          const r = await trial(scenario, storeKind, i, pgServer);
          results.push(r);
          if (!args.json) {
            // slow-api, 5xx and 429 are storms over the whole deploy: no moment, no phase.
            const fault =
              r.outageMs !== undefined
                ? `outage ${(r.outageMs / 1000).toFixed(0)} s after ${r.faultAfterMs} ms (${r.faultDuring.slice(0, 50)})`
                : r.faultDuring
                  ? `fault after ${r.faultAfterMs} ms (${r.faultDuring.slice(0, 50)})`
                  : 'fault throughout the deploy';
            process.stderr.write(
              `${scenario.padEnd(14)} ${storeKind.padEnd(8)} #${String(i).padStart(2)} ${r.strategy.padEnd(9)} ${fault} → ${r.ok ? 'ok' : `FAILED: ${r.problems.join('; ')}`}  [${(r.wallMs / 1000).toFixed(1)} s]\n`,
            );
          }
        }
      }
    }
  } finally {
    await pgServer?.destroy();
  }
  if (args.json) {
    process.stdout.write(JSON.stringify({ seed: SEED, machines: N, speed: SPEED, trials: results }, null, 2) + '\n');
  } else {
    const lines = [
      `chaos: seed ${SEED}, ${N} machines, sim serve at ${SPEED}x, ${cpus().length} CPUs, ${((Date.now() - t0) / 1000).toFixed(0)} s wall`,
      '',
      '| scenario | store | converged | double updates | double creates | extra machines | left cordoned/stopped | strategies (passed/run) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ];
    for (const scenario of chosen) {
      for (const storeKind of stores) {
        const rs = results.filter((r) => r.scenario === scenario && r.store === storeKind);
        if (rs.length === 0) continue;
        const by = new Map<string, [number, number]>();
        for (const r of rs) {
          const [p, n] = by.get(r.strategy) ?? [0, 0];
          by.set(r.strategy, [p + (r.ok ? 1 : 0), n + 1]);
        }
        const sum = (k: keyof Counts) => rs.reduce((n, r) => n + Math.max(0, r.counts[k]), 0);
        lines.push(
          `| ${scenario} | ${storeKind} | ${rs.filter((r) => r.ok).length}/${rs.length} | ${sum('doubleUpdates')} | ${sum('doubleCreates')} | ${sum('extras')} | ${sum('leftOut')} | ${[...by].map(([s, [p, n]]) => `${s} ${p}/${n}`).join(', ')} |`,
        );
      }
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

await main();
