// Analysis (DESIGN words: a step's health checks say a machine is up; its analysis says the release
// serves users as well as the one it replaces). Each entry compares a metric of the machines on the
// new release with the same metric of the machines still on the old one, over the same window.

/** What an analysis measures. `error_rate` and `latency` come from the local provider's proxy; `query` from Prometheus. */
export type AnalysisMetric =
  { kind: 'error_rate' } | { kind: 'latency'; quantile: number } | { kind: 'query'; query: string };

export type AnalysisSourceName = 'proxy' | 'prometheus';

/** One `[[app.analysis]]` entry, validated, durations in ms. */
export interface AnalysisEntry {
  name: string;
  metric: AnalysisMetric;
  source: AnalysisSourceName;
  /** Process group whose machines are measured; undefined = every group. */
  group?: string;
  /** Absolute limit: a measurement fails when the new release's value is above it. */
  max?: number;
  /** Relative limit: fails when the value is above the baseline's value × maxRatio (skipped without a baseline). */
  maxRatio?: number;
  /** Each measurement covers the last windowMs. */
  windowMs: number;
  /** Time between measurements. */
  intervalMs: number;
  /** Measurements after each step before the next step starts. */
  count: number;
  /** Failed measurements that fail the step. */
  failureLimit: number;
  /** Proxy metrics: fewer requests than this in the window make a measurement inconclusive. */
  minRequests: number;
}

/** `[prometheus]`: where `query` analyses are sent (Fly's managed Prometheus speaks the same API). */
export interface PrometheusConfig {
  /** Base URL; queries go to `<url>/api/v1/query`. */
  url: string;
  /** Name of the variable holding the bearer token, or a file holding it (absolute). */
  tokenEnv?: string;
  tokenFile?: string;
}

export interface AnalysisSpec {
  entries: AnalysisEntry[];
  prometheus?: PrometheusConfig;
}

/** Machines of one release, as the sources see them. */
export interface ReleaseSide {
  release: string;
  machineIds: string[];
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** One measurement: the evidence the journal, the CLI and the dashboard show. */
export interface Measurement {
  analysis: string;
  /** What was measured, e.g. `error_rate`, `latency p99`, or the query as sent. */
  metric: string;
  /** Queries as sent, for the new release and the baseline (Prometheus). */
  query?: string;
  baselineQuery?: string;
  value: number | null;
  baseline: number | null;
  /** The limit applied, e.g. `≤ 0.05` or `≤ 0.002 × 2 = 0.004`. */
  limit: string;
  verdict: Verdict;
  /** Why, in a sentence (the failed comparison, the missing data, or the source's error). */
  reason: string;
  /** Requests seen in the window (proxy), for the new release and the baseline. */
  requests?: { target: number; baseline: number };
  release: string;
  baselineRelease: string | null;
  /** When it was taken (the deploy's clock). */
  atMs?: number;
}

/** A source answers one measurement for both sides; an error (bad query, no answer) fails the measurement. */
export interface MetricSource {
  measure(
    entry: AnalysisEntry,
    target: ReleaseSide,
    baseline: ReleaseSide | null,
    signal?: AbortSignal,
  ): Promise<SourceReading>;
  /** Called when an analysis begins, so the first measurement has a starting point (proxy counters). */
  prime?(signal?: AbortSignal): Promise<void>;
}

/** The sources a deploy's analysis reads, by name (those its entries use and that could be opened). */
export type MetricSources = Partial<Record<AnalysisSourceName, MetricSource>>;

export interface SourceReading {
  value: number | null;
  baseline: number | null;
  metric: string;
  query?: string;
  baselineQuery?: string;
  requests?: { target: number; baseline: number };
  /** Why a value is null (no data), when it is. */
  noData?: string;
}

export class AnalysisSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisSourceError';
  }
}

/** What an entry measures, as the evidence names it: `error_rate`, `latency p99 (ms)`, `query`. */
export function describeMetric(entry: AnalysisEntry): string {
  switch (entry.metric.kind) {
    case 'error_rate':
      return 'error_rate';
    case 'latency':
      return `latency p${Number((entry.metric.quantile * 100).toPrecision(4))} (ms)`;
    case 'query':
      return 'query';
  }
}
