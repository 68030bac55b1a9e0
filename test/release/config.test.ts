// release-drafter.yml loading: YAML errors with lines, unknown keys warned about by name, missing
// or mistyped keys, Release Drafter's defaults, local `_extends`.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DrafterConfigError, loadDrafterConfig, parseDrafterConfig } from '../../src/release/drafter/config.js';

function problemText(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DrafterConfigError, `expected DrafterConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected an error');
}

describe('release-drafter.yml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runway-rd-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("applies Release Drafter's defaults", () => {
    const { config, warnings } = parseDrafterConfig('template: "$CHANGES"\n');
    assert.deepEqual(warnings, []);
    assert.equal(config.changeTemplate, '* $TITLE (#$NUMBER) @$AUTHOR');
    assert.equal(config.noChangesTemplate, '* No changes');
    assert.equal(config.categoryTemplate, '## $TITLE');
    assert.equal(config.versionTemplate, '$MAJOR.$MINOR.$PATCH$PRERELEASE');
    assert.equal(config.noContributorsTemplate, 'No contributors');
    assert.equal(config.sortBy, 'merged_at');
    assert.equal(config.sortDirection, 'descending');
    assert.equal(config.versionResolver.default, 'patch');
    assert.equal(config.tagPrefix, '');
  });

  it('reports invalid YAML with its line', () => {
    const text = problemText(() =>
      parseDrafterConfig('template: "$CHANGES"\ncategories:\n  - title: [unclosed\n', 'rd.yml'),
    );
    assert.match(text, /^rd\.yml:\d+: invalid YAML/);
    assert.match(text, /rd\.yml:(3|4):/);
  });

  it('reports duplicate keys with their line', () => {
    assert.match(
      problemText(() => parseDrafterConfig('template: a\ntemplate: b\n', 'rd.yml')),
      /rd\.yml:2: invalid YAML: Map keys must be unique/,
    );
  });

  it('requires a template', () => {
    assert.match(
      problemText(() => parseDrafterConfig('name-template: v1\n', 'rd.yml')),
      /rd\.yml: template: is required/,
    );
  });

  it('says an empty file needs a template', () => {
    assert.match(
      problemText(() => parseDrafterConfig('', 'rd.yml')),
      /rd\.yml: is empty; it needs at least `template`/,
    );
  });

  it('names unknown keys, with their lines, as warnings', () => {
    const { warnings } = parseDrafterConfig(
      'template: x\ntemplat: y\ncategories:\n  - title: A\n    lables: [a]\nversion-resolver:\n  majr: {labels: [x]}\n',
      'rd.yml',
    );
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]!, /^rd\.yml:2: templat: unknown key, ignored/);
    assert.match(warnings[1]!, /^rd\.yml:5: categories\[0\]\.lables: unknown key/);
    assert.match(warnings[2]!, /^rd\.yml:7: version-resolver\.majr: unknown key/);
  });

  it('accepts GitHub App keys without effect, and warns about path filters it cannot honour', () => {
    const { warnings } = parseDrafterConfig(
      'template: x\nreferences: [main]\nautolabeler: []\nhistory-limit: 15\ninclude-paths: [src]\n',
      'rd.yml',
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /rd\.yml:5: include-paths: not supported by runway/);
  });

  it('reports mistyped values with file, line and key', () => {
    const text = problemText(() =>
      parseDrafterConfig(
        'template: x\nsort-by: date\ncategories:\n  - labels: [a]\n  - title: B\n    collapse-after: -1\nprerelease: maybe\nchange-template: ""\n',
        'rd.yml',
      ),
    );
    assert.match(text, /rd\.yml:2: sort-by: must be one of "merged_at", "title" \(got string "date"\)/);
    assert.match(text, /rd\.yml:4: categories\[0\]\.title: is required/);
    assert.match(text, /rd\.yml:6: categories\[1\]\.collapse-after: must be an integer >= 0/);
    assert.match(text, /rd\.yml:7: prerelease: must be true or false/);
    assert.match(text, /rd\.yml:8: change-template: must not be empty/);
  });

  it('allows one category without labels (for the uncategorized), not two', () => {
    assert.doesNotThrow(() =>
      parseDrafterConfig('template: x\ncategories:\n  - title: A\n  - title: B\n    labels: [b]\n'),
    );
    assert.match(
      problemText(() => parseDrafterConfig('template: x\ncategories:\n  - title: A\n  - title: B\n')),
      /Multiple categories detected with no labels/,
    );
  });

  it('drops a replacer whose regular expression does not compile, with a warning', () => {
    const { config, warnings } = parseDrafterConfig(
      'template: x\nreplacers:\n  - search: "/(unclosed/g"\n    replace: y\n  - search: a\n    replace: b\n',
      'rd.yml',
    );
    assert.equal(config.replacers.length, 1);
    assert.match(warnings[0]!, /rd\.yml:3: replacers\[0\]\.search: bad regular expression/);
  });

  it('requires replacers to have search and replace', () => {
    assert.match(
      problemText(() => parseDrafterConfig('template: x\nreplacers:\n  - replace: b\n')),
      /"search" is required and must be a regexp or a string/,
    );
  });

  it('reads conventional conditions (runway extension)', () => {
    const { config } = parseDrafterConfig(
      'template: x\ncategories:\n  - title: F\n    when:\n      - conventional: {type: feat, scope: api, breaking: false}\n      - label: enhancement\nversion-resolver:\n  major:\n    conventional: true\n',
    );
    assert.deepEqual(config.categories[0]!.when, [
      { labels: [], conventional: { types: ['feat'], scopes: ['api'], breaking: false } },
      { labels: ['enhancement'] },
    ]);
    assert.deepEqual(config.versionResolver.major.conventional, [{ types: [], scopes: [] }]);
  });

  it('extends a local file; the extending file wins key by key', () => {
    writeFileSync(
      join(dir, 'base.yml'),
      'template: "base $CHANGES"\nname-template: "v$RESOLVED_VERSION"\nexclude-labels: [skip]\n',
    );
    writeFileSync(join(dir, 'rd.yml'), '_extends: ./base.yml\ntemplate: "mine $CHANGES"\n');
    const { config, files } = loadDrafterConfig(join(dir, 'rd.yml'));
    assert.equal(config.template, 'mine $CHANGES');
    assert.equal(config.nameTemplate, 'v$RESOLVED_VERSION');
    assert.deepEqual(config.excludeLabels, ['skip']);
    assert.deepEqual(files, [join(dir, 'base.yml'), join(dir, 'rd.yml')]);
  });

  it('says extending another repository is not supported', () => {
    writeFileSync(join(dir, 'remote.yml'), '_extends: .github\ntemplate: x\n');
    assert.match(
      problemText(() => loadDrafterConfig(join(dir, 'remote.yml'))),
      /remote\.yml:1: _extends: ".github" names another repository; runway only extends local files/,
    );
  });

  it('names a missing config file', () => {
    assert.match(
      problemText(() => loadDrafterConfig(join(dir, 'nope.yml'))),
      /nope\.yml: no such file/,
    );
  });

  it('reports errors in an extended file against that file', () => {
    writeFileSync(join(dir, 'bad-base.yml'), 'template: x\nsort-direction: sideways\n');
    writeFileSync(join(dir, 'child.yml'), '_extends: ./bad-base.yml\n');
    assert.match(
      problemText(() => loadDrafterConfig(join(dir, 'child.yml'))),
      /bad-base\.yml:2: sort-direction: must be one of/,
    );
  });
});
