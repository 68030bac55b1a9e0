// Markdown tables of the benchmark's raw results, and the whole report (pure: no I/O); the goals are goals.ts's.

import { STRATEGIES, type StrategyName } from '../src/domain/types.js';
import { DEFAULT_SIM_OPTIONS, type LatencyModel, type SimLatencyOp } from '../src/providers/sim/options.js';
import { lognormalSigma } from '../src/providers/sim/latency.js';
import type { EngineCostResult } from './engine-10k.js';
import type { FlyctlModelResult } from './flyctl-model.js';
import { evaluateGoals, goalsList } from './goals.js';
import type { RunwayResult } from './runway-run.js';
import {
  bySize,
  mb,
  median,
  medianRun,
  perMachineMedian,
  r3,
  s1,
  s2,
  type BenchResults,
  type SeedRatio,
} from './results.js';

export { evaluateGoals, goalsList } from './goals.js';
export type { BenchResults, Goal, MachineInfo, SeedRatio } from './results.js';

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
