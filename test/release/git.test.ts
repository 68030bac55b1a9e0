// The git source (merge commits, squash subjects, labels from conventional types, tags as
// releases), and `runway release draft|publish` without GitHub.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gitPullRequests, gitTags, labelsFromTitle } from '../../src/release/sources/git.js';
import { smallConfig } from '../cli/helpers.js';
import { cli } from './helpers.js';

function git(
  dir: string,
  args: string[],
  who = { name: 'Ada Lovelace', email: '12+ada@users.noreply.github.com' },
  date = '2024-05-01T10:00:00Z',
) {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: who.name,
      GIT_AUTHOR_EMAIL: who.email,
      GIT_COMMITTER_NAME: who.name,
      GIT_COMMITTER_EMAIL: who.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: dir,
    },
  });
}

const BOB = { name: 'Bob Builder', email: 'bob@example.com' };
const CY = { name: 'Cy', email: 'cy@example.com' };

/** main: v1.0.0, squash "feat: add search (#12)", merge of #13 (fix by Bob), a direct commit. */
function makeRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runway-rd-git-'));
  git(dir, ['init', '-q', '-b', 'main']);
  writeFileSync(join(dir, 'README'), 'one\n');
  git(dir, ['add', '.']);
  git(dir, ['commit', '-q', '-m', 'Initial commit'], undefined, '2024-04-01T10:00:00Z');
  git(dir, ['tag', 'v1.0.0']);
  writeFileSync(join(dir, 'search'), 'x\n');
  git(dir, ['add', '.']);
  git(dir, ['commit', '-q', '-m', 'feat: add search (#12)', '-m', 'Squashed body'], undefined, '2024-05-02T10:00:00Z');
  git(dir, ['checkout', '-q', '-b', 'fix-crash']);
  writeFileSync(join(dir, 'fix'), 'y\n');
  git(dir, ['add', '.']);
  git(dir, ['commit', '-q', '-m', 'fix the crash'], BOB, '2024-05-03T10:00:00Z');
  git(dir, ['checkout', '-q', 'main']);
  git(
    dir,
    [
      'merge',
      '-q',
      '--no-ff',
      'fix-crash',
      '-m',
      'Merge pull request #13 from octo/fix-crash',
      '-m',
      'fix!: crash on start',
    ],
    CY,
    '2024-05-04T10:00:00Z',
  );
  writeFileSync(join(dir, 'README'), 'two\n');
  git(dir, ['commit', '-q', '-am', 'tweak readme'], undefined, '2024-05-05T10:00:00Z');
  return dir;
}

describe('git source', () => {
  let dir: string;
  before(() => {
    dir = makeRepo();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('maps conventional types to labels', () => {
    assert.deepEqual(labelsFromTitle('feat(api): x'), ['feat', 'feature', 'enhancement', 'minor']);
    assert.deepEqual(labelsFromTitle('fix: x'), ['fix', 'bug', 'patch']);
    assert.deepEqual(labelsFromTitle('fix!: x'), ['fix', 'bug', 'breaking', 'major']);
    assert.deepEqual(labelsFromTitle('feat: x', 'BREAKING CHANGE: gone'), [
      'feat',
      'feature',
      'enhancement',
      'breaking',
      'major',
    ]);
    assert.deepEqual(labelsFromTitle('wip: x'), ['wip']);
    assert.deepEqual(labelsFromTitle('Plain title'), []);
  });

  it('finds merge commits and squash merges since a tag', () => {
    const prs = gitPullRequests(dir, { from: 'v1.0.0', repository: 'octo/widgets' });
    assert.deepEqual(
      prs.map((p) => ({
        number: p.number,
        title: p.title,
        login: p.author?.login,
        labels: p.labels,
        head: p.headRefName,
        base: p.baseRefName,
      })),
      [
        {
          number: 13,
          title: 'fix!: crash on start',
          login: 'Bob Builder',
          labels: ['fix', 'bug', 'breaking', 'major'],
          head: 'fix-crash',
          base: 'main',
        },
        {
          number: 12,
          title: 'feat: add search',
          login: 'ada',
          labels: ['feat', 'feature', 'enhancement', 'minor'],
          head: undefined,
          base: 'main',
        },
      ],
    );
    assert.equal(prs[0]!.mergedAt, '2024-05-04T10:00:00.000Z');
    assert.equal(prs[1]!.url, 'https://github.com/octo/widgets/pull/12');
    assert.equal(prs[1]!.body, 'Squashed body');
  });

  it('reads tags as releases', () => {
    assert.deepEqual(
      gitTags(dir).map((t) => [t.tag_name, t.draft, t.prerelease]),
      [['v1.0.0', false, false]],
    );
  });

  it('drafts from the git history', async () => {
    const work = makeRepo();
    try {
      mkdirSync(join(work, '.github'));
      writeFileSync(
        join(work, '.github/release-drafter.yml'),
        "tag-template: 'v$RESOLVED_VERSION'\ncategories:\n  - title: Features\n    label: feature\n  - title: Fixes\n    label: bug\nversion-resolver:\n  major: {labels: [major]}\n  minor: {labels: [minor]}\ntemplate: |\n  $CHANGES\n",
      );
      const r = await cli(['release', 'draft', '--json'], work);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), {
        name: '',
        tag: 'v2.0.0',
        body: '## Features\n\n* feat: add search (#12) @ada\n\n## Fixes\n\n* fix!: crash on start (#13) @Bob Builder\n',
        version: '2.0.0',
        prerelease: false,
      });

      // Without GitHub, publish records the release in runway's store and deploys it.
      writeFileSync(join(work, 'runway.toml'), smallConfig());
      const p = await cli(['release', 'publish', '--as', 'grace'], work);
      assert.equal(p.code, 0, p.stderr + p.stdout);
      assert.match(p.stdout, /published v2\.0\.0 to store by grace/);
      assert.match(p.stderr, /deploying to production as grace/);

      // The published release is the last one now: nothing new to draft.
      const again = await cli(['release', 'draft', '--json'], work);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).body, '* No changes\n');
      assert.equal(JSON.parse(again.stdout).tag, 'v2.0.1');

      // Publishing the same version twice is refused.
      const twice = await cli(['release', 'publish', '--version', '2.0.0', '--no-deploy'], work);
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /release v2\.0\.0 already exists/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
