// MODELS of `flyctl deploy` with its defaults — not flyctl itself. Small scripted executors that drive the
// same SimProvider (same latency model, same seed) through the Provider contract, behind the same
// ResilientProvider (client-side rate limits and retries), following what flyctl does, as read from
// superfly/flyctl at ad0172fa (internal/command/deploy/machines_deploymachinesapp.go,
// strategy_bluegreen.go, internal/machine/leasable_machine.go) and summarised in
// /work/shared/reference/flyctl-and-machines-api.md. What is left out is listed in docs/benchmarks.md
// ("flyctl models"); every omission makes the model faster or cheaper than flyctl, never slower.

import pLimit from 'p-limit';
import type { Machine } from '../src/domain/types.js';
import type { Provider } from '../src/providers/contract.js';
import { FleetObserver } from './observer.js';
import { newWorld, SCOPE, TO, type World } from './setup.js';

export type FlyctlModelName = 'immediate' | 'rolling' | 'bluegreen';
export const FLYCTL_MODELS: readonly FlyctlModelName[] = ['immediate', 'rolling', 'bluegreen'];

/** flyctl's defaults (deploy.go, machines.go, strategy_bluegreen.go). */
export const FLYCTL = {
  maxConcurrent: 8,
  maxUnavailable: 0.33,
  waitTimeoutMs: 5 * 60_000,
  /** Smoke checks: poll the machine until it has been up 10 s (or for 10 s), backoff 0.5 s → 2 s. */
  smokeMs: 10_000,
  smokeBackoff: { minMs: 500, maxMs: 2_000 },
  /** WaitForHealthchecksToPass: poll every 1 s → 2 s. */
  healthBackoff: { minMs: 1_000, maxMs: 2_000 },
  /** Bluegreen's fixed sleeps: after creating greens, before cordoning blues, before stopping them. */
  bluegreenSleepsMs: { afterCreate: 300, beforeCordon: 10_000, beforeStop: 10_000 },
  /**
   * Bluegreen's health wait sleeps the checks' grace period, then polls every check interval. The model
   * app's checks: grace 2 s, interval 2 s — consistent with the sim's checks passing ~4 s after start.
   */
  checkGraceMs: 2_000,
  checkIntervalMs: 2_000,
} as const;

export interface FlyctlModelResult {
  kind: 'flyctl-model';
  model: FlyctlModelName;
  n: number;
  seed: number;
  /** Virtual ms from the start until flyctl would exit (what flyctl reports). */
  doneMs: number;
  /** Virtual ms until every update was accepted (immediate only: what flyctl waits for). */
  dispatchMs: number | null;
  /** Virtual ms until the fleet really converged (observed through sim events; flyctl does not know). */
  convergeMs: number | null;
  extraPeak: number;
  apiCalls: number;
  apiCallsPerMachine: number;
  apiCallsByOp: Record<string, number>;
  rateLimited: number;
  wallMs: number;
}

interface Ctx {
  world: World;
  p: Provider;
  fleet: Machine[];
  n: number;
}

function sleep(ctx: Ctx, ms: number): Promise<void> {
  return ctx.world.clock.sleep(ms);
}

/** jpillora/backoff without jitter: min, 2·min, … capped at max. */
function backoff(minMs: number, maxMs: number): () => number {
  let attempt = 0;
  return () => Math.min(maxMs, minMs * 2 ** attempt++);
}

/** `pool.New().WithMaxGoroutines(k)` over items; resolves when all are done. */
async function pool<T>(k: number, items: readonly T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  const limit = pLimit(Math.max(1, k));
  await Promise.all(items.map((item, i) => limit(() => fn(item, i))));
}

/** WaitForSmokeChecksToPass: poll Get until the machine has been up 10 s, at most 10 s of polling. */
async function smokeChecks(ctx: Ctx, id: string, startedAtMs: number): Promise<void> {
  const { clock } = ctx.world;
  const deadline = clock.now() + FLYCTL.smokeMs;
  const next = backoff(FLYCTL.smokeBackoff.minMs, FLYCTL.smokeBackoff.maxMs);
  for (;;) {
    await ctx.p.get(SCOPE, id);
    if (clock.now() - startedAtMs > FLYCTL.smokeMs || clock.now() >= deadline) return;
    await sleep(ctx, Math.min(next(), Math.max(0, deadline - clock.now())));
  }
}

/** WaitForHealthchecksToPass: poll Get (1 s → 2 s) until checks pass. */
async function healthChecks(ctx: Ctx, id: string): Promise<void> {
  const next = backoff(FLYCTL.healthBackoff.minMs, FLYCTL.healthBackoff.maxMs);
  for (;;) {
    const m = await ctx.p.get(SCOPE, id);
    if (m.health === 'passing') return;
    await sleep(ctx, next());
  }
}

/** immediate: updatesPool of --max-concurrent (8) updates; waits for nothing. */
async function immediate(ctx: Ctx): Promise<{ dispatchMs: number }> {
  await pool(FLYCTL.maxConcurrent, ctx.fleet, async (m) => {
    await ctx.p.update(SCOPE, m.id, { release: TO });
  });
  return { dispatchMs: ctx.world.clock.now() };
}

/** One machine of rolling: update, wait started, smoke checks, health checks (waitForMachine). */
async function rollOne(ctx: Ctx, m: Machine): Promise<void> {
  const updated = await ctx.p.update(SCOPE, m.id, { release: TO });
  await ctx.p.waitFor(
    SCOPE,
    m.id,
    { state: 'started', instanceVersion: updated.instanceVersion },
    FLYCTL.waitTimeoutMs,
  );
  const startedAt = ctx.world.clock.now();
  await smokeChecks(ctx, m.id, startedAt);
  await healthChecks(ctx, m.id);
}

/**
 * rolling (updateUsingRollingStrategy → updateEntriesGroup): groups side by side; per group, machines
 * sorted by id, the first (spearhead) alone, then the rest in a pool of ceil(0.33 · n) — a sliding
 * window (conc pool WithMaxGoroutines), not batches with barriers.
 */
async function rolling(ctx: Ctx): Promise<void> {
  const groups = new Map<string, Machine[]>();
  for (const m of ctx.fleet) {
    let list = groups.get(m.group);
    if (!list) groups.set(m.group, (list = []));
    list.push(m);
  }
  await Promise.all(
    [...groups.values()].map(async (machines) => {
      const sorted = [...machines].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const poolSize = Math.ceil(sorted.length * FLYCTL.maxUnavailable);
      const [spearhead, ...rest] = sorted;
      if (spearhead) await rollOne(ctx, spearhead);
      await pool(poolSize, rest, (m) => rollOne(ctx, m));
    }),
  );
}

/** bluegreen (strategy_bluegreen.go Deploy), step by step. */
async function bluegreen(ctx: Ctx): Promise<void> {
  const { p } = ctx;
  const blues = ctx.fleet;
  const k = FLYCTL.maxConcurrent;
  // DetectMultipleImageVersions: one listing.
  await p.list(SCOPE);
  // CreateGreenMachines: one green per blue, concurrency max(1, min(ceil(N/3), max-concurrent)).
  const createConcurrency = Math.max(1, Math.min(Math.ceil(blues.length / 3), k));
  const greens: Machine[] = [];
  await pool(createConcurrency, blues, async (blue, i) => {
    greens.push(
      await p.create(SCOPE, {
        group: blue.group,
        release: TO,
        role: 'green',
        cordoned: true,
        launchId: `flyctl-bg:${i}`,
      }),
    );
  });
  await sleep(ctx, FLYCTL.bluegreenSleepsMs.afterCreate);
  // WaitForGreenMachinesToBeStarted: one wait per green, all at once.
  await Promise.all(greens.map((g) => p.waitFor(SCOPE, g.id, { state: 'started' }, FLYCTL.waitTimeoutMs)));
  // WaitForGreenMachinesToBeHealthy: per green, sleep the grace period, then poll Get every interval.
  await Promise.all(
    greens.map(async (g) => {
      await sleep(ctx, FLYCTL.checkGraceMs);
      for (;;) {
        const m = await p.get(SCOPE, g.id);
        if (m.health === 'passing') return;
        await sleep(ctx, FLYCTL.checkIntervalMs);
      }
    }),
  );
  // MarkGreenMachinesAsReadyForTraffic: uncordon (pool of max-concurrent).
  await pool(k, greens, async (g) => {
    await p.uncordon(SCOPE, g.id, 'serving');
  });
  // TagBlueMachinesAsSafeForDeletion: one metadata write per blue. The Provider contract has no metadata
  // call; one `get` stands for that round trip (same latency, counted as one call).
  await pool(k, blues, async (b) => {
    await p.get(SCOPE, b.id);
  });
  await sleep(ctx, FLYCTL.bluegreenSleepsMs.beforeCordon);
  await pool(k, blues, async (b) => {
    await p.cordon(SCOPE, b.id);
  });
  await sleep(ctx, FLYCTL.bluegreenSleepsMs.beforeStop);
  await pool(k, blues, async (b) => {
    await p.stop(SCOPE, b.id, { killSignal: 'SIGINT' });
  });
  // WaitForBlueMachinesToBeStopped: one wait per blue, all at once.
  await Promise.all(blues.map((b) => p.waitFor(SCOPE, b.id, { state: 'stopped' }, FLYCTL.waitTimeoutMs)));
  // DestroyBlueMachines: destroy (kill), pool of max-concurrent; flyctl does not wait for them to be gone.
  await pool(k, blues, async (b) => {
    await p.destroy(SCOPE, b.id);
  });
}

export async function measureFlyctlModel(model: FlyctlModelName, n: number, seed = 1): Promise<FlyctlModelResult> {
  const wall0 = performance.now();
  const world = newWorld(n, seed, { recordOps: false });
  const { clock, sim, provider } = world;
  const observer = new FleetObserver(sim, world.seeded, n, TO);
  const ctx: Ctx = { world, p: provider, fleet: world.seeded, n };
  const startMs = clock.now();
  let dispatchMs: number | null = null;
  if (model === 'immediate') dispatchMs = (await immediate(ctx)).dispatchMs - startMs;
  else if (model === 'rolling') await rolling(ctx);
  else await bluegreen(ctx);
  const doneMs = clock.now() - startMs;
  // flyctl has exited; the fleet may still be converging (immediate) or destroying (bluegreen).
  const giveUp = new AbortController();
  const convergedAt = await Promise.race([
    observer.whenConverged(),
    clock.sleep(30 * 60_000, giveUp.signal).then(
      () => null,
      () => null,
    ),
  ]);
  giveUp.abort();
  observer.close();
  const result: FlyctlModelResult = {
    kind: 'flyctl-model',
    model,
    n,
    seed,
    doneMs,
    dispatchMs,
    convergeMs: convergedAt === null ? null : Math.max(convergedAt - startMs, 0),
    extraPeak: observer.extraPeak,
    apiCalls: sim.stats.totalCalls,
    apiCallsPerMachine: sim.stats.totalCalls / n,
    apiCallsByOp: Object.fromEntries(Object.entries(sim.stats.calls).filter(([, v]) => v > 0)),
    rateLimited: sim.stats.rateLimited,
    wallMs: 0,
  };
  await sim.close();
  result.wallMs = performance.now() - wall0;
  return result;
}
