// Conventional-commit titles (`type(scope)!: subject`), used by categories' and the version
// resolver's `conventional` conditions and by the git source's labels.

import type { ConventionalCondition, MatchCondition } from './types.js';

export interface ConventionalTitle {
  type: string;
  scope: string | undefined;
  breaking: boolean;
  subject: string;
}

const HEADER = /^(\w+)(?:\(([^()]*)\))?(!)?: (.*)$/s;
const BREAKING_FOOTER = /^BREAKING[ -]CHANGE: /m;

/** Parses a title; `body` is searched for a `BREAKING CHANGE:` footer. Undefined if not conventional. */
export function parseConventional(title: string, body?: string | null): ConventionalTitle | undefined {
  const m = HEADER.exec(title.trim());
  if (!m) return undefined;
  return {
    type: m[1]!.toLowerCase(),
    scope: m[2] === undefined || m[2] === '' ? undefined : m[2],
    breaking: m[3] === '!' || (typeof body === 'string' && BREAKING_FOOTER.test(body)),
    subject: m[4]!,
  };
}

export function matchesConventional(condition: ConventionalCondition, title: string, body?: string | null): boolean {
  const parsed = parseConventional(title, body);
  if (!parsed) return false;
  if (condition.types.length > 0 && !condition.types.includes(parsed.type)) return false;
  if (condition.scopes.length > 0 && (parsed.scope === undefined || !condition.scopes.includes(parsed.scope)))
    return false;
  if (condition.breaking !== undefined && condition.breaking !== parsed.breaking) return false;
  return true;
}

interface Matchable {
  title: string;
  body?: string | null;
  labels: string[];
}

/** Every predicate of the condition holds; labels match when the pull request has any of them. */
export function matchesCondition(condition: MatchCondition, pr: Matchable): boolean {
  if (condition.labels.length > 0 && !pr.labels.some((l) => condition.labels.includes(l))) return false;
  if (condition.conventional && !matchesConventional(condition.conventional, pr.title, pr.body)) return false;
  return true;
}
