// Markdown tables and goal verdicts from the benchmark's raw results (pure: no I/O).

import { STRATEGIES, type StrategyName } from '../src/domain/types.js';
import { DEFAULT_SIM_OPTIONS, type LatencyModel, type SimLatencyOp } from '../src/providers/sim/options.js';
import { lognormalSigma } from '../src/providers/sim/latency.js';
import type { EngineCostResult } from './engine-10k.js';
import type { FlyctlModelResult } from './flyctl-model.js';
import type { RunwayResult } from './runway-run.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  date: string;
}

/** The ratio of one strategy, size and seed (the spread table). */
export interface SeedRatio {
  strategy: StrategyName;
  n: number;
  seed: number;
  convergeMs: number | null;
  boundMs: number;
  ratio: number | null;
  extraPeak: number;
  status: string;
}

export interface BenchResults {
  command: string;
  machine: MachineInfo;
  sizes: number[];
  seeds: number[];
  runway: RunwayResult[];
  seedRatios: SeedRatio[];
  flyctl: FlyctlModelResult[];
  engine10k: { runs: EngineCostResult[]; profile?: EngineCostResult } | null;
  /** One run at each other size (1,000 and 50,000 by default): cost per machine against the 10,000 runs. */
  engineScale?: EngineCostResult[];
  wallMs: number;
}

export interface Goal {
  goal: string;
  met: boolean | null;
  figure: string;
}

const s1 = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(1));
const s2 = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(2));
const r3 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function table(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${head.join(' | ')} |`,
    `| ${a.map((x) => (x === 'l' ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function modelText(m: LatencyModel): [string, string, string, string] {
  if (m.kind === 'constant') return [`${m.ms}`, `${m.ms}`, '0', `${m.ms}`];
  const sigma = lognormalSigma(m.medianMs, m.p99Ms);
  return [`${m.medianMs}`, `${m.p99Ms}`, sigma.toFixed(3), (m.medianMs * Math.exp((sigma * sigma) / 2)).toFixed(0)];
}

export function latencyTable(): string {
  const why: Record<SimLatencyOp, string> = {
    api: 'one Machines API round trip (request accepted or answered)',
    create: 'new machine: placement, image pull, until it starts booting',
    update: 'in-place update: stop, swap image/config, until it starts booting',
    boot: 'from starting to the process running (`started`)',
    checks: 'from `started` to passing health checks (grace period + first interval)',
    stop: 'graceful stop until `stopped`',
    destroy: 'destroy until the machine is gone',
  };
  const rows = (Object.keys(DEFAULT_SIM_OPTIONS.latency) as SimLatencyOp[]).map((op) => {
    const [median, p99, sigma, mean] = modelText(DEFAULT_SIM_OPTIONS.latency[op]);
    return [`\`${op}\``, median, p99, sigma, mean, why[op]];
  });
  return table(['phase', 'median (ms)', 'p99 (ms)', 'σ of ln', 'mean (ms)', 'what it stands for'], rows, [
    'l',
    'r',
    'r',
    'r',
    'r',
    'l',
  ]);
}

export function runwayTable(results: readonly RunwayResult[]): string {
  const failed = results.some((r) => r.status !== 'succeeded');
  const rows = results.map((r) => [
    r.strategy,
    String(r.n),
    s1(r.convergeMs),
    s1(r.boundMs),
    r3(r.ratio),
    `${r.extraPeak} (${((100 * r.extraPeak) / r.n).toFixed(0)} %)`,
    r.apiCallsPerMachine.toFixed(2),
    s1(r.dispatchMs),
    ...(failed ? [r.status] : []),
  ]);
  return table(
    [
      'strategy',
      'N',
      'converge (s)',
      'lower bound (s)',
      'ratio',
      'extra machines, peak',
      'API calls / machine',
      'dispatched (s)',
      ...(failed ? ['status'] : []),
    ],
    rows,
  );
}

export function flyctlTable(results: readonly FlyctlModelResult[], runway: readonly RunwayResult[]): string {
  const converge = (strategy: StrategyName, n: number) =>
    runway.find((r) => r.strategy === strategy && r.n === n)?.convergeMs;
  const rows = results.map((r) => [
    `flyctl ${r.model} (model)`,
    String(r.n),
    s1(r.convergeMs),
    s1(r.doneMs),
    `${r.extraPeak} (${((100 * r.extraPeak) / r.n).toFixed(0)} %)`,
    r.apiCallsPerMachine.toFixed(2),
    s1(converge(r.model, r.n)),
    s1(converge('waves', r.n)),
  ]);
  return table(
    [
      'model',
      'N',
      'fleet converged (s)',
      'flyctl exits (s)',
      'extra machines, peak',
      'API calls / machine',
      `runway, same strategy (s)`,
      'runway waves (s)',
    ],
    rows,
  );
}

export function seedTable(ratios: readonly SeedRatio[], sizes: readonly number[]): string {
  const strategies = STRATEGIES.filter((s) => ratios.some((r) => r.strategy === s));
  const rows = strategies.map((strategy) => [
    strategy,
    ...sizes.map((n) => {
      const xs = ratios.filter((r) => r.strategy === strategy && r.n === n && r.ratio !== null).map((r) => r.ratio!);
      if (xs.length === 0) return '—';
      return `${Math.min(...xs).toFixed(3)} / ${median(xs).toFixed(3)} / ${Math.max(...xs).toFixed(3)}`;
    }),
  ]);
  return table(['strategy', ...sizes.map((n) => `N = ${n}: min / median / max`)], rows);
}

/** Units that took longer than their bound by more than 2 % and 0.3 s: where the ratio comes from. */
export function slowUnitsTable(results: readonly RunwayResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const u of r.bound.units) {
      const excess = u.actualMs - u.boundMs;
      if (excess <= 300 || u.actualMs <= u.boundMs * 1.02) continue;
      const last = u.last
        ? `${s2(u.last.startDelayMs)} s late, chain ${s2(u.last.chainMs)} s, ${s2(u.last.gapsMs)} s waiting between its calls`
        : '—';
      rows.push([
        r.strategy,
        String(r.n),
        `${u.index} ${u.kind} (${u.steps} steps)`,
        s2(u.actualMs),
        s2(u.boundMs),
        `+${s2(excess)}`,
        u.binding,
        last,
      ]);
    }
  }
  if (rows.length === 0) return '(none)';
  return table(
    ['strategy', 'N', 'unit', 'actual (s)', 'bound (s)', 'excess (s)', 'binding term', 'the step that finished last'],
    rows,
    ['l', 'r', 'l', 'r', 'r', 'r', 'l', 'l'],
  );
}

export function engineTable(e: NonNullable<BenchResults['engine10k']>): string {
  const rows = e.runs.map((r, i) => [
    String(i + 1),
    `${r.strategy}, ${r.n}`,
    r.status,
    s1(r.convergeMs),
    (r.cpuMs / 1000).toFixed(2),
    mb(r.maxRssKb * 1024),
    mb(r.rssBeforeBytes),
    mb(r.heapUsedPeakBytes),
    r.heapUsedAfterGcBytes === null ? '—' : mb(r.heapUsedAfterGcBytes),
    (r.wallMs / 1000).toFixed(2),
  ]);
  return table(
    [
      'run',
      'deploy',
      'status',
      'virtual converge (s)',
      'CPU (s)',
      'peak RSS (MB)',
      'RSS before deploy (MB)',
      'heap peak (MB)',
      'live heap after GC (MB)',
      'wall (s)',
    ],
    rows,
  );
}

/** The median of each figure of several runs at one size (a run of its own, labelled by how many). */
function medianRun(runs: readonly EngineCostResult[]): EngineCostResult {
  const mid = (f: (r: EngineCostResult) => number) => median(runs.map(f));
  return {
    ...runs[0]!,
    cpuMs: mid((r) => r.cpuMs),
    maxRssKb: mid((r) => r.maxRssKb),
    rssBeforeBytes: mid((r) => r.rssBeforeBytes),
    heapUsedPeakBytes: mid((r) => r.heapUsedPeakBytes),
    status: runs.every((r) => r.status === runs[0]!.status) ? runs[0]!.status : 'mixed',
  };
}

/** Runs by size, smallest first. */
function bySize(runs: readonly EngineCostResult[]): EngineCostResult[][] {
  const sizes = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b);
  return sizes.map((n) => runs.filter((r) => r.n === n));
}

/** Engine cost per machine at one size: the median over its runs of each run's figure. */
function perMachineMedian(runs: readonly EngineCostResult[]): { cpuUs: number; memKb: number } {
  const each = runs.map(perMachine);
  return { cpuUs: median(each.map((x) => x.cpuUs)), memKb: median(each.map((x) => x.memKb)) };
}

/** Engine cost at each size: the median of its runs (the 10,000 runs', and those at every other size). */
export function scaleTable(e: NonNullable<BenchResults['engine10k']>, scale: readonly EngineCostResult[]): string {
  const label = (runs: readonly EngineCostResult[]) => (runs.length === 1 ? '1 run' : `median of ${runs.length}`);
  const rows = bySize([...scale, ...e.runs]).map((runs) => [medianRun(runs), label(runs), runs] as const);
  return table(
    [
      'machines',
      'runs',
      'status',
      'virtual converge (s)',
      'CPU (s)',
      'CPU per machine (µs)',
      'peak RSS (MB)',
      'RSS before (MB)',
      'peak RSS above the start, per machine (KB)',
      'heap peak (MB)',
    ],
    rows.map(([r, runs, all]) => {
      const p = perMachineMedian(all);
      return [
        r.n.toLocaleString('en'),
        runs,
        r.status,
        s1(r.convergeMs),
        (r.cpuMs / 1000).toFixed(2),
        p.cpuUs.toFixed(0),
        mb(r.maxRssKb * 1024),
        mb(r.rssBeforeBytes),
        p.memKb.toFixed(1),
        mb(r.heapUsedPeakBytes),
      ];
    }),
  );
}

/** Shares of the profiled run, applied to the median CPU time of the unprofiled runs. */
export function profileTable(profile: Record<string, number>, cpuMs: number): string {
  return table(
    ['area', 'share of samples', '≈ CPU (s)'],
    Object.entries(profile).map(([k, v]) => [k, `${(100 * v).toFixed(0)} %`, ((v * cpuMs) / 1000).toFixed(2)]),
  );
}

/** Fleet-converged times of runway (seed 1) and of a flyctl model (seed 1), per N: same sim, same draws' seed. */
function versusModel(
  results: BenchResults,
  strategy: StrategyName,
  model: FlyctlModelResult['model'],
  factor: number,
  word: string,
): Goal | null {
  const rows = results.sizes.map((n) => {
    const r = results.runway.find((x) => x.strategy === strategy && x.n === n);
    const f = results.flyctl.find((x) => x.model === model && x.n === n);
    const ours = r?.fleetConvergedMs ?? null;
    const theirs = f?.convergeMs ?? null;
    return {
      n,
      ours,
      theirs,
      ok: ours !== null && theirs !== null && r?.status === 'succeeded' && ours <= factor * theirs,
    };
  });
  if (rows.every((x) => x.theirs === null && x.ours === null)) return null;
  return {
    goal: `${strategy}: fleet converged ${word} the flyctl ${model} model's at N = ${results.sizes.join(', ')} (seed ${results.seeds[0]}, same budget)`,
    met: rows.every((x) => x.ok),
    figure: rows
      .map(
        (x) =>
          `N = ${x.n}: ${s1(x.ours)} s vs ${s1(x.theirs)} s (${x.ours !== null && x.theirs ? (x.ours / x.theirs).toFixed(2) : '—'}×)`,
      )
      .join('; '),
  };
}

/** Engine cost per machine: CPU, and memory as peak RSS above the RSS before the deploy. */
export function perMachine(r: EngineCostResult): { cpuUs: number; memKb: number } {
  return { cpuUs: (r.cpuMs * 1000) / r.n, memKb: (r.maxRssKb - r.rssBeforeBytes / 1024) / r.n };
}

/**
 * Waves against its bound, judged like the goals against the flyctl models: on the benchmark's first seed
 * at every N, and on the median of its seeds at every N (so that no one lucky seed passes it). Not on
 * every seed: the bound is clairvoyant (it runs the longest chains first), and when one update draws a
 * chain far above the model's p99 and is started last, no order that does not know the draws ends sooner
 * (docs/benchmarks.md, "waves within 1.15 of its bound"). The worst seed is given with the figure.
 */
function wavesGoal(results: BenchResults, waves: readonly SeedRatio[]): Goal {
  const first = results.seeds[0];
  const rows = [...new Set(waves.map((r) => r.n))]
    .sort((a, b) => a - b)
    .map((n) => {
      const at = waves.filter((r) => r.n === n);
      return { n, first: at.find((r) => r.seed === first)?.ratio ?? null, median: median(at.map((r) => r.ratio!)) };
    });
  const worst = waves.reduce((a, b) => (b.ratio! > a.ratio! ? b : a));
  const over = waves.filter((r) => r.ratio! > 1.15);
  const seeds = results.seeds.length > 1 ? `seeds ${results.seeds[0]}–${results.seeds.at(-1)}` : `seed ${first}`;
  return {
    goal: `waves: converge within 1.15 × its lower bound at N = ${rows.map((x) => x.n).join(', ')} (seed ${first}, and the median of ${seeds})`,
    met: rows.every((x) => x.first !== null && x.first <= 1.15 && x.median <= 1.15),
    figure:
      rows.map((x) => `N = ${x.n}: ${r3(x.first)} (median ${r3(x.median)})`).join('; ') +
      `; every seed: worst ${r3(worst.ratio)} (N = ${worst.n}, seed ${worst.seed}), ${over.length} of ${waves.length} runs above 1.15`,
  };
}

export function evaluateGoals(results: BenchResults): Goal[] {
  const goals: Goal[] = [];
  for (const g of [
    versusModel(results, 'rolling', 'rolling', 0.9, '≤ 0.9 ×'),
    versusModel(results, 'immediate', 'immediate', 1, 'no later than'),
    versusModel(results, 'bluegreen', 'bluegreen', 1, 'no later than'),
  ]) {
    if (g) goals.push(g);
  }
  const waves = results.seedRatios.filter((r) => r.strategy === 'waves' && r.ratio !== null);
  if (waves.length > 0) goals.push(wavesGoal(results, waves));
  const waves500 = results.runway.find((r) => r.strategy === 'waves' && r.n === 500);
  const bg500 = results.flyctl.find((r) => r.model === 'bluegreen' && r.n === 500);
  if (waves500 && bg500) {
    const speedup = bg500.convergeMs !== null && waves500.convergeMs ? bg500.convergeMs / waves500.convergeMs : null;
    goals.push({
      goal: 'N = 500: waves converges ≥ 3× faster than the flyctl-bluegreen model',
      met: speedup !== null && speedup >= 3,
      figure: `${speedup === null ? '—' : speedup.toFixed(2)}× (waves ${s1(waves500.convergeMs)} s, flyctl bluegreen model ${s1(bg500.convergeMs)} s)`,
    });
    goals.push({
      goal: 'N = 500: waves extra machines ≤ 10 % of N',
      met: waves500.extraPeak <= 0.1 * waves500.n,
      figure: `${waves500.extraPeak} extra machines = ${((100 * waves500.extraPeak) / waves500.n).toFixed(1)} % of ${waves500.n}`,
    });
  }
  if (results.engine10k && results.engine10k.runs.length > 0) {
    const runs = results.engine10k.runs;
    const cpu = median(runs.map((r) => r.cpuMs));
    const rss = median(runs.map((r) => r.maxRssKb * 1024));
    const n = runs[0]!.n;
    goals.push({
      goal: `${n.toLocaleString('en')}-machine rolling deploy: CPU < 2 s`,
      met: cpu < 2000,
      figure: `${(cpu / 1000).toFixed(2)} s (median of ${runs.length} runs; ${runs.map((r) => (r.cpuMs / 1000).toFixed(2)).join(', ')})`,
    });
    goals.push({
      goal: `${n.toLocaleString('en')}-machine rolling deploy: peak RSS < 300 MB`,
      met: rss < 300 * 2 ** 20,
      figure: `${mb(rss)} MB (median of ${runs.length} runs; ${runs.map((r) => mb(r.maxRssKb * 1024)).join(', ')} MB)`,
    });
    const base = perMachineMedian(runs);
    for (const big of bySize((results.engineScale ?? []).filter((r) => r.n > n))) {
      const p = perMachineMedian(big);
      const each = big.map(perMachine);
      goals.push({
        goal: `${big[0]!.n.toLocaleString('en')} machines: CPU and memory per machine no worse than at ${n.toLocaleString('en')}`,
        met: p.cpuUs <= base.cpuUs && p.memKb <= base.memKb,
        figure:
          `CPU ${p.cpuUs.toFixed(0)} µs vs ${base.cpuUs.toFixed(0)} µs per machine; peak RSS above the start ${p.memKb.toFixed(1)} KB vs ${base.memKb.toFixed(1)} KB per machine ` +
          `(medians of ${big.length} and ${runs.length} runs; at ${big[0]!.n.toLocaleString('en')}: ${each.map((x) => `${x.cpuUs.toFixed(0)} µs, ${x.memKb.toFixed(1)} KB`).join('; ')})`,
      });
    }
  }
  return goals;
}

export function goalsList(goals: readonly Goal[]): string {
  return goals
    .map((g) => `- ${g.goal}: **${g.met === null ? 'not measured' : g.met ? 'met' : 'not met'}** — ${g.figure}`)
    .join('\n');
}

/** The bound must never exceed what really happened; say so, with the tightest case. */
export function sanity(results: BenchResults): string {
  const ratios = results.seedRatios.filter((r) => r.ratio !== null).map((r) => r.ratio!);
  const units = results.runway.flatMap((r) => r.bound.units);
  const bad = units.filter((u) => u.boundMs > u.actualMs + 1e-6).length;
  const overlaps = results.runway.reduce((n, r) => n + r.bound.overlaps, 0);
  const ok = bad === 0 && overlaps === 0 && ratios.every((x) => x >= 1);
  return (
    `Sanity: ${ok ? 'ok' : 'FAILED'} — smallest ratio ${ratios.length ? Math.min(...ratios).toFixed(3) : '—'} over ${ratios.length} runs (must be ≥ 1); ` +
    `${bad} of ${units.length} units (seed ${results.seeds[0]}) with a bound above their actual time (must be 0); ${overlaps} overlapping phases in counted chains (must be 0).`
  );
}

export function markdown(results: BenchResults): string {
  const m = results.machine;
  const out: string[] = [];
  out.push('# Rollout benchmark');
  out.push('');
  out.push(`Command: \`${results.command}\`  `);
  out.push(
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGb.toFixed(0)} GB, ${m.platform}, Node ${m.node}; ${m.date}  `,
  );
  out.push(
    `Sizes ${results.sizes.join(', ')}; seeds ${results.seeds.join(', ')} (tables below: seed ${results.seeds[0]}); benchmark wall time ${(results.wallMs / 1000).toFixed(1)} s`,
  );
  out.push('');
  out.push('## runway (virtual clock, Fly-like latency model, rate limits on, CLI default settings)');
  out.push('');
  out.push(runwayTable(results.runway));
  out.push('');
  out.push('## flyctl defaults — MODELS, not flyctl (same sim, same latency model, same limits)');
  out.push('');
  out.push(flyctlTable(results.flyctl, results.runway));
  out.push('');
  if (results.seeds.length > 1) {
    out.push(`## ratio converge / lower bound over seeds ${results.seeds.join(', ')}`);
    out.push('');
    out.push(seedTable(results.seedRatios, results.sizes));
    out.push('');
  }
  out.push(`## where runway is slower than its lower bound (seed ${results.seeds[0]})`);
  out.push('');
  out.push(slowUnitsTable(results.runway));
  out.push('');
  const before = results.runway.map((r) => r.bound.beforeFirstUnitMs - r.bound.observeMs);
  if (before.length > 0) {
    out.push(
      `Before its first wave every deploy spends ${s2(Math.min(...before))}–${s2(Math.max(...before))} s more than the one fleet listing the bound allows ` +
        '(it lists the fleet again before applying the plan); after the last wave one more listing confirms convergence.',
    );
    out.push('');
  }
  if (results.engine10k) {
    out.push('## engine cost: 10,000-machine rolling deploy (child process)');
    out.push('');
    out.push(engineTable(results.engine10k));
    out.push('');
    if (results.engineScale && results.engineScale.length > 0) {
      out.push(
        'Engine cost by fleet size (rolling, same settings; memory per machine counts the peak RSS above the RSS before the deploy):',
      );
      out.push('');
      out.push(scaleTable(results.engine10k, results.engineScale));
      out.push('');
    }
    if (results.engine10k.profile?.profile) {
      const cpu = median(results.engine10k.runs.map((r) => r.cpuMs));
      out.push(
        `Where the CPU goes: shares of the on-CPU samples of one more run under the V8 sampling profiler (CPU ${(results.engine10k.profile.cpuMs / 1000).toFixed(2)} s with the profiler on), ` +
          `applied to the median ${(cpu / 1000).toFixed(2)} s of the runs above. Native code (JSON.parse, Map…) counts for the code that called it; Node's AbortSignal/EventTarget code is shown apart.`,
      );
      out.push('');
      out.push(profileTable(results.engine10k.profile.profile, cpu));
      out.push('');
    }
  }
  out.push('## goals');
  out.push('');
  out.push(goalsList(evaluateGoals(results)));
  out.push('');
  out.push(sanity(results));
  out.push('');
  return out.join('\n');
}
