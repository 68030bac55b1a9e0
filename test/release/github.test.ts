// The GitHub source over real HTTP (@octokit/rest against a local server with GitHub's response
// shapes), and `runway release draft|publish` with it.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { GitHubSource } from '../../src/release/sources/github.js';
import { openStore } from '../../src/store/open-store.js';
import { smallConfig } from '../cli/helpers.js';
import { startFakeGitHub, type FakeGitHub } from './github-server.js';
import { cli } from './helpers.js';

const CONFIG = `name-template: 'v$RESOLVED_VERSION'
tag-template: 'v$RESOLVED_VERSION'
categories:
  - title: Features
    labels: [feature]
version-resolver:
  minor:
    labels: [feature]
template: |
  $CHANGES

  Thanks to $CONTRIBUTORS
`;

describe('GitHub source', () => {
  let gh: FakeGitHub;
  let dir: string;
  before(async () => {
    gh = await startFakeGitHub();
  });
  after(async () => {
    await gh.close();
  });
  beforeEach(() => {
    gh.pulls.length = 0;
    gh.releases.length = 0;
    gh.commits.length = 0;
    gh.requests.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'runway-rd-gh-'));
    mkdirSync(join(dir, '.github'));
    writeFileSync(join(dir, '.github/release-drafter.yml'), CONFIG);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const source = () => new GitHubSource({ repository: `${gh.owner}/${gh.repo}`, token: gh.token, baseUrl: gh.url });
  const env = () => ({ GITHUB_TOKEN: gh.token, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: `${gh.owner}/${gh.repo}` });

  function seed() {
    gh.releases.push({
      id: 1,
      tag_name: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: false,
      prerelease: false,
      created_at: '2024-05-01T00:00:00Z',
      published_at: '2024-05-01T00:00:00Z',
      target_commitish: 'main',
    });
    gh.pulls.push(
      { number: 1, title: 'Old change', user: { login: 'ada' }, merged_at: '2024-04-01T00:00:00Z' },
      {
        number: 2,
        title: 'Add search',
        user: { login: 'ada' },
        labels: ['feature'],
        merged_at: '2024-05-02T00:00:00Z',
      },
      {
        number: 3,
        title: 'Bump lodash',
        user: { login: 'dependabot', type: 'Bot' },
        labels: ['dependencies'],
        merged_at: '2024-05-03T00:00:00Z',
      },
      {
        number: 4,
        title: 'Closed, not merged',
        user: { login: 'bob' },
        merged_at: null,
        closed_at: '2024-05-04T00:00:00Z',
      },
      { number: 5, title: 'Still open', user: { login: 'cy' }, merged_at: null },
    );
    gh.commits.push({ sha: 'c1', author: null, authorName: 'Grace Hopper', date: '2024-05-02T01:00:00Z' });
  }

  it('lists every release across pages', async () => {
    for (let i = 0; i < 150; i++) {
      gh.releases.push({
        id: i + 1,
        tag_name: `v0.${i}.0`,
        name: null,
        body: null,
        draft: false,
        prerelease: false,
        created_at: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
        published_at: null,
        target_commitish: 'main',
      });
    }
    const releases = await source().listReleases();
    assert.equal(releases.length, 150);
    assert.equal(releases[0]!.tag_name, 'v0.149.0');
    assert.equal(gh.requests.filter((r) => r.startsWith('GET /repos/octo/widgets/releases')).length, 2);
  });

  it('finds pull requests merged after a time, in GraphQL shape (bots without [bot])', async () => {
    seed();
    const prs = await source().mergedPullRequests({ since: '2024-05-01T00:00:00Z' });
    assert.deepEqual(
      prs.map((p) => [p.number, p.author?.login, p.author?.type, p.labels]),
      [
        [3, 'dependabot', 'Bot', ['dependencies']],
        [2, 'ada', 'User', ['feature']],
      ],
    );
    assert.equal(prs[1]!.url, 'https://github.com/octo/widgets/pull/2');
    assert.equal(prs[1]!.baseRefName, 'main');
  });

  it('says when the token is refused', async () => {
    const bad = new GitHubSource({ repository: 'octo/widgets', token: 'wrong', baseUrl: gh.url });
    await assert.rejects(bad.listReleases(), /Bad credentials/);
  });

  it('drafts from GitHub through the CLI', async () => {
    seed();
    const r = await cli(['release', 'draft', '--json'], dir, env());
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      name: 'v1.1.0',
      tag: 'v1.1.0',
      body:
        '* Bump lodash (#3) @[dependabot[bot]](https://github.com/apps/dependabot)\n\n## Features\n\n* Add search (#2) @ada\n\n' +
        'Thanks to @ada, Grace Hopper and [dependabot[bot]](https://github.com/apps/dependabot)\n',
      version: '1.1.0',
      prerelease: false,
    });
  });

  it('saves the draft on GitHub, then updates the same draft', async () => {
    seed();
    let r = await cli(['release', 'draft', '--save'], dir, env());
    assert.equal(r.code, 0, r.stderr);
    const drafts = gh.releases.filter((x) => x.draft);
    assert.equal(drafts.length, 1);
    assert.equal(drafts[0]!.tag_name, 'v1.1.0');
    gh.pulls.push({ number: 6, title: 'Another', user: { login: 'bob' }, merged_at: '2024-05-05T00:00:00Z' });
    r = await cli(['release', 'draft', '--save'], dir, env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(gh.releases.filter((x) => x.draft).length, 1);
    assert.match(drafts[0]!.body ?? '', /Another \(#6\) @bob/);
    assert.ok(gh.requests.some((q) => q.startsWith('PATCH /repos/octo/widgets/releases/')));
  });

  it('publishes on GitHub and in runway, and deploys to the release environments as the publisher', async () => {
    seed();
    writeFileSync(join(dir, 'runway.toml'), smallConfig());
    const r = await cli(['release', 'publish', '--as', 'grace', '--json'], dir, env());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tag, 'v1.1.0');
    assert.deepEqual(out.publishedTo, ['github', 'store']);
    assert.equal(out.publisher, 'grace');
    assert.deepEqual(
      out.deploys.map((d: { env: string; exitCode: number }) => [d.env, d.exitCode]),
      [['production', 0]],
    );
    const published = gh.releases.find((x) => x.tag_name === 'v1.1.0')!;
    assert.equal(published.draft, false);
    assert.equal(published.make_latest, 'true');

    const config = loadConfig(join(dir, 'runway.toml'));
    const store = await openStore(config.store.url, config.dir);
    try {
      const rel = await store.getRelease('shop', 'v1.1.0');
      assert.ok(rel, 'release recorded in the store');
      assert.match(rel.notes ?? '', /Add search \(#2\) @ada/);
      const deploys = await store.listDeploys({ env: 'production' });
      assert.equal(deploys.length, 1);
      assert.equal(deploys[0]?.responsible, 'grace');
      assert.equal(deploys[0]?.release, 'v1.1.0');
      assert.equal((await store.listDeploys({ env: 'staging' })).length, 0);
    } finally {
      await store.close();
    }
  });

  it('reports a bad token as an error, not a crash', async () => {
    const r = await cli(['release', 'draft'], dir, { ...env(), GITHUB_TOKEN: 'wrong' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /GitHub octo\/widgets: Bad credentials.*\(HTTP 401\)/);
  });

  it('reports an unknown repository', async () => {
    const r = await cli(['release', 'draft', '--repo', 'octo/nope'], dir, env());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Not Found/);
  });
});
