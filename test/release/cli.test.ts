// `runway release draft --config FILE --input FILE.json --json`: offline drafting (no runway.toml,
// store, git or network), and its bad-input messages.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from './helpers.js';

const CONFIG = `name-template: 'v$RESOLVED_VERSION 🌈'
tag-template: 'v$RESOLVED_VERSION'
categories:
  - title: '🚀 Features'
    labels: ['feature', 'enhancement']
  - title: '🐛 Bug Fixes'
    labels: ['fix', 'bugfix', 'bug']
  - title: '🧰 Maintenance'
    label: 'chore'
change-template: '- $TITLE @$AUTHOR (#$NUMBER)'
change-title-escapes: '\\<*_&'
version-resolver:
  major:
    labels: ['major']
  minor:
    labels: ['minor']
  patch:
    labels: ['patch']
  default: patch
template: |
  ## Changes

  $CHANGES
`;

const INPUT = {
  pullRequests: [
    {
      number: 10,
      title: 'Add *dark* mode',
      author: { login: 'ada', type: 'User' },
      labels: ['feature', 'minor'],
      mergedAt: '2024-05-03T00:00:00Z',
    },
    {
      number: 11,
      title: 'Fix crash',
      author: { login: 'bob', type: 'User' },
      labels: [{ name: 'bug' }],
      mergedAt: '2024-05-04T00:00:00Z',
      url: 'https://x/11',
    },
    {
      number: 12,
      title: 'Update deps',
      author: { login: 'renovate', type: 'Bot' },
      labels: ['chore'],
      mergedAt: '2024-05-02T00:00:00Z',
    },
  ],
  releases: [
    { tag_name: 'v2.3.1', name: 'v2.3.1 🌈', draft: false, prerelease: false, created_at: '2024-05-01T00:00:00Z' },
    { tag_name: 'v2.4.0-rc.1', name: 'rc', draft: false, prerelease: true, created_at: '2024-05-01T12:00:00Z' },
    { tag_name: 'v2.3.2', name: 'old draft', draft: true, prerelease: false },
  ],
};

describe('release draft, offline', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'runway-rd-cli-'));
    writeFileSync(join(dir, 'rd.yml'), CONFIG);
    writeFileSync(join(dir, 'in.json'), JSON.stringify(INPUT));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints {name, tag, body, version, prerelease} with no runway.toml or store', async () => {
    const r = await cli(['release', 'draft', '--config', 'rd.yml', '--input', 'in.json', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      name: 'v2.4.0 🌈',
      tag: 'v2.4.0',
      body: '## Changes\n\n## 🚀 Features\n\n- Add \\*dark\\* mode @ada (#10)\n\n## 🐛 Bug Fixes\n\n- Fix crash @bob (#11)\n\n## 🧰 Maintenance\n\n- Update deps @[renovate[bot]](https://github.com/apps/renovate) (#12)\n',
      version: '2.4.0',
      prerelease: false,
    });
  });

  it('prints a readable draft without --json', async () => {
    const r = await cli(['release', 'draft', '-c', 'rd.yml', '--input', 'in.json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^name: +v2\.4\.0 🌈\ntag: +v2\.4\.0\nversion: +2\.4\.0 \(minor after v2\.3\.1\)\nprerelease: +no\nchanges: +3 merged pull requests\n\n## Changes\n/,
    );
  });

  it('takes version, prerelease and include-pre-releases from flags', async () => {
    let r = await cli(
      ['release', 'draft', '--config', 'rd.yml', '--input', 'in.json', '--json', '--prerelease-identifier', 'rc'],
      dir,
    );
    assert.deepEqual([JSON.parse(r.stdout).tag, JSON.parse(r.stdout).prerelease], ['v2.4.0-rc.2', true]);
    r = await cli(
      ['release', 'draft', '--config', 'rd.yml', '--input', 'in.json', '--json', '--version', '3.0.0'],
      dir,
    );
    assert.equal(JSON.parse(r.stdout).tag, 'v3.0.0');
    r = await cli(
      ['release', 'draft', '--config', 'rd.yml', '--input', 'in.json', '--json', '--include-pre-releases'],
      dir,
    );
    assert.equal(JSON.parse(r.stdout).tag, 'v2.4.0');
  });

  it('says when there is no previous release', async () => {
    writeFileSync(join(dir, 'first.json'), JSON.stringify({ pullRequests: INPUT.pullRequests, releases: [] }));
    const r = await cli(['release', 'draft', '--config', 'rd.yml', '--input', 'first.json', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).version, '0.1.0');
    assert.match(r.stderr, /no previous published release found/);
  });

  it('bad input: invalid YAML with its line, exit 2', async () => {
    writeFileSync(join(dir, 'bad.yml'), 'template: |\n  x\ncategories: [\n');
    const r = await cli(['release', 'draft', '--config', 'bad.yml', '--input', 'in.json', '--json'], dir);
    assert.equal(r.code, 2);
    assert.match(JSON.parse(r.stdout).error, /bad\.yml:\d+: invalid YAML/);
  });

  it('bad input: a missing template, exit 2', async () => {
    writeFileSync(join(dir, 'notemplate.yml'), 'name-template: x\n');
    const r = await cli(['release', 'draft', '--config', 'notemplate.yml', '--input', 'in.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /notemplate\.yml: template: is required/);
  });

  it('warns about unknown keys by name and still drafts', async () => {
    writeFileSync(join(dir, 'unknown.yml'), 'template: "$CHANGES"\nchange-templte: x\n');
    const r = await cli(['release', 'draft', '--config', 'unknown.yml', '--input', 'in.json', '--json'], dir);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /warning: .*unknown\.yml:2: change-templte: unknown key, ignored/);
  });

  it('bad input: malformed input JSON names the field', async () => {
    writeFileSync(join(dir, 'broken.json'), '{"pullRequests": [');
    let r = await cli(['release', 'draft', '--config', 'rd.yml', '--input', 'broken.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /broken\.json: invalid JSON/);
    writeFileSync(
      join(dir, 'wrong.json'),
      JSON.stringify({ pullRequests: [{ number: 'x', title: 't' }], releases: [] }),
    );
    r = await cli(['release', 'draft', '--config', 'rd.yml', '--input', 'wrong.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /wrong\.json: pullRequests\[0\]\.number: must be an integer/);
  });

  it('bad input: a missing config file or input file', async () => {
    let r = await cli(['release', 'draft', '--input', 'in.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\.github\/release-drafter\.yml: no such file/);
    r = await cli(['release', 'draft', '--config', 'rd.yml', '--input', 'nope.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.json: no such file/);
  });

  it('without input, GitHub or git, says which source to give', async () => {
    const r = await cli(['release', 'draft', '--config', 'rd.yml'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no source of pull requests: .* is not a git repository/);
  });

  it('publish without GitHub or runway.toml says there is nowhere to publish', async () => {
    const r = await cli(['release', 'publish', '--config', 'rd.yml', '--input', 'in.json'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nowhere to publish/);
  });
});
