// Requests a provider's own proxy saw, per machine: what the proxy source of analysis reads. Counters
// are cumulative (like Prometheus counters), so a window is the difference of two snapshots and a
// machine's restart of the proxy's counters shows as a drop, which is read as a reset.

/** Upper bounds (ms) of the latency histogram's buckets; a last, implicit bucket holds the rest. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const;

export interface RequestCounters {
  /** Requests answered (any status, the proxy's own 502 for this machine included). */
  requests: number;
  /** Answers with a 5xx status. */
  errors: number;
  /** Per bucket of LATENCY_BUCKETS_MS (plus one for slower), requests that took at most that long. Not cumulative. */
  latency: number[];
}

export interface TrafficSnapshot {
  /** Wall-clock ms when taken. */
  atMs: number;
  /** Per machine, per release it answered on (a machine updated in place keeps its id). */
  byMachine: Record<string, Record<string, RequestCounters>>;
}

export function emptyCounters(): RequestCounters {
  return { requests: 0, errors: 0, latency: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
}

export function record(counters: RequestCounters, status: number, ms: number): void {
  counters.requests++;
  if (status >= 500) counters.errors++;
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
  counters.latency[i] = (counters.latency[i] ?? 0) + 1;
}

/**
 * `later − earlier` for the machines named, on `release`, summed; a counter that went down is read as
 * reset to 0 in between.
 */
export function windowOf(
  earlier: TrafficSnapshot | undefined,
  later: TrafficSnapshot,
  release: string,
  machineIds: readonly string[],
): RequestCounters {
  const sum = emptyCounters();
  for (const id of machineIds) {
    const now = later.byMachine[id]?.[release];
    if (!now) continue;
    const before = earlier?.byMachine[id]?.[release];
    const reset = before !== undefined && now.requests < before.requests;
    const base = before && !reset ? before : emptyCounters();
    sum.requests += now.requests - base.requests;
    sum.errors += now.errors - base.errors;
    for (let i = 0; i < sum.latency.length; i++) sum.latency[i]! += (now.latency[i] ?? 0) - (base.latency[i] ?? 0);
  }
  return sum;
}

/**
 * The q-quantile of a histogram, interpolated linearly inside its bucket (as Prometheus'
 * histogram_quantile does); in the open last bucket the largest bound is the answer. Null when empty.
 */
export function latencyQuantile(counters: RequestCounters, q: number): number | null {
  const total = counters.latency.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counters.latency.length; i++) {
    const inBucket = counters.latency[i]!;
    if (seen + inBucket >= rank && inBucket > 0) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const upper = LATENCY_BUCKETS_MS[i]!;
      return lower + ((upper - lower) * (rank - seen)) / inBucket;
    }
    seen += inBucket;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}
