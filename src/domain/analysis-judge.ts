// Pure: a reading against an entry's limits gives a measurement's verdict; measurements give a step's.

import type { AnalysisEntry, Measurement, SourceReading, Verdict } from './analysis.js';

export function judge(
  entry: AnalysisEntry,
  reading: SourceReading,
  release: string,
  baselineRelease: string | null,
): Measurement {
  const base = {
    analysis: entry.name,
    metric: reading.metric,
    ...(reading.query !== undefined ? { query: reading.query } : {}),
    ...(reading.baselineQuery !== undefined ? { baselineQuery: reading.baselineQuery } : {}),
    ...(reading.requests ? { requests: reading.requests } : {}),
    value: reading.value,
    baseline: reading.baseline,
    release,
    baselineRelease,
  };
  const limits: string[] = [];
  let ceiling = Infinity;
  if (entry.max !== undefined) {
    limits.push(`≤ ${fmt(entry.max)}`);
    ceiling = entry.max;
  }
  if (entry.maxRatio !== undefined && reading.baseline !== null) {
    const relative = reading.baseline * entry.maxRatio;
    limits.push(`≤ baseline ${fmt(reading.baseline)} × ${fmt(entry.maxRatio)} = ${fmt(relative)}`);
    ceiling = Math.min(ceiling, relative);
  } else if (entry.maxRatio !== undefined) {
    limits.push(`× ${fmt(entry.maxRatio)} of a baseline (none measured)`);
  }
  const limit = limits.join(' and ') || 'none';
  if (reading.value === null) {
    return { ...base, limit, verdict: 'inconclusive', reason: reading.noData ?? 'no data' };
  }
  if (reading.value > ceiling) {
    const broke =
      entry.max !== undefined && reading.value > entry.max
        ? `max ${fmt(entry.max)}`
        : `baseline ${fmt(reading.baseline!)} × ${fmt(entry.maxRatio!)}`;
    const against =
      baselineRelease !== null && reading.baseline !== null ? ` (${baselineRelease}: ${fmt(reading.baseline)})` : '';
    return {
      ...base,
      limit,
      verdict: 'fail',
      reason: `${reading.metric} of ${release} is ${fmt(reading.value)}, above ${broke}${against}`,
    };
  }
  return {
    ...base,
    limit,
    verdict: 'pass',
    reason: `${reading.metric} of ${release} is ${fmt(reading.value)}, within ${limit}`,
  };
}

/** A measurement the source could not make (bad query, no answer): it fails, never passes. */
export function sourceFailure(
  entry: AnalysisEntry,
  metric: string,
  error: string,
  release: string,
  baselineRelease: string | null,
): Measurement {
  return {
    analysis: entry.name,
    metric,
    value: null,
    baseline: null,
    limit: '-',
    verdict: 'fail',
    reason: error,
    release,
    baselineRelease,
  };
}

export interface StepVerdict {
  verdict: Exclude<Verdict, 'inconclusive'> | 'pending';
  reason: string;
}

/**
 * An entry's verdict from its measurements so far: failed once `failureLimit` measurements failed;
 * passed once `count` measurements were made with at least one conclusive. When every one was
 * inconclusive, it depends on the old release: if it had data (it served users) while the new one had
 * none, that is no pass — the new release is not seen serving; if neither had any (no traffic yet,
 * as on a first deploy), there is nothing to judge and nobody to protect, and the step goes on.
 */
export function entryVerdict(entry: AnalysisEntry, measurements: readonly Measurement[]): StepVerdict {
  const failed = measurements.filter((m) => m.verdict === 'fail');
  if (failed.length >= entry.failureLimit) {
    const last = failed[failed.length - 1]!;
    return {
      verdict: 'fail',
      reason: `analysis "${entry.name}" failed ${failed.length} of ${measurements.length} measurements: ${last.reason}`,
    };
  }
  if (measurements.length < entry.count)
    return { verdict: 'pending', reason: `${measurements.length} of ${entry.count} measurements` };
  const conclusive = measurements.filter((m) => m.verdict !== 'inconclusive');
  if (conclusive.length === 0 && !measurements.some((m) => m.baseline !== null)) {
    return {
      verdict: 'pass',
      reason: `analysis "${entry.name}": no traffic to judge in ${measurements.length} measurements (neither release had data)`,
    };
  }
  if (conclusive.length === 0) {
    return {
      verdict: 'fail',
      reason: `analysis "${entry.name}" had no conclusive measurement in ${measurements.length}: ${measurements[measurements.length - 1]!.reason}`,
    };
  }
  return {
    verdict: 'pass',
    reason: `analysis "${entry.name}" passed (${conclusive.length - failed.length} of ${measurements.length} measurements within limits)`,
  };
}

/** Numbers as people read them: rates and ratios to 4 significant digits, no exponent for ordinary values. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 1000) return String(Math.round(n));
  return String(Number(n.toPrecision(4)));
}
