// Keeps the rollout benchmark (bench/) working: the N = 100 measurement of two strategies through the
// same functions `npm run bench:rollout` uses, with invariants that must hold whatever the engine's speed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureFlyctlModel } from '../../bench/flyctl-model.js';
import { lowerBound } from '../../bench/lower-bound.js';
import { evaluateGoals, markdown, scaleTable, type BenchResults } from '../../bench/report.js';
import { measureRunway, type RunwayResult } from '../../bench/runway-run.js';

const N = 100;

function checkRun(r: RunwayResult): void {
  assert.equal(r.status, 'succeeded', r.error ?? '');
  assert.ok(r.convergeMs !== null && r.convergeMs > 0);
  assert.ok(r.boundMs > 0, 'bound > 0');
  // The bound is a lower bound: it may never exceed the time the deploy really took.
  assert.ok(r.ratio !== null && r.ratio >= 1, `ratio ${r.ratio} ≥ 1`);
  for (const u of r.bound.units)
    assert.ok(u.boundMs <= u.actualMs + 1e-6, `unit ${u.index} (${u.kind}): bound ${u.boundMs} ≤ actual ${u.actualMs}`);
  // Chains are sums of sequential phases: none of a step's counted phases overlap.
  assert.equal(r.bound.overlaps, 0);
  // The fleet itself converged no later than runway said it did, and extras agree with the sim's count.
  assert.ok(r.fleetConvergedMs !== null && r.fleetConvergedMs <= r.convergeMs!);
  assert.equal(r.extraPeak, r.extraPeakObserved);
  assert.equal(r.rateLimited, 0, 'runway throttles itself: no 429s');
  assert.ok(r.apiCallsPerMachine >= 2 && r.apiCallsPerMachine < 10, String(r.apiCallsPerMachine));
}

describe('rollout benchmark (N = 100)', () => {
  it('rolling: converges, bound ≤ actual, no extra machines', async () => {
    const r = await measureRunway('rolling', N);
    checkRun(r);
    assert.equal(r.extraPeak, 0);
    // Barrier batches: each unit's bound is at least its longest chain.
    assert.ok(r.bound.units.every((u) => (u.terms.chain ?? 0) <= u.boundMs));
  });

  it('waves: converges, bound ≤ actual, extras within max_surge (10 % per group)', async () => {
    const r = await measureRunway('waves', N);
    checkRun(r);
    // web 80 → 8, worker 20 → 2.
    assert.ok(r.extraPeak >= 1 && r.extraPeak <= 10, String(r.extraPeak));
    assert.ok(
      r.bound.units.some((u) => u.terms['create-rate'] !== undefined),
      'the surge wave is bounded by the create rate too',
    );
  });

  it('flyctl bluegreen model: doubles the fleet, and its creates are held to 1/s per app', async () => {
    const r = await measureFlyctlModel('bluegreen', N);
    assert.equal(r.extraPeak, N);
    assert.ok(r.convergeMs !== null && r.convergeMs >= (N - 3) * 1000 + 20_000, String(r.convergeMs));
    assert.equal(r.rateLimited, 0);
  });

  it('the lower bound of a hand-made unit follows the formula', () => {
    const ops = [
      // machine a: 100 ms call, 1000 ms update, 2000 ms boot → chain 3100, API 100, tail 3000
      { machineId: 'a', op: 'api' as const, apiOp: 'update' as const, startMs: 0, endMs: 100 },
      { machineId: 'a', op: 'update' as const, startMs: 100, endMs: 1100 },
      { machineId: 'a', op: 'boot' as const, startMs: 1100, endMs: 3100 },
      // machine b: its wait call does not count; chain 200 + 500 = 700
      { machineId: 'b', op: 'api' as const, apiOp: 'update' as const, startMs: 0, endMs: 200 },
      { machineId: 'b', op: 'api' as const, apiOp: 'wait' as const, startMs: 200, endMs: 400 },
      { machineId: 'b', op: 'update' as const, startMs: 200, endMs: 700 },
    ];
    const sa = {
      kind: 'update' as const,
      machineId: 'a',
      group: 'web',
      from: 'v1',
      to: 'v2',
      cordon: false,
      gate: 'none' as const,
    };
    const sb = { ...sa, machineId: 'b' };
    const bound = lowerBound({
      ops,
      units: [{ wave: { index: 0, kind: 'dispatch', label: 'x', steps: [sa, sb] }, startMs: 0 }],
      stepMachine: new Map([
        [sa, 'a'],
        [sb, 'b'],
      ]),
      launchMachine: new Map(),
      inTraffic: new Set(['a', 'b']),
      deployStartMs: 0,
      convergedAtMs: 3100,
      maxConcurrency: 1,
      createLimit: { ratePerSec: 1, burst: 3 },
    });
    const u = bound.units[0]!;
    assert.equal(u.terms.chain, 3100);
    // K = 1: the first API call done ≥ 100 (a's) + tail 3000 = 3100; both ≥ 300 + 500 (b's tail) = 800.
    assert.equal(u.terms.concurrency, 3100);
    assert.equal(bound.totalMs, 3100);
    assert.equal(bound.overlaps, 0);
  });

  it('renders the tables and judges the goals', async () => {
    const r = await measureRunway('waves', N);
    const results: BenchResults = {
      command: 'test',
      machine: { cpus: 1, cpuModel: 'x', memoryGb: 1, node: process.version, platform: 'x', date: 'x' },
      sizes: [N],
      seeds: [1],
      runway: [r],
      seedRatios: [
        {
          strategy: 'waves',
          n: N,
          seed: 1,
          convergeMs: r.convergeMs,
          boundMs: r.boundMs,
          ratio: r.ratio,
          extraPeak: r.extraPeak,
          status: r.status,
        },
      ],
      flyctl: [],
      engine10k: null,
      wallMs: 0,
    };
    const text = markdown(results);
    assert.match(text, /\| waves \| 100 \|/);
    const goals = evaluateGoals(results);
    const waves = goals.find((g) => g.goal.startsWith('waves: converge within 1.15'));
    assert.equal(waves?.met, r.ratio! <= 1.15);
    // No flyctl model measured: no goal against one.
    assert.ok(!goals.some((g) => /flyctl/.test(g.goal) && /rolling|immediate/.test(g.goal)));
  });

  it('judges the goals against the flyctl models and the engine cost per machine', () => {
    const run = (strategy: 'rolling' | 'immediate', n: number, ms: number) =>
      ({ kind: 'runway', strategy, n, seed: 1, status: 'succeeded', convergeMs: ms, fleetConvergedMs: ms }) as never;
    const model = (m: 'rolling' | 'immediate', n: number, ms: number) =>
      ({ kind: 'flyctl-model', model: m, n, seed: 1, convergeMs: ms }) as never;
    const engine = (n: number, cpuMs: number, rssMb: number) =>
      ({
        kind: 'engine-cost',
        strategy: 'rolling',
        n,
        status: 'succeeded',
        convergeMs: 1,
        cpuMs,
        maxRssKb: rssMb * 1024,
        rssBeforeBytes: 100 * 2 ** 20,
        heapUsedPeakBytes: 0,
      }) as never;
    const results: BenchResults = {
      command: 'test',
      machine: { cpus: 1, cpuModel: 'x', memoryGb: 1, node: process.version, platform: 'x', date: 'x' },
      sizes: [100, 500],
      seeds: [1],
      runway: [
        run('rolling', 100, 50_000),
        run('rolling', 500, 70_000),
        run('immediate', 100, 17_000),
        run('immediate', 500, 20_000),
      ],
      seedRatios: [],
      flyctl: [
        model('rolling', 100, 60_000),
        model('rolling', 500, 70_000),
        model('immediate', 100, 17_000),
        model('immediate', 500, 27_000),
      ],
      engine10k: { runs: [engine(10_000, 1500, 250)] },
      engineScale: [engine(1000, 200, 110), engine(50_000, 8000, 800)],
      wallMs: 0,
    };
    const goals = evaluateGoals(results);
    const met = (re: RegExp) => goals.find((g) => re.test(g.goal))?.met;
    assert.equal(met(/^rolling: .*≤ 0.9/), false, 'N = 500 is 1.0× the model');
    assert.equal(met(/^immediate: /), true, 'no later than the model, equal included');
    assert.equal(met(/CPU < 2 s/), true);
    assert.equal(met(/peak RSS < 300 MB/), true);
    // 50k: 160 µs vs 150 µs per machine of CPU: worse.
    assert.equal(met(/^50,000 machines/), false);
    assert.match(scaleTable(results.engine10k!, results.engineScale!), /\| 50,000 \| 1 run \|/);
    // Three runs at each size: medians against medians, one slow run at 50,000 notwithstanding.
    const three = evaluateGoals({
      ...results,
      engine10k: { runs: [engine(10_000, 1500, 250), engine(10_000, 1400, 250), engine(10_000, 1600, 250)] },
      engineScale: [engine(50_000, 9000, 800), engine(50_000, 7000, 800), engine(50_000, 7400, 800)],
    }).find((g) => /^50,000 machines/.test(g.goal))!;
    assert.equal(three.met, true, three.figure);
    assert.match(three.figure, /CPU 148 µs vs 150 µs per machine.*medians of 3 and 3 runs/);
    assert.match(
      scaleTable({ runs: [engine(10_000, 1500, 250), engine(10_000, 1400, 250)] }, [
        engine(50_000, 7000, 800),
        engine(50_000, 7400, 800),
      ]),
      /\| 50,000 \| median of 2 \|/,
    );
  });

  it('judges waves on the first seed and the median of the seeds at every N, and names the worst seed', () => {
    const ratio = (n: number, seed: number, x: number) =>
      ({ strategy: 'waves', n, seed, convergeMs: 1, boundMs: 1, ratio: x, extraPeak: 0, status: 'succeeded' }) as const;
    const judge = (seedRatios: ReturnType<typeof ratio>[]) =>
      evaluateGoals({
        command: 'test',
        machine: { cpus: 1, cpuModel: 'x', memoryGb: 1, node: process.version, platform: 'x', date: 'x' },
        sizes: [100, 500],
        seeds: [1, 2, 3],
        runway: [],
        seedRatios,
        flyctl: [],
        engine10k: null,
        wallMs: 0,
      }).find((g) => g.goal.startsWith('waves: converge within 1.15'))!;
    // Seeds 1, 2, 3 at N = 100, then at N = 500.
    const at = (n100: number[], n500: number[]) =>
      judge([...n100.map((x, i) => ratio(100, i + 1, x)), ...n500.map((x, i) => ratio(500, i + 1, x))]);
    const oneHigh = at([1.1, 1.2, 1.1], [1.14, 1.0, 1.15]);
    assert.equal(oneHigh.met, true, 'one seed above, the first and the median within');
    assert.match(oneHigh.figure, /worst 1\.200 \(N = 100, seed 2\), 1 of 6 runs above 1\.15/);
    assert.equal(at([1.16, 1.0, 1.0], [1.0, 1.0, 1.0]).met, false, 'the first seed above at N = 100');
    const medianHigh = at([1.0, 1.0, 1.0], [1.1, 1.2, 1.16]);
    assert.equal(medianHigh.met, false, 'the median above at N = 500');
  });
});
