// The benchmark's raw results (bench/rollout.ts makes them), with the small helpers that reading them
// takes: number formats, medians, and the engine's cost per machine at each size.

import type { StrategyName } from '../src/domain/types.js';
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
  /** Runs at each other size (1,000 and 50,000, three each, by default): cost per machine against the 10,000 runs. */
  engineScale?: EngineCostResult[];
  wallMs: number;
}

export interface Goal {
  goal: string;
  met: boolean | null;
  figure: string;
}

export const s1 = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(1));
export const s2 = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(2));
export const r3 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));
export const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Engine cost per machine: CPU, and memory as peak RSS above the RSS before the deploy. */
export function perMachine(r: EngineCostResult): { cpuUs: number; memKb: number } {
  return { cpuUs: (r.cpuMs * 1000) / r.n, memKb: (r.maxRssKb - r.rssBeforeBytes / 1024) / r.n };
}

/** The median of each figure of several runs at one size (a run of its own, labelled by how many). */
export function medianRun(runs: readonly EngineCostResult[]): EngineCostResult {
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
export function bySize(runs: readonly EngineCostResult[]): EngineCostResult[][] {
  const sizes = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b);
  return sizes.map((n) => runs.filter((r) => r.n === n));
}

/** Engine cost per machine at one size: the median over its runs of each run's figure. */
export function perMachineMedian(runs: readonly EngineCostResult[]): { cpuUs: number; memKb: number } {
  const each = runs.map(perMachine);
  return { cpuUs: median(each.map((x) => x.cpuUs)), memKb: median(each.map((x) => x.memKb)) };
}
