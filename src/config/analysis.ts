// `[[app.analysis]]` / `[prometheus]` (analysis-schema.ts) → an environment's AnalysisSpec, with the
// checks that need the environment: the proxy source needs the local provider (the only one whose
// proxy runs here), a query needs a `[prometheus]` url, a group must exist.

import path from 'node:path';
import type { AnalysisEntry, AnalysisSpec, PrometheusConfig } from '../domain/analysis.js';
import type { ProcessGroup, ProviderName } from '../domain/types.js';
import {
  DEFAULT_COUNT,
  DEFAULT_INTERVAL_MS,
  DEFAULT_MIN_REQUESTS,
  type AnalysisTable,
  type PrometheusTable,
} from './analysis-schema.js';
import type { KeyPath } from './key-lines.js';

export interface AnalysisInput {
  /** The environment's list when it has one (it replaces the app's), else the app's; with where each was written. */
  entries: { at: KeyPath; table: AnalysisTable }[];
  prometheus?: { at: KeyPath; table: PrometheusTable };
  provider: ProviderName;
  processes: readonly ProcessGroup[];
  dir: string;
  problem(at: KeyPath, message: string): void;
}

export function buildAnalysis(input: AnalysisInput): AnalysisSpec {
  const entries: AnalysisEntry[] = [];
  for (const { at, table: t } of input.entries) {
    const source = t.source ?? (t.metric === 'query' ? 'prometheus' : 'proxy');
    if (source === 'proxy' && input.provider !== 'local') {
      input.problem(
        [...at, t.source ? 'source' : 'metric'],
        `the proxy source counts requests in the local provider's proxy; the ${input.provider} provider has none here: use metric = "query" with [prometheus] (Fly exposes its metrics there)`,
      );
    }
    if (source === 'prometheus' && !input.prometheus)
      input.problem([...at, 'metric'], 'a query needs [prometheus] url = "..." (or [environments.NAME.prometheus])');
    if (t.group !== undefined && !input.processes.some((g) => g.name === t.group)) {
      input.problem(
        [...at, 'group'],
        `no process group "${t.group}" (groups: ${input.processes.map((g) => g.name).join(', ')})`,
      );
    }
    const intervalMs = t.interval ?? DEFAULT_INTERVAL_MS;
    const entry: AnalysisEntry = {
      name: t.name,
      metric:
        t.metric === 'latency'
          ? { kind: 'latency', quantile: t.quantile! }
          : t.metric === 'query'
            ? { kind: 'query', query: t.query! }
            : { kind: 'error_rate' },
      source,
      windowMs: t.window ?? intervalMs,
      intervalMs,
      count: t.count ?? DEFAULT_COUNT,
      failureLimit: t.failure_limit ?? 1,
      minRequests: t.min_requests ?? DEFAULT_MIN_REQUESTS,
    };
    if (t.group !== undefined) entry.group = t.group;
    if (t.max !== undefined) entry.max = t.max;
    if (t.max_ratio !== undefined) entry.maxRatio = t.max_ratio;
    entries.push(entry);
  }
  const spec: AnalysisSpec = { entries };
  if (input.prometheus) {
    const p = input.prometheus.table;
    const prometheus: PrometheusConfig = { url: p.url };
    if (p.token_env) prometheus.tokenEnv = p.token_env;
    if (p.token_file) prometheus.tokenFile = path.resolve(input.dir, p.token_file);
    spec.prometheus = prometheus;
  }
  return spec;
}
