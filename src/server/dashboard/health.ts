// Deploy health: how well the team is able to deploy (DESIGN.md, Monitoring). Pure functions over the
// store's narrow deploy rows (Store.listDeployStats): success rate, time-to-dispatch and
// time-to-converge p50/p95 per strategy over time, rollbacks, aborts, emergencies, stragglers.
//
// Definitions (also in docs/dashboard.md):
//   counted    = deploys that ran (the engine started them) or are about to; a deploy that ended
//                before it started (stored by an older runway when the environment was locked) is not
//                a deploy the team tried, and would drag the success rate down
//   finished   = the deploy ended (any terminal status); success rate = succeeded / finished
//   dispatch   = dispatchedAtMs - startedAtMs (every change accepted by the provider)
//   converge   = convergedAtMs - startedAtMs (every machine on the target, passing checks; succeeded deploys)
//   rollbacks  = deploys that ended rolled_back (automatic) + deploys triggered as a rollback (manual)
//   aborts     = deploys that ended aborted; emergencies = break-glass deploys; stragglers = machines
//                named stragglers in summaries (and the deploys that had any)

import { STRATEGIES, TERMINAL_STATUSES, type StrategyName } from '../../domain/types.js';
import type { DeployStat } from '../../store/contract.js';

export const WINDOWS = [7, 30, 90] as const;
export type WindowDays = (typeof WINDOWS)[number];

const DAY = 86_400_000;

export interface Percentiles {
  n: number;
  p50: number | null;
  p95: number | null;
}

export interface HealthTotals {
  deploys: number;
  finished: number;
  succeeded: number;
  failed: number;
  running: number;
  successRate: number | null;
  rollbacks: number;
  autoRollbacks: number;
  manualRollbacks: number;
  aborts: number;
  emergencies: number;
  stragglers: number;
  deploysWithStragglers: number;
  dispatch: Percentiles;
  converge: Percentiles;
}

export interface HealthBucket {
  startMs: number;
  deploys: number;
  finished: number;
  succeeded: number;
  successRate: number | null;
  /** Per strategy (only strategies with data in the window). */
  dispatch: Record<string, Percentiles>;
  converge: Record<string, Percentiles>;
}

export interface HealthReport {
  windowDays: number;
  sinceMs: number;
  untilMs: number;
  bucketMs: number;
  env: string | null;
  totals: HealthTotals;
  byStrategy: Record<string, HealthTotals>;
  byEnv: Record<string, HealthTotals>;
  strategies: StrategyName[];
  buckets: HealthBucket[];
  /** The latest deploys that went wrong or broke glass, newest first. */
  notable: DeployStat[];
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

export function dispatchMs(d: DeployStat): number | null {
  return d.startedAtMs !== null && d.dispatchedAtMs !== null ? Math.max(0, d.dispatchedAtMs - d.startedAtMs) : null;
}

export function convergeMs(d: DeployStat): number | null {
  return d.startedAtMs !== null && d.convergedAtMs !== null ? Math.max(0, d.convergedAtMs - d.startedAtMs) : null;
}

const TERMINAL = new Set<string>(TERMINAL_STATUSES);

export function totals(rows: DeployStat[]): HealthTotals {
  let finished = 0;
  let succeeded = 0;
  let autoRollbacks = 0;
  let manualRollbacks = 0;
  let aborts = 0;
  let emergencies = 0;
  let stragglers = 0;
  let deploysWithStragglers = 0;
  const dispatch: number[] = [];
  const converge: number[] = [];
  for (const d of rows) {
    if (TERMINAL.has(d.status)) finished++;
    if (d.status === 'succeeded') succeeded++;
    if (d.status === 'rolled_back') autoRollbacks++;
    if (d.trigger === 'rollback') manualRollbacks++;
    if (d.status === 'aborted') aborts++;
    if (d.emergency) emergencies++;
    if (d.stragglers > 0) {
      stragglers += d.stragglers;
      deploysWithStragglers++;
    }
    const dm = dispatchMs(d);
    if (dm !== null) dispatch.push(dm);
    const cm = d.status === 'succeeded' ? convergeMs(d) : null;
    if (cm !== null) converge.push(cm);
  }
  return {
    deploys: rows.length,
    finished,
    succeeded,
    failed: finished - succeeded,
    running: rows.length - finished,
    successRate: finished > 0 ? succeeded / finished : null,
    rollbacks: autoRollbacks + manualRollbacks,
    autoRollbacks,
    manualRollbacks,
    aborts,
    emergencies,
    stragglers,
    deploysWithStragglers,
    dispatch: percentiles(dispatch),
    converge: percentiles(converge),
  };
}

function groupBy(rows: DeployStat[], key: (d: DeployStat) => string): Map<string, DeployStat[]> {
  const out = new Map<string, DeployStat[]>();
  for (const d of rows) {
    const k = key(d);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(d);
  }
  return out;
}

/** 6-hour buckets over 7 days, daily over 30, 3-daily over 90 (about 30 points each). */
export function bucketMsFor(windowDays: number): number {
  return windowDays <= 7 ? DAY / 4 : windowDays <= 30 ? DAY : 3 * DAY;
}

export function windowStart(nowMs: number, windowDays: number): number {
  const bucket = bucketMsFor(windowDays);
  // Align to whole buckets (UTC) so buckets stay put as time passes.
  return Math.floor((nowMs - windowDays * DAY) / bucket) * bucket + bucket;
}

/** Did the deploy run (or is it about to)? One that ended before it started never did. */
export function ran(d: DeployStat): boolean {
  return d.startedAtMs !== null || !TERMINAL.has(d.status);
}

export function healthReport(
  rows: DeployStat[],
  options: { nowMs: number; windowDays: number; env?: string | null },
): HealthReport {
  const bucketMs = bucketMsFor(options.windowDays);
  const sinceMs = windowStart(options.nowMs, options.windowDays);
  const inWindow = rows.filter((d) => d.createdAtMs >= sinceMs && (!options.env || d.env === options.env) && ran(d));
  const count = Math.max(1, Math.ceil((options.nowMs - sinceMs) / bucketMs));
  const bucketRows: DeployStat[][] = Array.from({ length: count }, () => []);
  for (const d of inWindow) {
    const i = Math.min(count - 1, Math.floor((d.createdAtMs - sinceMs) / bucketMs));
    bucketRows[i]!.push(d);
  }
  const strategies = STRATEGIES.filter((s) => inWindow.some((d) => d.strategy === s));
  const buckets = bucketRows.map((list, i) => {
    const t = totals(list);
    const byStrategy = groupBy(list, (d) => d.strategy);
    const dispatch: Record<string, Percentiles> = {};
    const converge: Record<string, Percentiles> = {};
    for (const s of strategies) {
      const ds = byStrategy.get(s) ?? [];
      dispatch[s] = percentiles(ds.map(dispatchMs).filter((v): v is number => v !== null));
      converge[s] = percentiles(
        ds
          .filter((d) => d.status === 'succeeded')
          .map(convergeMs)
          .filter((v): v is number => v !== null),
      );
    }
    return {
      startMs: sinceMs + i * bucketMs,
      deploys: t.deploys,
      finished: t.finished,
      succeeded: t.succeeded,
      successRate: t.successRate,
      dispatch,
      converge,
    };
  });
  const byStrategy: Record<string, HealthTotals> = {};
  for (const [s, list] of groupBy(inWindow, (d) => d.strategy)) byStrategy[s] = totals(list);
  const byEnv: Record<string, HealthTotals> = {};
  for (const [e, list] of groupBy(inWindow, (d) => d.env)) byEnv[e] = totals(list);
  const notable = inWindow
    .filter(
      (d) =>
        d.emergency ||
        d.stragglers > 0 ||
        (TERMINAL.has(d.status) && d.status !== 'succeeded') ||
        d.trigger === 'rollback',
    )
    .slice(-12)
    .reverse();
  return {
    windowDays: options.windowDays,
    sinceMs,
    untilMs: options.nowMs,
    bucketMs,
    env: options.env ?? null,
    totals: totals(inWindow),
    byStrategy,
    byEnv,
    strategies,
    buckets,
    notable,
  };
}
