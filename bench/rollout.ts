// The rollout benchmark (`npm run bench:rollout`): for N = 100, 500, 2000 and every strategy, runway's
// virtual time-to-converge against a lower bound from the recorded operation latencies (bench/lower-bound.ts),
// peak extra machines and API calls per machine; the same for models of flyctl's defaults
// (bench/flyctl-model.ts); and the engine's CPU time and peak RSS for a 10,000-machine rolling deploy
// (bench/engine-10k.ts, in a child process). Prints markdown tables (or --json); docs/benchmarks.md
// explains the model, the bound and the results.
//
//   npm run bench:rollout                      full run (N = 100, 500, 2000; seeds 1–5; 10k engine runs)
//   npm run bench:rollout -- --quick           N = 100, seed 1, no 10k run (a smoke run)
//   npm run -s bench:rollout -- --json         raw numbers as JSON (-s: no npm banner on stdout)
//   options: --sizes 100,500  --strategies waves,rolling  --seeds 3  --engine-runs 3  --no-engine  --no-profile
//            --engine-scale 1000,50000 (engine runs at other sizes, taking turns with the 10k runs; `none` for none)
//            --engine-scale-runs 3 (runs at each of those sizes; default: --engine-runs)

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { STRATEGIES, type StrategyName } from '../src/domain/types.js';
import type { EngineCostResult } from './engine-10k.js';
import { FLYCTL_MODELS, measureFlyctlModel, type FlyctlModelResult } from './flyctl-model.js';
import { evaluateGoals, markdown, type BenchResults, type MachineInfo, type SeedRatio } from './report.js';
import { measureRunway, type RunwayResult } from './runway-run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  sizes: number[];
  strategies: StrategyName[];
  seeds: number;
  engineRuns: number;
  engineN: number;
  engineScale: number[];
  /** Runs at each of `engineScale`'s sizes (their median is the size's figure). */
  scaleRuns: number;
  profile: boolean;
  json: boolean;
  quick: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const quick = argv.includes('--quick');
  const list = (text: string | undefined) =>
    text
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const sizes = (list(value('sizes')) ?? (quick ? ['100'] : ['100', '500', '2000'])).map(Number);
  const strategies = (list(value('strategies')) ?? [...STRATEGIES]) as StrategyName[];
  for (const s of strategies)
    if (!(STRATEGIES as readonly string[]).includes(s)) throw new Error(`unknown strategy ${s}`);
  for (const n of sizes) if (!Number.isInteger(n) || n < 2) throw new Error(`bad size ${n}`);
  const noEngine = argv.includes('--no-engine') || (quick && !argv.includes('--engine'));
  return {
    sizes,
    strategies,
    seeds: Number(value('seeds') ?? (quick ? 1 : 5)),
    engineRuns: noEngine ? 0 : Number(value('engine-runs') ?? 3),
    engineN: Number(value('engine-n') ?? 10_000),
    engineScale:
      noEngine || value('engine-scale') === 'none'
        ? []
        : (list(value('engine-scale')) ?? ['1000', '50000']).map(Number),
    scaleRuns: Number(value('engine-scale-runs') ?? value('engine-runs') ?? 3),
    profile: !argv.includes('--no-profile') && !noEngine,
    json: argv.includes('--json'),
    quick,
  };
}

function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel,
    memoryGb: os.totalmem() / 2 ** 30,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}

const exec = promisify(execFile);

/** bench/engine-10k.ts in a process of its own (peak RSS must be the deploy's, not this process's). */
async function engineRun(n: number, profile: boolean): Promise<EngineCostResult> {
  const args = ['--expose-gc', '--import', 'tsx', path.join('bench', 'engine-10k.ts'), '--json', '--n', String(n)];
  if (profile) args.push('--profile');
  const { stdout } = await exec(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 2 ** 20 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as EngineCostResult;
}

function log(options: Options, text: string): void {
  if (!options.json) process.stderr.write(`${text}\n`);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const wall0 = performance.now();
  const seeds = Array.from({ length: Math.max(1, options.seeds) }, (_, i) => i + 1);
  const runway: RunwayResult[] = [];
  const seedRatios: SeedRatio[] = [];
  for (const n of options.sizes) {
    for (const strategy of options.strategies) {
      for (const seed of seeds) {
        const r = await measureRunway(strategy, n, { seed });
        if (seed === seeds[0]) runway.push(r);
        seedRatios.push({
          strategy,
          n,
          seed,
          convergeMs: r.convergeMs,
          boundMs: r.boundMs,
          ratio: r.ratio,
          extraPeak: r.extraPeak,
          status: r.status,
        });
        log(
          options,
          `runway ${strategy} N=${n} seed ${seed}: ${r.status}, converge ${((r.convergeMs ?? NaN) / 1000).toFixed(1)} s, ratio ${r.ratio?.toFixed(3)} (${(r.wallMs / 1000).toFixed(1)} s wall)`,
        );
      }
    }
  }
  const flyctl: FlyctlModelResult[] = [];
  for (const n of options.sizes) {
    for (const model of FLYCTL_MODELS) {
      const r = await measureFlyctlModel(model, n, seeds[0]);
      flyctl.push(r);
      log(
        options,
        `flyctl ${model} model N=${n}: converged ${((r.convergeMs ?? NaN) / 1000).toFixed(1)} s, exits ${(r.doneMs / 1000).toFixed(1)} s`,
      );
    }
  }
  // The runs at each size take turns (10,000, then every other size, then 10,000 again…): what else the
  // machine runs meanwhile weighs on every size alike, and each size's figure is a median of as many runs.
  let engine10k: BenchResults['engine10k'] = null;
  const engineScale: EngineCostResult[] = [];
  const runs: EngineCostResult[] = [];
  for (let i = 0; i < Math.max(options.engineRuns, options.engineScale.length > 0 ? options.scaleRuns : 0); i++) {
    if (i < options.engineRuns) {
      const r = await engineRun(options.engineN, false);
      runs.push(r);
      log(
        options,
        `engine ${r.strategy} N=${r.n} run ${i + 1}: CPU ${(r.cpuMs / 1000).toFixed(2)} s, peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB`,
      );
    }
    if (i >= options.scaleRuns) continue;
    for (const n of options.engineScale) {
      const r = await engineRun(n, false);
      engineScale.push(r);
      log(
        options,
        `engine ${r.strategy} N=${r.n} run ${i + 1}: CPU ${(r.cpuMs / 1000).toFixed(2)} s, peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB`,
      );
    }
  }
  if (runs.length > 0) {
    engine10k = { runs };
    if (options.profile) {
      engine10k.profile = await engineRun(options.engineN, true);
      log(options, `engine profile run: CPU ${(engine10k.profile.cpuMs / 1000).toFixed(2)} s (profiler on)`);
    }
  }
  const results: BenchResults = {
    command: `npm run bench:rollout${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machineInfo(),
    sizes: options.sizes,
    seeds,
    runway,
    seedRatios,
    flyctl,
    engine10k,
    engineScale,
    wallMs: performance.now() - wall0,
  };
  if (options.json) process.stdout.write(`${JSON.stringify({ ...results, goals: evaluateGoals(results) }, null, 2)}\n`);
  else process.stdout.write(markdown(results));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
