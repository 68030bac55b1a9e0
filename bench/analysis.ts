// `npm run bench:analysis`: how fast analysis catches a release that passes its health checks but
// fails real requests, and how many requests it fails meanwhile, on the `local` provider under load.
// For each strategy (canary, rolling, waves), a fresh environment of WEB web machines (real processes
// of examples/demo-app/server.js) behind runway's proxy serves v1 while autocannon sends a fixed rate
// through the proxy; then v2 — whose /up passes but which answers 500 to a quarter of requests
// (DEMO_ERROR_RATE) — is deployed with an error-rate analysis (max 5 %, every INTERVAL).
// Reported per strategy:
//   detection   from the first request v2 answered (seen in the proxy's counters) to the start of
//               the rollback (the journal's `rollback` entry); goal: within two analysis intervals
//   failed      non-2xx answers among every request sent from the start of the deploy to its end
//               (rollback included); goal: under 1 %
// Options: --rate N (200) --connections N (10) --web N (10) --interval S (1) --strategies a,b --json

import { cpus, type as osType, release as osRelease } from 'node:os';
import autocannon from 'autocannon';
import type { StrategyName } from '../src/domain/types.js';
import { openLocalBench } from './local-bench.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'Usage: npm run bench:analysis -- [--rate 200] [--connections 10] [--web 10] [--interval 1] [--strategies canary,rolling,waves] [--json]\n',
  );
  process.exit(0);
}
const RATE = Number(flag('rate', '200'));
const CONNECTIONS = Number(flag('connections', '10'));
const WEB = Number(flag('web', '10'));
const INTERVAL_S = Number(flag('interval', '1'));
const ONLY = flag('strategies', 'canary,rolling,waves').split(',') as StrategyName[];
const JSON_OUT = process.argv.includes('--json');
const ERROR_RATE = 0.25;

export interface AnalysisResult {
  strategy: StrategyName;
  status: string;
  error: string | null;
  deployMs: number;
  /** First request answered by v2 → rollback started, ms. */
  detectionMs: number | null;
  requests: number;
  non2xx: number;
  failedShare: number;
}

async function runStrategy(strategy: StrategyName): Promise<AnalysisResult> {
  const bench = await openLocalBench({
    web: WEB,
    releases: { v1: '', v2: `DEMO_ERROR_RATE = "${ERROR_RATE}"` },
    appToml: `[[app.analysis]]\nname = "errors"\nmetric = "error_rate"\nmax = 0.05\ninterval = "${INTERVAL_S}s"\nwindow = "${2 * INTERVAL_S}s"\ncount = 3\nmin_requests = 5\n`,
  });
  const { provider, store, scope } = bench;
  const deploy = (version: string, s: StrategyName) => bench.deploy(version, s);
  try {
    const first = await deploy('v1', 'rolling');
    if (first.summary.status !== 'succeeded') throw new Error(`${strategy}: seeding v1 failed: ${first.summary.error}`);

    const samples: { at: number; status: number }[] = [];
    let finish!: (result: autocannon.Result) => void;
    const done = new Promise<autocannon.Result>((r) => (finish = r));
    const load = autocannon(
      { url: `${bench.proxyUrl}/`, connections: CONNECTIONS, overallRate: RATE, duration: 3600, timeout: 20 },
      (error, result) => {
        if (error) throw error;
        finish(result);
      },
    );
    load.on('response', (_client, status) => samples.push({ at: Date.now(), status }));
    // Steady state first: the baseline needs requests of its own in the window.
    await new Promise((r) => setTimeout(r, 3000));

    // The first request v2 answers, as the proxy counts it (polled every 50 ms while the deploy runs).
    let firstV2At: number | null = null;
    let deploying = true;
    const watch = (async () => {
      while (deploying && firstV2At === null) {
        const t = await provider.traffic(scope);
        if (Object.values(t.byMachine).some((r) => (r['v2']?.requests ?? 0) > 0)) firstV2At = t.atMs;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const start = Date.now();
    const bad = await deploy('v2', strategy);
    const end = Date.now();
    deploying = false;
    await watch;
    load.stop();
    await done;
    const journal = await store.listJournal(bad.deployId);
    const rollbackAt = journal.find((e) => e.kind === 'rollback')?.atMs ?? null;
    const during = samples.filter((s) => s.at >= start && s.at <= end);
    const non2xx = during.filter((s) => s.status < 200 || s.status >= 300).length;
    return {
      strategy,
      status: bad.summary.status,
      error: bad.summary.error ?? null,
      deployMs: end - start,
      detectionMs: firstV2At !== null && rollbackAt !== null ? rollbackAt - firstV2At : null,
      requests: during.length,
      non2xx,
      failedShare: during.length ? non2xx / during.length : 0,
    };
  } finally {
    await bench.close();
  }
}

const results: AnalysisResult[] = [];
for (const strategy of ONLY) {
  if (!JSON_OUT)
    process.stderr.write(`${strategy}: ${WEB} web machines v1 → v2 (25 % of requests fail) at ${RATE} req/s …\n`);
  results.push(await runStrategy(strategy));
}
const goalMs = 2 * INTERVAL_S * 1000;
const met = (r: AnalysisResult) =>
  r.status === 'rolled_back' && r.detectionMs !== null && r.detectionMs <= goalMs && r.failedShare < 0.01;
if (JSON_OUT) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
else {
  const lines = [
    '| strategy | result | deploy (with rollback) | detection | requests | non-2xx | failed share | goal |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.strategy} | ${r.status} | ${(r.deployMs / 1000).toFixed(1)} s | ${r.detectionMs === null ? '—' : `${(r.detectionMs / 1000).toFixed(2)} s`} | ${r.requests} | ${r.non2xx} | ${(100 * r.failedShare).toFixed(2)} % | ${met(r) ? 'met' : 'NOT MET'} |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
  process.stdout.write(
    `analysis: error_rate ≤ 5 %, every ${INTERVAL_S} s over ${2 * INTERVAL_S} s; goals: detection ≤ ${goalMs / 1000} s (two intervals), failed share < 1 %; ` +
      `${RATE} req/s over ${CONNECTIONS} connections; machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, ${osType()} ${osRelease()}, Node ${process.versions.node}\n`,
  );
  if (results.some((r) => r.error && r.status !== 'rolled_back'))
    for (const r of results) if (r.error) process.stdout.write(`${r.strategy}: ${r.error}\n`);
}
process.exitCode = results.every(met) ? 0 : 1;
