// Engine cost of a 10,000-machine rolling deploy: CPU time (user + system, process.cpuUsage) of the whole
// deploy and the process's peak RSS (process.resourceUsage().maxRSS), on the virtual clock with the
// Fly-like latency model and rate limits, the CLI's default rolling settings, an in-memory store.
// Runs in a process of its own so nothing else inflates the peak RSS:
//   node --expose-gc --import tsx bench/engine-10k.ts [--n 10000] [--strategy rolling] [--json] [--profile]
// (--expose-gc adds the live heap after a full GC; --what-if lean-store runs bench/what-if.ts's variant.)
// (bench/rollout.ts spawns it.) The sim does not record its op log here (that is the benchmark's, not
// the engine's), so the figures are the engine's plus the simulated provider's and the store's.

import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import type { StrategyName } from '../src/domain/types.js';
import { runDeploy } from '../src/engine/executor.js';
import { benchSettings, benchStore, newWorld, release, SCOPE, TO } from './setup.js';
import { leanStore } from './what-if.js';

export interface EngineCostResult {
  kind: 'engine-cost';
  strategy: StrategyName;
  n: number;
  status: string;
  /** Virtual time to converge (ms). */
  convergeMs: number | null;
  /** CPU time of the deploy (user + system), ms. */
  cpuMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Peak resident set size of the whole process, KB (process.resourceUsage().maxRSS). */
  maxRssKb: number;
  /** RSS and heap right before the deploy (after the fleet was seeded), bytes. */
  rssBeforeBytes: number;
  heapUsedBeforeBytes: number;
  /** Largest heapUsed seen during the deploy (sampled every 20 ms of wall time), bytes. */
  heapUsedPeakBytes: number;
  /** heapUsed right after the deploy and a full GC (only when run with --expose-gc), bytes. */
  heapUsedAfterGcBytes: number | null;
  wallMs: number;
  apiCalls: number;
  /**
   * With `profile`: the deploy's on-CPU profile samples by area of the code base, as a share (0–1) of all
   * non-idle samples (the V8 sampling profiler; shares, since sample times are wall-clock intervals).
   */
  profile?: Record<string, number>;
  /** A what-if variant (bench/what-if.ts) instead of runway as it is; experiments only. */
  whatIf?: 'lean-store';
}

/** Where a profile sample's time goes: by area of the code base (self time). */
function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/Node (program)';
  if (url.includes('/src/providers/sim/')) return 'sim provider (src/providers/sim)';
  if (url.includes('/src/providers/')) return 'resilient provider, rate limits (src/providers)';
  if (url.includes('/src/engine/')) return 'engine (src/engine)';
  if (url.includes('/src/strategies/')) return 'strategies (src/strategies)';
  if (url.includes('/src/domain/clock')) return 'virtual clock (src/domain/clock.ts)';
  if (url.includes('/src/store/') || url.includes('kysely') || url.includes('better-sqlite3'))
    return 'store (src/store, kysely, better-sqlite3)';
  if (url.includes('p-limit') || url.includes('yocto-queue')) return 'p-limit';
  if (url.includes('abort_controller') || url.includes('event_target') || url.includes('domexception'))
    return 'AbortSignal/EventTarget (node)';
  if (url.startsWith('node:') || url === '') return 'other Node internals';
  return 'other';
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Wait until the process is idle: seeding the fleet leaves V8 work behind on its background threads
 * (sweeping, compiling), ~60 ms of CPU in the first 100 ms after a 10,000-machine setup and < 2 ms in
 * each 100 ms after that, which process.cpuUsage() would count as the deploy's. Done when a 50 ms
 * window of doing nothing uses under 2.5 ms of CPU (5 %), or after 2 s.
 */
async function quiesce(): Promise<void> {
  const deadline = performance.now() + 2_000;
  for (;;) {
    const cpu = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const used = process.cpuUsage(cpu);
    if ((used.user + used.system) / 1000 < 2.5 || performance.now() > deadline) return;
  }
}

/** Native frames (JSON.parse, Map.set…) and other Node internals count for the code that called them. */
function byArea(profile: CpuProfile): Record<string, number> {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areaOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { url, functionName } = nodes.get(cur)!.callFrame;
      const a = area(url, functionName);
      if (a !== 'other Node internals') return a;
    }
    return 'other Node internals';
  };
  const out: Record<string, number> = {};
  let total = 0;
  profile.samples.forEach((id, i) => {
    const key = nodes.has(id) ? areaOf(id) : 'other';
    if (key === 'idle') return;
    const t = profile.timeDeltas[i] ?? 0;
    out[key] = (out[key] ?? 0) + t;
    total += t;
  });
  return Object.fromEntries(
    Object.entries(out)
      .map(([k, v]) => [k, total > 0 ? v / total : 0] as const)
      .sort((a, b) => b[1] - a[1]),
  );
}

export async function measureEngineCost(
  n: number,
  strategy: StrategyName = 'rolling',
  options: { seed?: number; profile?: boolean; whatIf?: 'lean-store' } = {},
): Promise<EngineCostResult> {
  const { settings, groups } = benchSettings(strategy, n);
  const world = newWorld(n, options.seed ?? 1, { recordOps: false });
  const { clock, sim, provider } = world;
  const deployId = 'dep_engine10k';
  const plainStore = await benchStore(deployId, strategy, clock.now());
  const store = options.whatIf === 'lean-store' ? leanStore(plainStore) : plainStore;
  await quiesce();
  let session: Session | undefined;
  if (options.profile) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const before = process.memoryUsage();
  // Real-time sampling (not on the virtual clock, so the deploy's event order is untouched).
  let heapPeak = before.heapUsed;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 20);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await runDeploy(
    {
      provider,
      store,
      clock,
      apiStats: () => ({ calls: provider.stats.totalCalls, rateLimited: sim.stats.rateLimited }),
    },
    { deployId, scope: SCOPE, target: release(TO), groups, settings, findRelease: async (v) => release(v) },
  );
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  clearInterval(sampler);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  const maxRssKb = process.resourceUsage().maxRSS;
  let profile: Record<string, number> | undefined;
  if (session) {
    const { profile: raw } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    session.disconnect();
    profile = byArea(raw);
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapUsedAfterGcBytes = gc ? process.memoryUsage().heapUsed : null;
  const result: EngineCostResult = {
    kind: 'engine-cost',
    strategy,
    n,
    status: summary.status,
    convergeMs: summary.convergedAtMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    maxRssKb,
    rssBeforeBytes: before.rss,
    heapUsedBeforeBytes: before.heapUsed,
    heapUsedPeakBytes: heapPeak,
    heapUsedAfterGcBytes,
    wallMs,
    apiCalls: sim.stats.totalCalls,
  };
  if (profile) result.profile = profile;
  if (options.whatIf) result.whatIf = options.whatIf;
  await sim.close();
  await store.close();
  return result;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(arg('n') ?? 10_000);
  const strategy = (arg('strategy') ?? 'rolling') as StrategyName;
  const whatIf = arg('what-if');
  if (whatIf !== undefined && whatIf !== 'lean-store') throw new Error(`unknown --what-if ${whatIf} (lean-store)`);
  const result = await measureEngineCost(n, strategy, {
    profile: process.argv.includes('--profile'),
    ...(whatIf ? { whatIf } : {}),
  });
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    process.stdout.write(
      `${whatIf ? `[what-if ${whatIf}] ` : ''}${strategy} deploy of ${n} machines: ${result.status}, converged in ${result.convergeMs === null ? '—' : s(result.convergeMs)} (virtual); ` +
        `CPU ${s(result.cpuMs)} (user ${s(result.cpuUserMs)}, system ${s(result.cpuSystemMs)}), peak RSS ${mb(result.maxRssKb * 1024)} ` +
        `(${mb(result.rssBeforeBytes)} before the deploy), heap peak ${mb(result.heapUsedPeakBytes)}` +
        `${result.heapUsedAfterGcBytes === null ? '' : `, ${mb(result.heapUsedAfterGcBytes)} live after a full GC`}, wall ${s(result.wallMs)}\n`,
    );
    if (result.profile) {
      process.stdout.write(
        'Share of on-CPU profile samples by area (V8 sampling profiler), and that share of the CPU time:\n',
      );
      for (const [k, v] of Object.entries(result.profile)) {
        process.stdout.write(
          `  ${(100 * v).toFixed(0).padStart(3)} %  ${((v * result.cpuMs) / 1000).toFixed(2)} s  ${k}\n`,
        );
      }
    }
  }
}
