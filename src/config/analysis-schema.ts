// runway.toml's analysis tables: `[[app.analysis]]` (or `[[environments.X.analysis]]`, which replaces
// the app's list as a whole; `analysis = []` turns it off there) and `[prometheus]` (or
// `[environments.X.prometheus]`). Keys are documented in schema.ts's reference comment and
// docs/analysis.md. Cross-key checks are here, so each error names the key and its line.

import { z } from 'zod';
import { table } from './schema-table.js';
import { positiveDuration } from './schema-values.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const analysisEntry = table({
  name: z.string().regex(NAME, { error: 'use letters, digits, "-" and "_", starting with a letter or digit' }),
  metric: z.enum(['error_rate', 'latency', 'query'], { error: 'expected "error_rate", "latency" or "query"' }),
  quantile: z
    .number()
    .gt(0, { error: 'a quantile is between 0 and 1, e.g. 0.99' })
    .lt(1, { error: 'a quantile is between 0 and 1, e.g. 0.99' })
    .optional(),
  query: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
  source: z.enum(['proxy', 'prometheus'], { error: 'expected "proxy" or "prometheus"' }).optional(),
  group: z.string().regex(NAME, { error: 'expected a process group name' }).optional(),
  max: z.number().min(0, { error: 'a limit cannot be negative' }).optional(),
  max_ratio: z.number().gt(0, { error: 'must be more than 0 (1.5 = up to 50 % worse than the baseline)' }).optional(),
  window: positiveDuration().optional(),
  interval: positiveDuration().optional(),
  count: z.number().int().min(1).optional(),
  failure_limit: z.number().int().min(1).optional(),
  min_requests: z.number().int().min(0).optional(),
}).superRefine((e, ctx) => {
  const at = (key: string, message: string) => ctx.issues.push({ code: 'custom', message, input: e, path: [key] });
  if (e.max === undefined && e.max_ratio === undefined)
    at('metric', 'set a limit: max (absolute), max_ratio (relative to the old release), or both');
  if (e.metric === 'error_rate' && e.max !== undefined && e.max > 1)
    at('max', `an error rate is a share between 0 and 1; ${e.max} can never be exceeded`);
  if (e.metric === 'latency' && e.quantile === undefined)
    at('metric', 'latency needs quantile = 0.5 .. 0.999 (e.g. 0.99 for p99)');
  if (e.metric !== 'latency' && e.quantile !== undefined) at('quantile', 'only latency analyses have a quantile');
  if (e.metric === 'query' && e.query === undefined) at('metric', 'a query analysis needs query = "<PromQL>"');
  if (e.metric !== 'query' && e.query !== undefined)
    at('query', `a ${e.metric} analysis is measured by runway's proxy; use metric = "query" for a query`);
  if (e.metric === 'query' && e.source === 'proxy')
    at('source', 'the proxy measures error_rate and latency; a query goes to source = "prometheus"');
  if (e.metric !== 'query' && e.source === 'prometheus')
    at('source', `Prometheus answers queries: use metric = "query" with a query for ${e.metric}`);
  const count = e.count ?? DEFAULT_COUNT;
  const limit = e.failure_limit ?? 1;
  if (limit > count)
    at(
      'failure_limit',
      `${limit} failed measurements can never happen in ${count} (count); make failure_limit at most count`,
    );
});

export const analysisSchema = z
  .array(analysisEntry, { error: 'expected [[analysis]] entries (an array of tables)' })
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((e, i) => {
      if (seen.has(e.name))
        ctx.issues.push({
          code: 'custom',
          message: `names analysis "${e.name}" twice`,
          input: e.name,
          path: [i, 'name'],
        });
      seen.add(e.name);
    });
  });
export type AnalysisTable = z.output<typeof analysisEntry>;

export const prometheusSchema = table({
  url: z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v), { error: 'expected an http:// or https:// URL' }),
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
    .optional(),
  token_file: z.string().min(1).optional(),
}).refine((p) => !(p.token_env && p.token_file), {
  error: 'set token_env or token_file, not both',
  path: ['token_file'],
});
export type PrometheusTable = z.output<typeof prometheusSchema>;

export const DEFAULT_COUNT = 3;
export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_MIN_REQUESTS = 10;
