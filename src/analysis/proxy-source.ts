// Analysis' `proxy` source: the local provider's proxy sees every request, so error rate and latency
// per release need no setup. Counters are cumulative; a measurement is the difference between now and
// the snapshot taken one window earlier (or the first one of the analysis, if the window reaches past it).

import { latencyQuantile, windowOf, type RequestCounters, type TrafficSnapshot } from '../domain/traffic.js';
import type { FleetScope } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';
import {
  AnalysisSourceError,
  describeMetric,
  type AnalysisEntry,
  type MetricSource,
  type ReleaseSide,
  type SourceReading,
} from '../domain/analysis.js';

/** Snapshots older than this are dropped: no window is longer. */
const KEEP_MS = 60 * 60_000;

export class ProxySource implements MetricSource {
  private readonly history: TrafficSnapshot[] = [];

  constructor(
    private readonly provider: Provider,
    private readonly scope: FleetScope,
  ) {
    if (!provider.traffic)
      throw new AnalysisSourceError(
        `the ${provider.name} provider has no proxy of its own to count requests: use source = "prometheus"`,
      );
  }

  async prime(signal?: AbortSignal): Promise<void> {
    await this.snapshot(signal);
  }

  async measure(
    entry: AnalysisEntry,
    target: ReleaseSide,
    baseline: ReleaseSide | null,
    signal?: AbortSignal,
  ): Promise<SourceReading> {
    const now = await this.snapshot(signal);
    const earlier =
      this.history.filter((s) => s !== now && s.atMs <= now.atMs - entry.windowMs).pop() ?? this.history[0];
    const start = earlier === now ? undefined : earlier;
    const ours = windowOf(start, now, target.release, target.machineIds);
    const theirs = baseline ? windowOf(start, now, baseline.release, baseline.machineIds) : undefined;
    const metric = describeMetric(entry);
    const reading: SourceReading = {
      metric,
      value: valueOf(entry, ours),
      baseline: theirs ? valueOf(entry, theirs) : null,
      requests: { target: ours.requests, baseline: theirs?.requests ?? 0 },
    };
    if (reading.value === null) {
      reading.noData = `${ours.requests} requests reached ${target.release} in the window (${target.machineIds.length} machines; min_requests ${entry.minRequests})`;
    }
    return reading;

    function valueOf(e: AnalysisEntry, c: RequestCounters): number | null {
      if (c.requests < e.minRequests || c.requests === 0) return null;
      if (e.metric.kind === 'error_rate') return c.errors / c.requests;
      if (e.metric.kind === 'latency') return latencyQuantile(c, e.metric.quantile);
      throw new AnalysisSourceError(
        `the proxy source measures error_rate and latency; "${e.name}" asks for a query (use source = "prometheus")`,
      );
    }
  }

  private async snapshot(signal?: AbortSignal): Promise<TrafficSnapshot> {
    const snap = await this.provider.traffic!(this.scope, signal ? { signal } : undefined);
    this.history.push(snap);
    while (this.history.length > 2 && this.history[0]!.atMs < snap.atMs - KEEP_MS) this.history.shift();
    return snap;
  }
}
