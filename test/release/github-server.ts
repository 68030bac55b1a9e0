// A small GitHub REST API for tests, on 127.0.0.1 (hono). It serves the endpoints the release
// drafter uses, with GitHub's documented response shapes: pagination by `page`/`per_page` with a
// `Link` header, token authentication (401 "Bad credentials"), 404 "Not Found", 422 on a duplicate tag.
//   GET   /repos/{owner}/{repo}/releases
//   POST  /repos/{owner}/{repo}/releases
//   PATCH /repos/{owner}/{repo}/releases/{release_id}
//   GET   /repos/{owner}/{repo}/pulls        (state, base, sort=updated, direction)
//   GET   /repos/{owner}/{repo}/commits      (sha, since)

import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';

export interface FakeUser {
  login: string;
  type?: 'User' | 'Bot';
}

export interface FakePull {
  number: number;
  title: string;
  user: FakeUser | null;
  labels?: string[];
  body?: string | null;
  merged_at: string | null;
  closed_at?: string | null;
  updated_at?: string;
  base?: string;
  head?: string;
}

export interface FakeRelease {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  created_at: string;
  published_at: string | null;
  target_commitish: string;
  make_latest?: string;
}

export interface FakeCommit {
  sha: string;
  author: FakeUser | null;
  authorName: string;
  date: string;
}

export interface FakeGitHub {
  url: string;
  owner: string;
  repo: string;
  token: string;
  pulls: FakePull[];
  releases: FakeRelease[];
  commits: FakeCommit[];
  requests: string[];
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

function userJson(u: FakeUser, base: string) {
  const login = u.type === 'Bot' ? `${u.login}[bot]` : u.login;
  return {
    login,
    id: login.length,
    node_id: `U_${login}`,
    type: u.type ?? 'User',
    site_admin: false,
    url: `${base}/users/${encodeURIComponent(login)}`,
    html_url: u.type === 'Bot' ? `https://github.com/apps/${u.login}` : `https://github.com/${login}`,
  };
}

export async function startFakeGitHub(
  opts: { owner?: string; repo?: string; token?: string } = {},
): Promise<FakeGitHub> {
  const owner = opts.owner ?? 'octo';
  const repo = opts.repo ?? 'widgets';
  const token = opts.token ?? 'test-token';
  const state = {
    pulls: [] as FakePull[],
    releases: [] as FakeRelease[],
    commits: [] as FakeCommit[],
    requests: [] as string[],
  };
  let nextId = 1000;
  let base = '';
  const app = new Hono();

  app.use('*', async (c, next) => {
    state.requests.push(`${c.req.method} ${new URL(c.req.url).pathname}${new URL(c.req.url).search}`);
    const auth = c.req.header('authorization') ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      return c.json({ message: 'Bad credentials', documentation_url: DOCS, status: '401' }, 401);
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)/.exec(new URL(c.req.url).pathname);
    if (m && (m[1] !== owner || m[2] !== repo))
      return c.json({ message: 'Not Found', documentation_url: DOCS, status: '404' }, 404);
    await next();
  });

  /** One page of `items` by `page` and `per_page` (max 100), with GitHub's Link header. */
  function page<T>(c: Context, items: T[]) {
    const perPage = Math.min(100, Math.max(1, Number(c.req.query('per_page') ?? 30)));
    const pageNo = Math.max(1, Number(c.req.query('page') ?? 1));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (p: number) => {
      const u = new URL(c.req.url);
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      return `<${base}${u.pathname}${u.search}>`;
    };
    const links: string[] = [];
    if (pageNo < last) links.push(`${link(pageNo + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (pageNo > 1) links.push(`${link(1)}; rel="first"`, `${link(pageNo - 1)}; rel="prev"`);
    if (links.length) c.header('Link', links.join(', '));
    return c.json(items.slice((pageNo - 1) * perPage, pageNo * perPage));
  }

  const releaseJson = (r: FakeRelease) => ({
    url: `${base}/repos/${owner}/${repo}/releases/${r.id}`,
    html_url: `https://github.com/${owner}/${repo}/releases/${r.draft ? `untagged-${r.id}` : `tag/${r.tag_name}`}`,
    assets_url: `${base}/repos/${owner}/${repo}/releases/${r.id}/assets`,
    upload_url: `https://uploads.github.com/repos/${owner}/${repo}/releases/${r.id}/assets{?name,label}`,
    id: r.id,
    node_id: `RE_${r.id}`,
    tag_name: r.tag_name,
    target_commitish: r.target_commitish,
    name: r.name,
    body: r.body,
    draft: r.draft,
    prerelease: r.prerelease,
    created_at: r.created_at,
    published_at: r.published_at,
    author: userJson({ login: 'release-bot' }, base),
    assets: [],
  });

  app.get('/repos/:owner/:repo/releases', (c) => {
    // Newest first, as GitHub lists them.
    const sorted = [...state.releases].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
    return page(c, sorted.map(releaseJson));
  });

  app.post('/repos/:owner/:repo/releases', async (c) => {
    const body = (await c.req.json()) as Partial<FakeRelease> & { tag_name?: string };
    if (!body.tag_name)
      return c.json(
        {
          message: 'Validation Failed',
          errors: [{ resource: 'Release', code: 'missing_field', field: 'tag_name' }],
          documentation_url: DOCS,
        },
        422,
      );
    if (state.releases.some((r) => r.tag_name === body.tag_name && !r.draft)) {
      return c.json(
        {
          message: 'Validation Failed',
          errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }],
          documentation_url: DOCS,
        },
        422,
      );
    }
    const now = new Date().toISOString();
    const release: FakeRelease = {
      id: nextId++,
      tag_name: body.tag_name,
      name: body.name ?? null,
      body: body.body ?? null,
      draft: body.draft ?? false,
      prerelease: body.prerelease ?? false,
      created_at: now,
      published_at: body.draft ? null : now,
      target_commitish: body.target_commitish ?? 'main',
      ...(body.make_latest ? { make_latest: body.make_latest } : {}),
    };
    state.releases.push(release);
    return c.json(releaseJson(release), 201);
  });

  app.patch('/repos/:owner/:repo/releases/:id', async (c) => {
    const release = state.releases.find((r) => r.id === Number(c.req.param('id')));
    if (!release) return c.json({ message: 'Not Found', documentation_url: DOCS, status: '404' }, 404);
    const body = (await c.req.json()) as Partial<FakeRelease>;
    for (const key of ['tag_name', 'name', 'body', 'draft', 'prerelease', 'target_commitish', 'make_latest'] as const) {
      if (body[key] !== undefined) (release as unknown as Record<string, unknown>)[key] = body[key];
    }
    if (!release.draft && !release.published_at) release.published_at = new Date().toISOString();
    return c.json(releaseJson(release));
  });

  app.get('/repos/:owner/:repo/pulls', (c) => {
    const want = c.req.query('state') ?? 'open';
    const baseRef = c.req.query('base');
    const direction = c.req.query('direction') ?? (c.req.query('sort') === 'updated' ? 'desc' : 'desc');
    const list = state.pulls
      .filter((p) =>
        want === 'all' ? true : want === 'closed' ? Boolean(p.closed_at ?? p.merged_at) : !(p.closed_at ?? p.merged_at),
      )
      .filter((p) => !baseRef || (p.base ?? 'main') === baseRef)
      .map((p) => ({ ...p, updated_at: p.updated_at ?? p.merged_at ?? p.closed_at ?? '2024-01-01T00:00:00Z' }))
      .sort((a, b) => (direction === 'asc' ? 1 : -1) * a.updated_at.localeCompare(b.updated_at));
    return page(
      c,
      list.map((p) => ({
        url: `${base}/repos/${owner}/${repo}/pulls/${p.number}`,
        id: p.number * 10,
        node_id: `PR_${p.number}`,
        html_url: `https://github.com/${owner}/${repo}/pull/${p.number}`,
        number: p.number,
        state: p.closed_at || p.merged_at ? 'closed' : 'open',
        locked: false,
        title: p.title,
        user: p.user ? userJson(p.user, base) : null,
        body: p.body ?? null,
        labels: (p.labels ?? []).map((name, i) => ({
          id: i + 1,
          node_id: `LA_${name}`,
          url: `${base}/repos/${owner}/${repo}/labels/${encodeURIComponent(name)}`,
          name,
          color: 'ededed',
          default: false,
          description: null,
        })),
        created_at: '2024-01-01T00:00:00Z',
        updated_at: p.updated_at,
        closed_at: p.closed_at ?? p.merged_at,
        merged_at: p.merged_at,
        merge_commit_sha: p.merged_at ? `sha${p.number}` : null,
        draft: false,
        head: {
          label: `${owner}:${p.head ?? `branch-${p.number}`}`,
          ref: p.head ?? `branch-${p.number}`,
          sha: `head${p.number}`,
        },
        base: {
          label: `${owner}:${p.base ?? 'main'}`,
          ref: p.base ?? 'main',
          sha: 'base',
          repo: { full_name: `${owner}/${repo}` },
        },
        author_association: 'CONTRIBUTOR',
      })),
    );
  });

  app.get('/repos/:owner/:repo/commits', (c) => {
    const since = c.req.query('since');
    const list = state.commits.filter((k) => !since || k.date >= since).sort((a, b) => b.date.localeCompare(a.date));
    return page(
      c,
      list.map((k) => ({
        sha: k.sha,
        node_id: `C_${k.sha}`,
        url: `${base}/repos/${owner}/${repo}/commits/${k.sha}`,
        html_url: `https://github.com/${owner}/${repo}/commit/${k.sha}`,
        commit: {
          author: { name: k.authorName, email: `${k.authorName.replace(/\s/g, '.')}@example.com`, date: k.date },
          committer: { name: k.authorName, email: 'noreply@github.com', date: k.date },
          message: `commit ${k.sha}`,
        },
        author: k.author ? userJson(k.author, base) : null,
        committer: null,
        parents: [],
      })),
    );
  });

  app.notFound((c) => c.json({ message: 'Not Found', documentation_url: DOCS, status: '404' }, 404));

  const server = await new Promise<ReturnType<typeof serve>>((resolveServer) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolveServer(s));
  });
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    owner,
    repo,
    token,
    ...state,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
