// What-if experiments behind the engine findings in docs/benchmarks.md — not part of `npm run
// bench:rollout` and not runway's figures. Each compares runway as it is with one changed setting or one
// what-if variant (bench/what-if.ts), same sim, same seeds:
//   A. max_concurrency 64 (default) vs 256 for immediate, rolling and canary at N = 2000;
//   B. the 10,000-machine rolling deploy's CPU and peak RSS as it is vs with lean store use.
//   node --import tsx bench/experiments.ts [--seeds 3] [--runs 2]

import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { StrategyName } from '../src/domain/types.js';
import type { EngineCostResult } from './engine-10k.js';
import { measureRunway } from './runway-run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const exec = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function concurrency(seeds: number): Promise<void> {
  const n = 2000;
  process.stdout.write(`## A. max_concurrency 64 vs 256, N = ${n}, seeds 1–${seeds} (median)\n\n`);
  process.stdout.write(
    '| strategy | K | converge (s) | lower bound (s) | ratio (median) | ratio (max) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n',
  );
  for (const strategy of ['immediate', 'rolling', 'canary'] as StrategyName[]) {
    for (const k of [64, 256]) {
      const runs = [];
      for (let seed = 1; seed <= seeds; seed++)
        runs.push(await measureRunway(strategy, n, { seed, settings: { maxConcurrency: k } }));
      const conv = median(runs.map((r) => r.convergeMs ?? NaN));
      const bound = median(runs.map((r) => r.boundMs));
      const ratios = runs.map((r) => r.ratio ?? NaN);
      process.stdout.write(
        `| ${strategy} | ${k} | ${(conv / 1000).toFixed(1)} | ${(bound / 1000).toFixed(1)} | ${median(ratios).toFixed(3)} | ${Math.max(...ratios).toFixed(3)} |\n`,
      );
    }
  }
  process.stdout.write('\n');
}

async function engine(runs: number): Promise<void> {
  process.stdout.write(
    `## B. 10,000-machine rolling deploy, as it is vs lean store use (${runs} runs each, child processes)\n\n`,
  );
  process.stdout.write('| variant | CPU (s) per run | peak RSS (MB) per run |\n| --- | --- | --- |\n');
  for (const whatIf of [undefined, 'lean-store'] as const) {
    const results: EngineCostResult[] = [];
    for (let i = 0; i < runs; i++) {
      const args = [
        '--import',
        'tsx',
        path.join('bench', 'engine-10k.ts'),
        '--json',
        ...(whatIf ? ['--what-if', whatIf] : []),
      ];
      const { stdout } = await exec(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 2 ** 20 });
      results.push(JSON.parse(stdout.trim().split('\n').at(-1)!) as EngineCostResult);
    }
    process.stdout.write(
      `| ${whatIf ?? 'as it is'} | ${results.map((r) => (r.cpuMs / 1000).toFixed(2)).join(', ')} | ${results.map((r) => (r.maxRssKb / 1024).toFixed(0)).join(', ')} |\n`,
    );
  }
  process.stdout.write('\n');
}

await concurrency(arg('seeds', 3));
await engine(arg('runs', 2));
