// Merged pull requests, releases and commit authors from GitHub's REST API (@octokit/rest), and
// the writes a draft or a publish needs (create / update a release). `baseUrl` points it at GitHub
// Enterprise or at a test server.
//
// Release Drafter walks the commit history of the target branch (GraphQL) and takes the pull
// requests associated with each commit. Over REST, runway lists closed pull requests, newest
// update first, and keeps those merged after the previous release was created (and into the target
// branch, when one is given). REST gives bots' logins as `name[bot]`; they are converted to
// GraphQL's form (`name`, type `Bot`) so the drafter renders them as Release Drafter does.

import { Octokit } from '@octokit/rest';
import type { CommitRecord, PullRequest, ReleaseRecord } from '../drafter/types.js';

export interface GitHubSourceOptions {
  /** `owner/name`. */
  repository: string;
  token?: string;
  /** REST API root, default https://api.github.com (GitHub Enterprise: https://HOST/api/v3). */
  baseUrl?: string;
  userAgent?: string;
}

/** GitHub answers 1000 releases at most before failing; Release Drafter stops there too. */
const RELEASE_LIMIT = 1000;

interface RestUser {
  login: string;
  type?: string;
  html_url?: string;
}

interface RestPull {
  number: number;
  title: string;
  body?: string | null;
  user: RestUser | null;
  labels: ({ name?: string } | string)[];
  merged_at: string | null;
  updated_at: string;
  html_url: string;
  base: { ref: string };
  head: { ref: string };
}

interface RestRelease {
  id: number;
  tag_name: string;
  name: string | null;
  draft: boolean;
  prerelease: boolean;
  created_at: string;
  target_commitish: string;
  html_url?: string;
}

export interface ReleaseWrite {
  tag_name: string;
  name: string;
  body: string;
  draft: boolean;
  prerelease: boolean;
  make_latest?: 'true' | 'false' | 'legacy';
  target_commitish?: string;
}

export class GitHubSource {
  readonly owner: string;
  readonly repo: string;
  private readonly octokit: Octokit;

  constructor(options: GitHubSourceOptions) {
    const [owner, repo] = options.repository.split('/');
    if (!owner || !repo || options.repository.split('/').length !== 2) {
      throw new Error(`GitHub repository must be owner/name (got "${options.repository}")`);
    }
    this.owner = owner;
    this.repo = repo;
    this.octokit = new Octokit({
      ...(options.token ? { auth: options.token } : {}),
      ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, '') } : {}),
      userAgent: options.userAgent ?? 'runway-release-drafter',
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
  }

  get repository(): string {
    return `${this.owner}/${this.repo}`;
  }

  async listReleases(): Promise<ReleaseRecord[]> {
    const releases: ReleaseRecord[] = [];
    for await (const page of this.octokit.paginate.iterator(this.octokit.rest.repos.listReleases, {
      owner: this.owner,
      repo: this.repo,
      per_page: 100,
    })) {
      for (const r of page.data as RestRelease[]) releases.push(toRelease(r));
      if (releases.length >= RELEASE_LIMIT) break;
    }
    return releases;
  }

  /**
   * Pull requests merged after `since` (ISO time; all when undefined), into `base` when given.
   * Pages stop once pull requests were last updated before `since` (a merge updates them).
   */
  async mergedPullRequests(opts: { since?: string; base?: string } = {}): Promise<PullRequest[]> {
    const sinceMs = opts.since ? Date.parse(opts.since) : undefined;
    const out: PullRequest[] = [];
    const params = {
      owner: this.owner,
      repo: this.repo,
      state: 'closed' as const,
      sort: 'updated' as const,
      direction: 'desc' as const,
      per_page: 100,
      ...(opts.base ? { base: opts.base } : {}),
    };
    for await (const page of this.octokit.paginate.iterator(this.octokit.rest.pulls.list, params)) {
      let older = false;
      for (const pr of page.data as RestPull[]) {
        if (sinceMs !== undefined && Date.parse(pr.updated_at) < sinceMs) older = true;
        if (!pr.merged_at) continue;
        if (sinceMs !== undefined && !(Date.parse(pr.merged_at) > sinceMs)) continue;
        out.push(toPullRequest(pr));
      }
      if (older) break;
    }
    return out;
  }

  /** Authors of the commits on `sha` (default branch when undefined) since `since`. */
  async commitAuthors(opts: { since?: string; sha?: string } = {}): Promise<CommitRecord[]> {
    const params = {
      owner: this.owner,
      repo: this.repo,
      per_page: 100,
      ...(opts.since ? { since: opts.since } : {}),
      ...(opts.sha ? { sha: opts.sha } : {}),
    };
    const commits = await this.octokit.paginate(this.octokit.rest.repos.listCommits, params);
    return commits
      .filter((c) => !opts.since || c.commit.committer?.date !== opts.since)
      .map((c) => ({
        author: {
          name: c.commit.author?.name ?? null,
          user: c.author && 'login' in c.author ? { login: c.author.login } : null,
        },
      }));
  }

  async createRelease(release: ReleaseWrite): Promise<ReleaseRecord & { html_url?: string }> {
    const { data } = await this.octokit.rest.repos.createRelease({
      owner: this.owner,
      repo: this.repo,
      ...release,
    });
    return { ...toRelease(data as RestRelease), html_url: data.html_url };
  }

  async updateRelease(id: number, release: Partial<ReleaseWrite>): Promise<ReleaseRecord & { html_url?: string }> {
    const { data } = await this.octokit.rest.repos.updateRelease({
      owner: this.owner,
      repo: this.repo,
      release_id: id,
      ...release,
    });
    return { ...toRelease(data as RestRelease), html_url: data.html_url };
  }
}

function toRelease(r: RestRelease): ReleaseRecord {
  return {
    id: r.id,
    tag_name: r.tag_name,
    name: r.name,
    draft: r.draft,
    prerelease: r.prerelease,
    created_at: r.created_at,
    target_commitish: r.target_commitish,
  };
}

export function toPullRequest(pr: RestPull): PullRequest {
  let author: PullRequest['author'] = null;
  if (pr.user) {
    const bot = pr.user.type === 'Bot';
    const login = bot ? pr.user.login.replace(/\[bot\]$/, '') : pr.user.login;
    author = {
      login,
      type: bot ? 'Bot' : 'User',
      url: bot ? `https://github.com/apps/${login}` : (pr.user.html_url ?? `https://github.com/${login}`),
    };
  }
  return {
    number: pr.number,
    title: pr.title,
    author,
    labels: pr.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter(Boolean),
    mergedAt: pr.merged_at ?? '',
    body: pr.body ?? null,
    url: pr.html_url,
    baseRefName: pr.base.ref,
    headRefName: pr.head.ref,
  };
}
