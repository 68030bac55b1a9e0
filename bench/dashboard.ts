// Dashboard benchmark (docs/benchmarks-dashboard.md):
//  1. With 10,000 past deploys in a SQLite store, server time (Server-Timing) of the overview and the
//     health page (7/30/90 days) and of GET /api/health: cold first request and p50/p95/max of 30.
//  2. 100 concurrent live viewers (SSE, in a separate process) of a running 2,000-machine rolling
//     deploy on the sim with a scaled clock (`--speed`, simulated seconds per wall second: the deploy
//     is paced by simulated provider latency, as a real one is by the provider): the deploy's wall
//     time with 0 and with 100 viewers (alternating runs), the server's event-loop delay, and how far
//     behind the viewers were when the deploy ended.
//
//   npm run bench:dashboard [-- --deploys 10000 --machines 2000 --viewers 100 --runs 3 --speed 10]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../src/config/load.js';
import { RealClock } from '../src/domain/clock.js';
import { TERMINAL_STATUSES } from '../src/domain/types.js';
import type { DeploySummary } from '../src/engine/summary.js';
import { createApiToken } from '../src/server/auth.js';
import { startServer } from '../src/server/serve.js';
import { openStore } from '../src/store/open-store.js';
import { seedHistory } from '../test/dashboard/seed.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const DEPLOYS = arg('deploys', 10_000);
const MACHINES = arg('machines', 2_000);
const VIEWERS = arg('viewers', 100);
const RUNS = arg('runs', 5);
const SPEED = arg('speed', 10);

const CONFIG = `
[app]
name = "shop"
[app.processes]
web = { count = ${MACHINES} }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.staging]
provider = "sim"
trigger = "push:main"
initiation = "automatic"
vars = { DEPLOY_STRATEGY = "immediate" }

[environments.qa]
provider = "sim"
trigger = "manual"
initiation = "manual"
vars = { DEPLOY_STRATEGY = "bluegreen" }

[sim]
clock = "scaled"
speed = ${SPEED}
initial_release = "v1"
`;

function stats(values: number[]): { p50: number; p95: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { p50: at(50), p95: at(95), max: s[s.length - 1]! };
}

const fmt = (n: number) => n.toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-bench-dashboard-'));
  writeFileSync(join(dir, 'runway.toml'), CONFIG);
  const config = loadConfig(join(dir, 'runway.toml'));
  const store = await openStore(join(dir, 'runway.db'), dir);
  const server = await startServer({ config, store, port: 0, pollMs: 500 });
  const clock = new RealClock();
  const { token } = await createApiToken(store, clock, {
    name: 'bench',
    role: 'admin',
    createdBy: 'bench',
    app: 'shop',
  });
  const cookie = `runway_session=${token}`;
  console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
  try {
    // ---- 1. pages with 10,000 past deploys
    let t = performance.now();
    await seedHistory(store, { app: 'shop', nowMs: Date.now(), count: DEPLOYS, days: 90, machines: MACHINES });
    console.log(`seeded ${DEPLOYS} past deploys over 90 days in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const pages = [
      '/dashboard',
      '/dashboard/health?window=7',
      '/dashboard/health?window=30',
      '/dashboard/health?window=90',
      '/api/health?window=90',
      '/dashboard/ledger',
    ];
    console.log('\n| page | cold server ms | server ms p50 / p95 / max (30 requests) | client ms p50 | bytes |');
    console.log('|---|---|---|---|---|');
    for (const path of pages) {
      const timings: number[] = [];
      const client: number[] = [];
      let cold = 0;
      let bytes = 0;
      for (let i = 0; i <= 30; i++) {
        t = performance.now();
        const res = await fetch(server.url + path, { headers: { cookie } });
        const body = await res.text();
        const elapsed = performance.now() - t;
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
        const dur = Number(/dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? elapsed);
        bytes = body.length;
        if (i === 0) cold = dur;
        else {
          timings.push(dur);
          client.push(elapsed);
        }
      }
      const s = stats(timings);
      console.log(
        `| \`${path}\` | ${fmt(cold)} | ${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(s.max)} | ${fmt(stats(client).p50)} | ${bytes.toLocaleString('en-US')} |`,
      );
    }

    // ---- 2. live viewers of a 2,000-machine deploy
    await store.createRelease('shop', { version: 'v2', image: 'shop:v2', createdAtMs: Date.now() });
    await store.createRelease('shop', { version: 'v3', image: 'shop:v3', createdAtMs: Date.now() + 1 });
    const runDeploy = async (release: string, viewers: number) => {
      const child =
        viewers > 0
          ? spawn(
              process.execPath,
              [
                '--import',
                'tsx',
                join(import.meta.dirname, 'dashboard-viewers.ts'),
                server.url,
                cookie,
                String(viewers),
              ],
              { stdio: ['pipe', 'pipe', 'inherit'] },
            )
          : undefined;
      let out = '';
      child?.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      if (child) await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpu = process.cpuUsage();
      const started = performance.now();
      const res = await fetch(`${server.url}/api/deploys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ env: 'production', release }),
      });
      const created = (await res.json()) as { deploy: { id: string } };
      if (res.status !== 201) throw new Error(JSON.stringify(created));
      const id = created.deploy.id;
      child?.stdin?.write(`${id}\n`);
      let deploy;
      for (;;) {
        deploy = await store.getDeploy(id);
        if (deploy && TERMINAL_STATUSES.includes(deploy.status)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const wallMs = performance.now() - started;
      const endedAtWall = Date.now();
      loop.disable();
      const loopP99 = loop.percentile(99) / 1e6;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      while (server.deploys.get(id)) await new Promise((r) => setTimeout(r, 20));
      let report: { viewers: number; ended: number; steps: number; bytes: number; lastEndAt: number } | undefined;
      if (child) {
        await new Promise((resolve) => child.once('exit', resolve));
        report = JSON.parse(out.trim().split('\n').at(-1)!);
      }
      return {
        id,
        status: deploy.status,
        wallMs,
        loopP99,
        cpuMs,
        simMs: (deploy.summary as DeploySummary | null)?.finishedAtMs ?? null,
        report,
        lagMs: report ? report.lastEndAt - endedAtWall : 0,
      };
    };
    console.log(
      `\n${MACHINES}-machine rolling deploy (sim, scaled clock ×${SPEED}), ${VIEWERS} viewers in a separate process:\n`,
    );
    console.log(
      '| run | viewers | deploy wall s | server CPU s | event-loop delay p99 ms | status | viewers that saw the end | steps each saw | MB to each | last viewer end after deploy end (ms) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const base: number[] = [];
    const watched: number[] = [];
    const baseCpu: number[] = [];
    const watchedCpu: number[] = [];
    let release = 'v2';
    // One warm-up deploy (JIT, fleet in the store), not counted.
    await runDeploy(release, 0);
    for (let run = 1; run <= RUNS; run++) {
      for (const viewers of [0, VIEWERS]) {
        release = release === 'v2' ? 'v3' : 'v2';
        const r = await runDeploy(release, viewers);
        (viewers ? watched : base).push(r.wallMs);
        (viewers ? watchedCpu : baseCpu).push(r.cpuMs);
        console.log(
          `| ${run} | ${viewers} | ${(r.wallMs / 1000).toFixed(2)} | ${(r.cpuMs / 1000).toFixed(2)} | ${r.loopP99.toFixed(1)} | ${r.status} | ${r.report ? `${r.report.ended}/${r.report.viewers}` : '—'} | ${r.report ? r.report.steps / r.report.viewers : '—'} | ${r.report ? (r.report.bytes / r.report.viewers / 1e6).toFixed(2) : '—'} | ${r.report ? Math.round(r.lagMs) : '—'} |`,
        );
      }
    }
    const median = (v: number[]) => stats(v).p50;
    console.log(
      `\nmedian deploy wall time: ${(median(base) / 1000).toFixed(2)} s without viewers, ${(median(watched) / 1000).toFixed(2)} s with ${VIEWERS}: ${(((median(watched) - median(base)) / median(base)) * 100).toFixed(1)} % slower; server CPU ${(median(baseCpu) / 1000).toFixed(2)} s and ${(median(watchedCpu) / 1000).toFixed(2)} s`,
    );
  } finally {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
