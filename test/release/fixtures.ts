// Builders for drafter tests: pull requests and releases in the drafter's input shapes.

import type { PullRequest, ReleaseRecord } from '../../src/release/drafter/types.js';

let clock = Date.parse('2024-03-01T00:00:00Z');

/** A merged pull request; without `mergedAt`, each one is merged an hour after the previous one. */
export function pr(
  number: number,
  title: string,
  opts: Partial<Omit<PullRequest, 'number' | 'title'>> & { login?: string } = {},
): PullRequest {
  clock += 3_600_000;
  const { login, ...rest } = opts;
  return {
    number,
    title,
    author: login === undefined ? { login: 'ada', type: 'User' } : { login, type: 'User' },
    labels: [],
    mergedAt: new Date(clock).toISOString(),
    ...rest,
  };
}

export function rel(tag: string, opts: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return { tag_name: tag, name: tag, draft: false, prerelease: false, created_at: '2024-01-01T00:00:00Z', ...opts };
}

export const at = (day: number, hour = 0) => new Date(Date.UTC(2024, 3, day, hour)).toISOString();
