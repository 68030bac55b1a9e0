// zod issues → ConfigErrors with a dotted key, a line, and a sentence a person can act on.

import { z } from 'zod';
import { ConfigError } from './errors.js';
import { formatKey, lineOf, type KeyPath } from './key-lines.js';
import { describe } from './values.js';

type Issue = z.core.$ZodIssue;

/** Parse `data` with `schema`; on failure throw the first problem (in source order) with the others. */
export function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  file: string,
  lines: Map<string, number>,
): z.output<S> {
  const result = schema.safeParse(data, { error: errorMap, reportInput: true });
  if (result.success) return result.data;
  ConfigError.throwAll(issuesToErrors(result.error.issues, file, lines, data));
  throw new Error('unreachable');
}

export function issuesToErrors(
  issues: readonly Issue[],
  file: string,
  lines: Map<string, number>,
  data?: unknown,
): ConfigError[] {
  const out: ConfigError[] = [];
  const push = (path: KeyPath, problem: string): void => {
    // A required key reported missing beside a near miss of its name (`provder` for `provider`):
    // the near miss is the mistake. Some tables (an environment, by its provider) are checked for
    // their required keys before their unknown ones, so the typo would otherwise go unnamed.
    if (problem.startsWith('missing (required') && data !== undefined) {
      const typo = nearMissOf(data, path);
      if (typo) {
        const at = [...path.slice(0, -1), typo];
        out.push(
          new ConfigError({
            file,
            key: formatKey(at),
            line: lineOf(lines, at),
            problem: `unknown key (did you mean "${String(path[path.length - 1])}"?); ${String(path[path.length - 1])} is required here`,
          }),
        );
        return;
      }
    }
    out.push(new ConfigError({ file, key: formatKey(path), line: lineOf(lines, path), problem }));
  };

  const visit = (issue: Issue, prefix: KeyPath): void => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    switch (issue.code) {
      case 'invalid_union': {
        // The branch whose type matched the input says what is wrong inside it; when no branch
        // matched the type at all, the union's own message (or the branches' expectations) stands.
        const branch = issue.errors.find(
          (errs) => !errs.every((e) => e.code === 'invalid_type' && e.path.length === 0),
        );
        if (branch) return branch.forEach((e) => visit(e, path));
        return push(path, issue.message);
      }
      case 'unrecognized_keys':
        return push([...path, issue.keys[0]!], issue.message);
      case 'invalid_key': {
        const inner = issue.issues[0]?.message ?? issue.message;
        return push(path, `invalid name ${JSON.stringify(path[path.length - 1])}: ${inner}`);
      }
      default:
        return push(path, issue.message);
    }
  };
  for (const issue of issues) visit(issue, []);
  return out;
}

/** Messages for zod's built-in checks, phrased for a config file; schema-level messages win over these. */
function errorMap(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'missing (required)';
      if (iss.expected === 'int') return `expected a whole number, got ${describe(iss.input)}`;
      return `expected ${article(iss.expected)}, got ${describe(iss.input)}`;
    case 'invalid_value':
      if (iss.input === undefined)
        return `missing (required; one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')})`;
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}; got ${describe(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'string') return 'must not be empty';
      if (iss.origin === 'array') return `must have at least ${String(iss.minimum)} item(s)`;
      return `must be ${iss.inclusive ? 'at least' : 'greater than'} ${String(iss.minimum)}; got ${describe(iss.input)}`;
    case 'too_big':
      return `must be ${iss.inclusive ? 'at most' : 'less than'} ${String(iss.maximum)}; got ${describe(iss.input)}`;
    case 'invalid_union':
      return 'not one of the accepted forms';
    default:
      return undefined;
  }
}

function article(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a table';
  if (expected === 'array') return 'an array';
  if (expected === 'int') return 'a whole number';
  return `a ${expected}`;
}

/** Message for a strict table's unknown keys, with a suggestion when one is a near miss. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const valid = `valid keys here: ${known.join(', ')}`;
  if (keys.length > 1) return `unknown keys ${keys.map((k) => JSON.stringify(k)).join(', ')}; ${valid}`;
  const guess = closest(keys[0]!, known);
  return guess ? `unknown key (did you mean "${guess}"?); ${valid}` : `unknown key; ${valid}`;
}

/** A key of the table holding `path`'s last key, close to that key's name but not it. */
function nearMissOf(data: unknown, path: KeyPath): string | undefined {
  const name = path[path.length - 1];
  if (typeof name !== 'string') return undefined;
  let table: unknown = data;
  for (const p of path.slice(0, -1))
    table = table !== null && typeof table === 'object' ? (table as Record<string | number, unknown>)[p] : undefined;
  if (table === null || typeof table !== 'object' || Array.isArray(table)) return undefined;
  return Object.keys(table).find((k) => k !== name && closest(k, [name]) === name);
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
