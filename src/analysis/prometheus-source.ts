// Analysis' `prometheus` source: an instant query over Prometheus' HTTP API (`/api/v1/query`), with a
// bearer token when one is configured (Fly's managed Prometheus at https://api.fly.io/prometheus/<org>
// speaks the same API). The query is a template, run once for the new release and once for the
// baseline: {{release}}, {{instances}} (a regex alternation of the side's machine ids), {{window}}
// (the entry's window, in seconds, e.g. `30s`), {{app}}, {{group}}.

import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { FleetScope } from '../domain/types.js';
import {
  AnalysisSourceError,
  type AnalysisEntry,
  type MetricSource,
  type PrometheusConfig,
  type ReleaseSide,
  type SourceReading,
} from '../domain/analysis.js';

/** One query's longest wait for an answer: a Prometheus that does not answer fails the measurement. */
const QUERY_TIMEOUT_MS = 10_000;

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

type QueryAnswer =
  | {
      status: 'success';
      data:
        | { resultType: 'vector'; result: VectorSample[] }
        | { resultType: 'scalar'; result: [number, string] }
        | { resultType: string; result: unknown };
    }
  | { status: 'error'; errorType?: string; error?: string };

export class PrometheusSource implements MetricSource {
  private token: string | undefined | null = null;
  private readonly agent = new Agent({ connections: 8 });
  private readonly base: string;

  constructor(
    private readonly config: PrometheusConfig,
    private readonly scope: FleetScope,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.base = config.url.replace(/\/+$/, '');
  }

  async measure(
    entry: AnalysisEntry,
    target: ReleaseSide,
    baseline: ReleaseSide | null,
    signal?: AbortSignal,
  ): Promise<SourceReading> {
    if (entry.metric.kind !== 'query')
      throw new AnalysisSourceError(
        `the prometheus source runs queries; "${entry.name}" measures ${entry.metric.kind} (use source = "proxy", or write a query)`,
      );
    const query = this.render(entry, entry.metric.query, target);
    const baselineQuery = baseline ? this.render(entry, entry.metric.query, baseline) : undefined;
    const [value, base] = await Promise.all([
      this.instant(query, signal),
      baselineQuery !== undefined ? this.instant(baselineQuery, signal) : Promise.resolve(null),
    ]);
    const reading: SourceReading = { metric: 'query', query, value, baseline: base };
    if (baselineQuery !== undefined) reading.baselineQuery = baselineQuery;
    if (value === null) reading.noData = `the query returned no sample for ${target.release}`;
    return reading;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private render(entry: AnalysisEntry, template: string, side: ReleaseSide): string {
    const values: Record<string, string> = {
      release: side.release,
      instances: side.machineIds.map(escapeRegex).join('|') || '^$',
      window: `${Math.max(1, Math.round(entry.windowMs / 1000))}s`,
      app: this.scope.app,
      group: entry.group ?? '.*',
    };
    return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
  }

  /** The query's value: a scalar, or a vector's single sample. Null: no sample, or NaN (e.g. 0/0 without traffic). */
  private async instant(query: string, signal?: AbortSignal): Promise<number | null> {
    // Read when first needed: a missing token fails the measurement that needs it, with its reason.
    if (this.token === null) this.token = resolveToken(this.config, this.env);
    const url = `${this.base}/api/v1/query`;
    const timeout = AbortSignal.timeout(QUERY_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: new URLSearchParams({ query }).toString(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const why = timeout.aborted ? `no answer within ${QUERY_TIMEOUT_MS / 1000}s` : describeFetchError(error);
      throw new AnalysisSourceError(`prometheus at ${this.base}: ${why}`);
    }
    const text = await response.text();
    let answer: QueryAnswer;
    try {
      answer = JSON.parse(text) as QueryAnswer;
    } catch {
      throw new AnalysisSourceError(
        `prometheus at ${this.base} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (answer.status !== 'success') {
      const e = answer as { errorType?: string; error?: string };
      throw new AnalysisSourceError(
        `prometheus rejected the query (${response.status} ${e.errorType ?? 'error'}): ${e.error ?? text.slice(0, 200)}`,
      );
    }
    const data = answer.data;
    if (data.resultType === 'scalar') return finite(Number((data.result as [number, string])[1]));
    if (data.resultType !== 'vector')
      throw new AnalysisSourceError(
        `prometheus answered a ${data.resultType}; analysis needs a query that gives one number (an instant vector or a scalar)`,
      );
    const samples = data.result as VectorSample[];
    if (samples.length === 0) return null;
    if (samples.length > 1)
      throw new AnalysisSourceError(
        `the query returned ${samples.length} series; analysis needs one number: aggregate it (e.g. sum(...)): ${query}`,
      );
    return finite(Number(samples[0]!.value[1]));
  }
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

function resolveToken(config: PrometheusConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (config.tokenEnv) {
    const value = env[config.tokenEnv];
    if (!value) throw new AnalysisSourceError(`[prometheus] token_env names ${config.tokenEnv}, which is not set`);
    return value.trim();
  }
  if (config.tokenFile) {
    try {
      return readFileSync(config.tokenFile, 'utf8').trim();
    } catch (error) {
      throw new AnalysisSourceError(`[prometheus] token_file ${config.tokenFile}: ${(error as Error).message}`);
    }
  }
  return undefined;
}
