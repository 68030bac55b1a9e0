// Merged pull requests and releases from a local git repository, for teams without GitHub access
// (or to draft offline). Pull requests are recognised on the first-parent history of HEAD:
//   - merge commits `Merge pull request #N from owner/branch` (title: the first line of the
//     message body, as GitHub writes it; author: the author of the merged branch's tip);
//   - squash merges whose subject ends with `(#N)` (title: the subject without it).
// Git has no labels, so labels come from the conventional-commit type of the title
// (CONVENTIONAL_LABELS); releases are the repository's tags.

import { execFileSync } from 'node:child_process';
import semver from 'semver';
import { parseConventional } from '../drafter/conventional.js';
import type { PullRequest, ReleaseRecord } from '../drafter/types.js';

/** Labels given to a pull request by the conventional-commit type of its title (besides the type itself). */
export const CONVENTIONAL_LABELS: Readonly<Record<string, readonly string[]>> = {
  feat: ['feature', 'enhancement', 'minor'],
  fix: ['fix', 'bug', 'patch'],
  perf: ['performance', 'patch'],
  docs: ['documentation'],
  refactor: ['refactor'],
  test: ['test'],
  build: ['build'],
  ci: ['ci'],
  chore: ['chore'],
  style: ['style'],
  revert: ['revert'],
  deps: ['dependencies'],
};
/** Added for `type!:` titles and `BREAKING CHANGE:` footers. */
export const BREAKING_LABELS: readonly string[] = ['breaking', 'major'];

export function labelsFromTitle(title: string, body?: string | null): string[] {
  const parsed = parseConventional(title, body);
  if (!parsed) return [];
  const labels = [
    parsed.type,
    ...(CONVENTIONAL_LABELS[parsed.type] ?? []),
    ...(parsed.breaking ? BREAKING_LABELS : []),
  ];
  // A breaking change is not a minor or patch one.
  return [...new Set(labels)].filter((l) => !parsed.breaking || (l !== 'minor' && l !== 'patch'));
}

export class GitError extends Error {}

function git(dir: string, args: string[]): string {
  try {
    return execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new GitError(`git ${args[0]} in ${dir} failed: ${stderr || (err as Error).message}`);
  }
}

export function isGitRepository(dir: string): boolean {
  try {
    return git(dir, ['rev-parse', '--is-inside-work-tree']).trim() === 'true';
  } catch {
    return false;
  }
}

/** `owner/name` of a GitHub `origin` remote, if there is one. */
export function githubRepositoryOf(dir: string): string | undefined {
  let url: string;
  try {
    url = git(dir, ['remote', 'get-url', 'origin']).trim();
  } catch {
    return undefined;
  }
  const m = /github\.com[:/]([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

export function currentBranch(dir: string): string | undefined {
  try {
    const name = git(dir, ['rev-parse', '--abbrev-ref', 'HEAD']).trim();
    return name && name !== 'HEAD' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Tags as published releases; a tag whose version has a prerelease part is a prerelease. */
export function gitTags(dir: string): ReleaseRecord[] {
  const out = git(dir, [
    'for-each-ref',
    '--sort=creatordate',
    '--format=%(refname:short)%1f%(creatordate:iso-strict)',
    'refs/tags',
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [tag = '', date = ''] = line.split('\x1f');
      const version = semver.parse(tag.replace(/^[^0-9]*/, ''), { loose: true });
      return {
        tag_name: tag,
        name: tag,
        draft: false,
        prerelease: (version?.prerelease.length ?? 0) > 0,
        created_at: date ? new Date(date).toISOString() : undefined,
      };
    });
}

export function tagExists(dir: string, tag: string): boolean {
  try {
    git(dir, ['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

interface LogEntry {
  hash: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  date: string;
  subject: string;
  body: string;
}

function readLog(dir: string, args: string[]): LogEntry[] {
  const out = git(dir, ['log', '--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%s%x1f%b', ...args]);
  return out
    .split('\x1e')
    .filter((r) => r.trim())
    .map((record) => {
      const [hash = '', parents = '', authorName = '', authorEmail = '', date = '', subject = '', body = ''] =
        record.split('\x1f');
      return {
        hash: hash.trim(),
        parents: parents.split(' ').filter(Boolean),
        authorName,
        authorEmail,
        date,
        subject,
        body: body.replace(/\n+$/, ''),
      };
    });
}

/** A GitHub login from a noreply address (`123+login@users.noreply.github.com`), else the author's name. */
function loginOf(name: string, email: string): string {
  const m = /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/i.exec(email);
  return m ? m[1]! : name;
}

export interface GitRange {
  /** Count changes after this tag (or ref). */
  from?: string;
  /** Without `from`: changes committed after this ISO time. */
  since?: string;
  /** Default HEAD. */
  to?: string;
  /** `owner/name` for pull request URLs. */
  repository?: string;
}

const MERGE = /^Merge pull request #(\d+) from (\S+)/;
const SQUASH = /^(.*\S)\s+\(#(\d+)\)$/;

export function gitPullRequests(dir: string, range: GitRange = {}): PullRequest[] {
  const to = range.to ?? 'HEAD';
  const args = ['--first-parent', range.from ? `${range.from}..${to}` : to];
  if (!range.from && range.since) args.push(`--since=${range.since}`);
  let entries: LogEntry[];
  try {
    entries = readLog(dir, args);
  } catch (err) {
    // A repository without commits has no history to read.
    if (/does not have any commits|unknown revision/.test((err as Error).message) && !range.from) return [];
    throw err;
  }
  const base = currentBranch(dir);
  const prs: PullRequest[] = [];
  const mergeTips = new Map<string, PullRequest>();
  for (const e of entries) {
    let number: number;
    let title: string;
    let head: string | undefined;
    const merge = e.parents.length > 1 ? MERGE.exec(e.subject) : null;
    if (merge) {
      number = Number(merge[1]);
      head = merge[2]!.includes('/') ? merge[2]!.slice(merge[2]!.indexOf('/') + 1) : merge[2];
      title =
        e.body
          .split('\n')
          .find((l) => l.trim())
          ?.trim() ?? e.subject;
    } else {
      const squash = SQUASH.exec(e.subject);
      if (!squash) continue;
      number = Number(squash[2]);
      title = squash[1]!;
    }
    const body = merge ? e.body.split('\n').slice(1).join('\n').trim() : e.body;
    const pr: PullRequest = {
      number,
      title,
      author: { login: loginOf(e.authorName, e.authorEmail), type: 'User' },
      labels: labelsFromTitle(title, body),
      mergedAt: new Date(e.date).toISOString(),
      body,
      ...(range.repository ? { url: `https://github.com/${range.repository}/pull/${number}` } : {}),
      ...(base ? { baseRefName: base } : {}),
      ...(head ? { headRefName: head } : {}),
    };
    if (merge && e.parents[1]) mergeTips.set(e.parents[1], pr);
    prs.push(pr);
  }
  // The author of a merge commit is whoever pressed merge; the pull request's author wrote the tip.
  if (mergeTips.size > 0) {
    for (const tip of readLog(dir, ['--no-walk', ...mergeTips.keys()])) {
      const pr = mergeTips.get(tip.hash);
      if (pr) pr.author = { login: loginOf(tip.authorName, tip.authorEmail), type: 'User' };
    }
  }
  return prs;
}
