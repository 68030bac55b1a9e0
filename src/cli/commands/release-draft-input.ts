// `runway release draft --input FILE.json`: the offline input, read and checked field by field so a
// mistake is named by its path: {"pullRequests": [...], "releases": [...], "commits"?: [...], "repository"?: "owner/name"}

import { readFileSync } from 'node:fs';
import type { CommitRecord, DraftInput, PullRequest, ReleaseRecord } from '../../release/drafter/types.js';
import { CliError } from '../io.js';

export function readInput(file: string): DraftInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `--input ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--input ${file}: invalid JSON: ${(err as Error).message}`);
  }
  return parseInput(data, file);
}

export function parseInput(data: unknown, file = 'input'): DraftInput {
  const fail = (path: string, message: string): never => {
    throw new CliError(`--input ${file}: ${path}: ${message}`);
  };
  if (!isRecord(data)) return fail('(root)', 'must be an object with pullRequests and releases');
  const prs = data.pullRequests ?? [];
  const rels = data.releases ?? [];
  if (!Array.isArray(prs)) fail('pullRequests', 'must be a list');
  if (!Array.isArray(rels)) fail('releases', 'must be a list');
  const text = (v: unknown, path: string, optional = false): string | undefined => {
    if (v === undefined || v === null) return optional ? undefined : fail(path, 'is required');
    if (typeof v !== 'string') return fail(path, `must be a string (got ${typeof v})`);
    return v;
  };
  const pullRequests = (prs as unknown[]).map((pr, i): PullRequest => {
    const at = `pullRequests[${i}]`;
    if (!isRecord(pr)) return fail(at, 'must be an object');
    const number = typeof pr.number === 'string' && /^\d+$/.test(pr.number) ? Number(pr.number) : pr.number;
    if (typeof number !== 'number' || !Number.isInteger(number)) fail(`${at}.number`, 'must be an integer');
    let author: PullRequest['author'] = null;
    if (pr.author !== null && pr.author !== undefined) {
      if (!isRecord(pr.author)) fail(`${at}.author`, 'must be an object {login, type} or null');
      const a = pr.author as Record<string, unknown>;
      const type = text(a.type ?? a.__typename, `${at}.author.type`, true);
      const url = text(a.url ?? a.html_url, `${at}.author.url`, true);
      author = { login: text(a.login, `${at}.author.login`)!, ...(type ? { type } : {}), ...(url ? { url } : {}) };
    }
    const rawLabels = isRecord(pr.labels) && Array.isArray(pr.labels.nodes) ? pr.labels.nodes : (pr.labels ?? []);
    if (!Array.isArray(rawLabels)) fail(`${at}.labels`, 'must be a list of label names');
    const labels = (rawLabels as unknown[]).map((l, j) =>
      isRecord(l) ? text(l.name, `${at}.labels[${j}].name`)! : text(l, `${at}.labels[${j}]`)!,
    );
    const body = text(pr.body, `${at}.body`, true);
    const url = text(pr.url, `${at}.url`, true);
    const baseRefName = text(pr.baseRefName, `${at}.baseRefName`, true);
    const headRefName = text(pr.headRefName, `${at}.headRefName`, true);
    return {
      number: number as number,
      title: text(pr.title, `${at}.title`)!,
      author,
      labels,
      mergedAt: text(pr.mergedAt ?? pr.merged_at, `${at}.mergedAt`, true) ?? '',
      ...(body !== undefined ? { body } : {}),
      ...(url !== undefined ? { url } : {}),
      ...(baseRefName !== undefined ? { baseRefName } : {}),
      ...(headRefName !== undefined ? { headRefName } : {}),
    };
  });
  const releases = (rels as unknown[]).map((r, i): ReleaseRecord => {
    const at = `releases[${i}]`;
    if (!isRecord(r)) return fail(at, 'must be an object');
    const flag = (v: unknown, key: string) => {
      if (v === undefined || v === null) return false;
      if (typeof v !== 'boolean') fail(`${at}.${key}`, 'must be true or false');
      return v as boolean;
    };
    const created = text(r.created_at, `${at}.created_at`, true);
    const target = text(r.target_commitish, `${at}.target_commitish`, true);
    return {
      tag_name: text(r.tag_name, `${at}.tag_name`)!,
      name: text(r.name, `${at}.name`, true) ?? null,
      draft: flag(r.draft, 'draft'),
      prerelease: flag(r.prerelease, 'prerelease'),
      ...(created !== undefined ? { created_at: created } : {}),
      ...(target !== undefined ? { target_commitish: target } : {}),
      ...(typeof r.id === 'number' ? { id: r.id } : {}),
    };
  });
  let commits: CommitRecord[] | undefined;
  if (data.commits !== undefined) {
    if (!Array.isArray(data.commits)) fail('commits', 'must be a list');
    commits = (data.commits as unknown[]).map((c, i): CommitRecord => {
      const author =
        isRecord(c) && isRecord(c.author)
          ? c.author
          : fail(`commits[${i}].author`, 'must be an object {name, user: {login} | null}');
      const user = isRecord(author.user)
        ? { login: text(author.user.login, `commits[${i}].author.user.login`)! }
        : null;
      return { author: { name: text(author.name, `commits[${i}].author.name`, true) ?? null, user } };
    });
  }
  const repository = text(data.repository, 'repository', true);
  return { pullRequests, releases, ...(commits ? { commits } : {}), ...(repository ? { repository } : {}) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
