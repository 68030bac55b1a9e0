// `npm run bench:traffic`: zero-downtime under load on the `local` provider. For each strategy, a fresh
// environment of 6 web machines (real processes of examples/demo-app/server.js) behind runway's proxy
// is deployed v1 → v2 while autocannon sends a fixed request rate through the proxy. Reported per
// strategy: requests in all, failed (connection errors, timeouts), non-2xx answers, p50/p99 latency
// of requests started in the steady state before the deploy and of requests started during it.
// The goal: 0 failed and 0 non-2xx for every strategy, p99 during the deploy <= 2x the steady p99.
//
// The proxy runs in the environment's supervisor process, as with `runway deploy`; the deploy runs in
// this process through the same session the CLI opens. Options:
//   --rate N          requests per second (default 200)   --connections N  (default 10)
//   --steady S        seconds of steady state before the deploy (default 5)
//   --strategies a,b  (default every strategy)             --json  print the results as JSON

import { cpus, type as osType, release as osRelease } from 'node:os';
import autocannon from 'autocannon';
import { STRATEGIES, type StrategyName } from '../src/domain/types.js';
import { openLocalBench } from './local-bench.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const RATE = Number(flag('rate', '200'));
const CONNECTIONS = Number(flag('connections', '10'));
const STEADY_S = Number(flag('steady', '5'));
const ONLY = flag('strategies', STRATEGIES.join(',')).split(',') as StrategyName[];
const JSON_OUT = process.argv.includes('--json');
const WEB = 6;

interface Sample {
  startedAt: number;
  ms: number;
  status: number;
}

export interface TrafficResult {
  strategy: StrategyName;
  status: string;
  deployMs: number;
  extraMachinesPeak: number;
  requests: number;
  failed: number;
  non2xx: number;
  steady: { n: number; p50: number; p99: number };
  during: { n: number; p50: number; p99: number };
  p99Ratio: number;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function stats(samples: Sample[]) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return { n: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
}

async function runStrategy(strategy: StrategyName): Promise<TrafficResult> {
  const bench = await openLocalBench({
    web: WEB,
    releases: { v1: 'GREETING = "hello from v1"', v2: 'GREETING = "hello from v2"' },
  });
  const deploy = async (version: string, s: StrategyName) => (await bench.deploy(version, s)).summary;
  try {
    const first = await deploy('v1', 'rolling');
    if (first.status !== 'succeeded') throw new Error(`${strategy}: seeding v1 failed: ${first.error}`);
    await new Promise((r) => setTimeout(r, 500));

    const samples: Sample[] = [];
    let finish!: (result: autocannon.Result) => void;
    const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
    const load = autocannon(
      { url: `${bench.proxyUrl}/`, connections: CONNECTIONS, overallRate: RATE, duration: 3600, timeout: 20 },
      (error, result) => {
        if (error) throw error;
        finish(result);
      },
    );
    load.on('response', (_client, status, _bytes, ms) => {
      samples.push({ startedAt: performance.now() - ms, ms, status });
    });

    await new Promise((r) => setTimeout(r, STEADY_S * 1000));
    const deployStart = performance.now();
    const summary = await deploy('v2', strategy);
    const deployEnd = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    load.stop();
    const result = await done;

    // The first second warms connections up; it is not steady state.
    const steady = stats(
      samples.filter((s) => s.startedAt >= samples[0]!.startedAt + 1000 && s.startedAt < deployStart),
    );
    const during = stats(samples.filter((s) => s.startedAt >= deployStart && s.startedAt <= deployEnd));
    return {
      strategy,
      status: summary.status,
      deployMs: Math.round(deployEnd - deployStart),
      extraMachinesPeak: summary.extraMachinesPeak,
      requests: result.requests.total,
      failed: result.errors,
      non2xx: result.non2xx,
      steady,
      during,
      p99Ratio: during.p99 / steady.p99,
    };
  } finally {
    await bench.close();
  }
}

function table(results: TrafficResult[]): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
  const lines = [
    `| strategy | deploy | requests | failed | non-2xx | p50 steady | p99 steady | p50 deploy | p99 deploy | p99 deploy/steady |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of results) {
    lines.push(
      `| ${r.strategy} (${r.status}, ${r.extraMachinesPeak} extra) | ${(r.deployMs / 1000).toFixed(1)} s | ${r.requests} | ${r.failed} | ${r.non2xx} | ${f(r.steady.p50)} ms | ${f(r.steady.p99)} ms | ${f(r.during.p50)} ms | ${f(r.during.p99)} ms | ${f(r.p99Ratio)}× |`,
    );
  }
  return lines.join('\n');
}

const results: TrafficResult[] = [];
for (const strategy of ONLY) {
  if (!JSON_OUT) process.stderr.write(`${strategy}: ${WEB} web machines v1 → v2 at ${RATE} req/s …\n`);
  results.push(await runStrategy(strategy));
}
if (JSON_OUT) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
else {
  process.stdout.write(`\n${table(results)}\n\n`);
  process.stdout.write(
    `${RATE} req/s over ${CONNECTIONS} keep-alive connections (autocannon), ${STEADY_S} s steady state; ` +
      `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, ${osType()} ${osRelease()}, Node ${process.versions.node}\n`,
  );
  const ok = results.every((r) => r.status === 'succeeded' && r.failed === 0 && r.non2xx === 0);
  const fast = results.filter((r) => r.p99Ratio > 2).map((r) => r.strategy);
  process.stdout.write(
    `${ok ? 'no failed or non-2xx request with any strategy' : 'FAILED REQUESTS: see the table'}${fast.length ? `; p99 during the deploy above 2× steady: ${fast.join(', ')}` : '; p99 during every deploy within 2× steady'}\n`,
  );
  process.exitCode = ok ? 0 : 1;
}
