// The value types of runway.toml that are more than TOML scalars: durations and machine budgets.
// Parsers throw plain Errors with a sentence; the schema turns them into located ConfigErrors.

import { parseDuration } from '../domain/clock.js';
import type { MachineBudget } from '../domain/types.js';

const SEGMENT = /(\d+(?:\.\d+)?)\s*(ms|s|m|h)/g;

/**
 * Milliseconds from `"500ms"`, `"30s"`, `"5m"`, `"1h"`, compound `"1m30s"`, or a number of seconds.
 * Segments go through the domain's parseDuration so both agree on units.
 */
export function parseDurationMs(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`invalid duration ${value}: must be a non-negative number of seconds`);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string')
    throw new Error(`expected a duration such as "30s" or a number of seconds, got ${describe(value)}`);
  const text = value.trim();
  const compact = text.replace(/\s+/g, '');
  if (/^(\d+(?:\.\d+)?(ms|s|m|h))+$/.test(compact) && (compact.match(SEGMENT)?.length ?? 0) > 1) {
    return [...compact.matchAll(SEGMENT)].reduce((sum, m) => sum + parseDuration(m[0]), 0);
  }
  try {
    return parseDuration(text);
  } catch {
    throw new Error(
      `invalid duration ${JSON.stringify(value)} (expected e.g. "500ms", "30s", "5m", "1h30m" or a number of seconds)`,
    );
  }
}

/**
 * A machine budget: a number below 1 is a fraction of a process group, a whole number from 1 up is
 * a count, `"25%"` is a fraction. Zero (in any form) is `{ count: 0 }` so callers test one shape.
 */
export function parseBudget(value: unknown): MachineBudget {
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
    if (!m)
      throw new Error(
        `invalid budget ${JSON.stringify(value)} (expected a count like 2, a fraction like 0.25, or a percentage like "25%")`,
      );
    const pct = Number(m[1]);
    if (pct > 100) throw new Error(`invalid budget "${value.trim()}": a percentage cannot exceed 100%`);
    return pct === 0 ? { count: 0 } : { fraction: pct / 100 };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`expected a count, a fraction or a percentage string, got ${describe(value)}`);
  }
  if (value < 0) throw new Error(`invalid budget ${value}: must not be negative`);
  if (value === 0) return { count: 0 };
  if (value < 1) return { fraction: value };
  if (!Number.isInteger(value)) {
    throw new Error(
      `invalid budget ${value}: numbers from 1 up are machine counts and must be whole (write a fraction below 1, or "${Math.round(value * 100)}%"?)`,
    );
  }
  return { count: value };
}

/** True when the budget allows no machine at all, whatever the group size. */
export function isZeroBudget(b: MachineBudget): boolean {
  return 'count' in b ? Math.floor(b.count) <= 0 : b.fraction <= 0;
}

export function formatBudget(b: MachineBudget): string {
  return 'count' in b ? String(b.count) : `${+(b.fraction * 100).toFixed(4)}%`;
}

/** Exact text for a duration, for rendering config back: `150000` → `"2m30s"`, `1500` → `"1500ms"`. */
export function durationText(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 !== 0) return `${ms}ms`;
  const units: [string, number][] = [
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = ms / 1000;
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}
