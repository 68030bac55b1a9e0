// The metric sources a deploy's analysis reads (docs/analysis.md), opened by whoever runs the deploy
// (the CLI, the control plane, a benchmark) and handed to the engine, which only knows the contract
// (domain/analysis.ts): the provider's own proxy, and Prometheus over HTTP.

import type { AnalysisSpec, MetricSources } from '../domain/analysis.js';
import type { FleetScope } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';
import { PrometheusSource } from './prometheus-source.js';
import { ProxySource } from './proxy-source.js';

export interface OpenedSources {
  sources: MetricSources;
  close(): Promise<void>;
}

/** The sources `spec`'s entries use. A source that cannot be opened is left out: its measurements fail, saying so. */
export function openMetricSources(
  spec: AnalysisSpec | undefined,
  provider: Provider,
  scope: FleetScope,
  env: NodeJS.ProcessEnv = process.env,
): OpenedSources {
  const uses = (source: string) => spec?.entries.some((e) => e.source === source) ?? false;
  const sources: MetricSources = {};
  if (uses('proxy') && provider.traffic) sources.proxy = new ProxySource(provider, scope);
  let prometheus: PrometheusSource | undefined;
  if (uses('prometheus') && spec?.prometheus)
    sources.prometheus = prometheus = new PrometheusSource(spec.prometheus, scope, env);
  return { sources, close: async () => prometheus?.close() };
}
