// Table of drafts, written from Release Drafter's documented behaviour (README: configuration
// options, template variables, categories, exclude/include labels, contributors, replacers, version
// resolver, prerelease workflow, projects without semver). Each case: a config, pull requests and
// releases → the expected name, tag, body, version and prerelease flag, whitespace included.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDrafterConfig } from '../../src/release/drafter/config.js';
import { draftRelease } from '../../src/release/drafter/draft.js';
import type {
  CommitRecord,
  Draft,
  DraftOverrides,
  PullRequest,
  ReleaseRecord,
} from '../../src/release/drafter/types.js';
import { at, pr, rel } from './fixtures.js';

interface Case {
  name: string;
  config: string;
  prs?: PullRequest[];
  releases?: ReleaseRecord[];
  commits?: CommitRecord[];
  repository?: string;
  overrides?: DraftOverrides;
  expect: Partial<Draft>;
}

const T = 'template: "$CHANGES"\n';
const three = () => [
  pr(1, 'First', { login: 'ada', mergedAt: at(1) }),
  pr(2, 'Second', { login: 'bob', mergedAt: at(2) }),
  pr(3, 'Third', { login: 'cy', mergedAt: at(3) }),
];

const CASES: Case[] = [
  // --- template, change-template, no-changes-template, header/footer -----------------------
  { name: 'no pull requests: the default no-changes-template', config: T, expect: { body: '* No changes' } },
  {
    name: 'custom no-changes-template',
    config: T + 'no-changes-template: "Nothing to see"\n',
    expect: { body: 'Nothing to see' },
  },
  {
    name: 'default change-template, newest merge first',
    config: T,
    prs: three(),
    expect: { body: '* Third (#3) @cy\n* Second (#2) @bob\n* First (#1) @ada' },
  },
  {
    name: 'a block template keeps its text and trailing newline',
    config: "template: |\n  ## What's Changed\n\n  $CHANGES\n",
    prs: [pr(7, 'Add thing', { login: 'ada' })],
    expect: { body: "## What's Changed\n\n* Add thing (#7) @ada\n" },
  },
  {
    name: 'header and footer are glued to the template as written',
    config: 'header: "Top\\n"\nfooter: "\\nBottom"\ntemplate: "Changes: $CHANGES"\n',
    prs: [pr(1, 'One', { login: 'ada' })],
    expect: { body: 'Top\nChanges: * One (#1) @ada\nBottom' },
  },
  {
    name: 'header and footer see the template variables',
    config: 'header: "$PREVIOUS_TAG→"\nfooter: "←$RESOLVED_VERSION"\ntemplate: "$CHANGES"\n',
    prs: [pr(1, 'One', { login: 'ada' })],
    releases: [rel('v1.0.0')],
    expect: { body: 'v1.0.0→* One (#1) @ada←1.0.1' },
  },
  {
    name: 'change-template variables: body, URL, refs',
    config:
      T + 'change-template: "- $TITLE [$NUMBER]($URL) by $AUTHOR from $HEAD_REF_NAME into $BASE_REF_NAME: $BODY"\n',
    prs: [
      pr(5, 'Fix it', {
        login: 'ada',
        body: 'Details',
        url: 'https://github.com/o/r/pull/5',
        headRefName: 'fix-it',
        baseRefName: 'main',
      }),
    ],
    expect: { body: '- Fix it [5](https://github.com/o/r/pull/5) by ada from fix-it into main: Details' },
  },
  {
    name: 'change-template variables that a pull request lacks stay verbatim',
    config: T + 'change-template: "- $TITLE $BODY $URL"\n',
    prs: [pr(5, 'Fix it')],
    expect: { body: '- Fix it $BODY $URL' },
  },
  {
    name: 'a bot author is a link to its app; a deleted author is ghost',
    config: T,
    prs: [
      pr(1, 'Bump x', {
        author: { login: 'dependabot', type: 'Bot', url: 'https://github.com/apps/dependabot' },
        mergedAt: at(2),
      }),
      pr(2, 'Old work', { author: null, mergedAt: at(1) }),
    ],
    expect: { body: '* Bump x (#1) @[dependabot[bot]](https://github.com/apps/dependabot)\n* Old work (#2) @ghost' },
  },
  {
    name: 'unknown tokens are left as written',
    config: 'template: "$CHANGES $UNKNOWN $lower $NEXT_PATCH_VERSIONS"\n',
    releases: [rel('v1.0.0')],
    expect: { body: '* No changes $UNKNOWN $lower $NEXT_PATCH_VERSIONS' },
  },
  {
    name: '$OWNER and $REPOSITORY',
    config: 'template: "$OWNER/$REPOSITORY"\n',
    repository: 'octo/widgets',
    expect: { body: 'octo/widgets' },
  },

  // --- sorting ------------------------------------------------------------------------------
  {
    name: 'sort-direction ascending',
    config: T + 'sort-direction: ascending\n',
    prs: three(),
    expect: { body: '* First (#1) @ada\n* Second (#2) @bob\n* Third (#3) @cy' },
  },
  {
    name: 'sort-by title (descending by default; plain string order)',
    config: T + 'sort-by: title\n',
    prs: [
      pr(1, 'banana', { mergedAt: at(1) }),
      pr(2, 'Apple', { mergedAt: at(2) }),
      pr(3, 'cherry', { mergedAt: at(3) }),
    ],
    expect: { body: '* cherry (#3) @ada\n* banana (#1) @ada\n* Apple (#2) @ada' },
  },
  {
    name: 'sort-by title ascending',
    config: T + 'sort-by: title\nsort-direction: ascending\n',
    prs: [pr(1, 'banana', { mergedAt: at(1) }), pr(2, 'Apple', { mergedAt: at(2) })],
    expect: { body: '* Apple (#2) @ada\n* banana (#1) @ada' },
  },

  // --- change-title-escapes -------------------------------------------------------------------
  {
    name: 'escapes: listed characters get a backslash',
    config: T + "change-title-escapes: '\\<*_&'\n",
    prs: [pr(1, 'Use <b> *bold* snake_case & more', { login: 'ada' })],
    expect: { body: '* Use \\<b> \\*bold\\* snake\\_case \\& more (#1) @ada' },
  },
  {
    name: 'escapes: @ and # get an empty HTML comment instead',
    config: T + "change-title-escapes: '@#'\n",
    prs: [pr(1, 'Thanks @octocat for #12', { login: 'ada' })],
    expect: { body: '* Thanks @<!---->octocat for #<!---->12 (#1) @ada' },
  },
  {
    name: 'escapes: a backtick span is left alone',
    config: T + "change-title-escapes: '_*'\n",
    prs: [pr(1, 'Rename `snake_case*` to camel_case', { login: 'ada' })],
    expect: { body: '* Rename `snake_case*` to camel\\_case (#1) @ada' },
  },
  {
    name: 'escapes: a listed backtick is escaped, and so is what it enclosed',
    config: T + "change-title-escapes: '_`'\n",
    prs: [pr(1, 'Rename `snake_case`', { login: 'ada' })],
    expect: { body: '* Rename \\`snake\\_case\\` (#1) @ada' },
  },
  {
    name: 'escapes: an unclosed backtick is plain text',
    config: T + "change-title-escapes: '_'\n",
    prs: [pr(1, 'Odd ` a_b', { login: 'ada' })],
    expect: { body: '* Odd ` a\\_b (#1) @ada' },
  },
  {
    name: 'no escapes by default',
    config: T,
    prs: [pr(1, 'Use *stars* & @mentions #1', { login: 'ada' })],
    expect: { body: '* Use *stars* & @mentions #1 (#1) @ada' },
  },

  // --- categories -------------------------------------------------------------------------------
  {
    name: 'categories: uncategorized first, then each category in config order',
    config: T + 'categories:\n  - title: Features\n    labels: [feature]\n  - title: Bugs\n    label: bug\n',
    prs: [
      pr(1, 'Feat A', { labels: ['feature'], mergedAt: at(1) }),
      pr(2, 'Bug B', { labels: ['bug'], mergedAt: at(2) }),
      pr(3, 'Other C', { labels: ['docs'], mergedAt: at(3) }),
      pr(4, 'Plain D', { mergedAt: at(4) }),
    ],
    expect: {
      body: '* Plain D (#4) @ada\n* Other C (#3) @ada\n\n## Features\n\n* Feat A (#1) @ada\n\n## Bugs\n\n* Bug B (#2) @ada',
    },
  },
  {
    name: 'categories: a pull request with labels of several categories is in each',
    config: T + 'categories:\n  - title: Features\n    labels: [feature]\n  - title: Bugs\n    labels: [bug]\n',
    prs: [pr(1, 'Both', { labels: ['bug', 'feature'] })],
    expect: { body: '## Features\n\n* Both (#1) @ada\n\n## Bugs\n\n* Both (#1) @ada' },
  },
  {
    name: 'categories: empty categories are skipped',
    config:
      T +
      'categories:\n  - title: Features\n    labels: [feature]\n  - title: Bugs\n    labels: [bug]\n  - title: Docs\n    labels: [docs]\n',
    prs: [pr(1, 'Doc', { labels: ['docs'] })],
    expect: { body: '## Docs\n\n* Doc (#1) @ada' },
  },
  {
    name: 'categories: a category without labels collects the uncategorized, where it stands',
    config:
      T +
      'categories:\n  - title: Features\n    labels: [feature]\n  - title: Other\n  - title: Bugs\n    labels: [bug]\n',
    prs: [
      pr(1, 'Feat', { labels: ['feature'], mergedAt: at(1) }),
      pr(2, 'Misc', { labels: ['docs'], mergedAt: at(2) }),
      pr(3, 'Bug', { labels: ['bug'], mergedAt: at(3) }),
    ],
    expect: { body: '## Features\n\n* Feat (#1) @ada\n\n## Other\n\n* Misc (#2) @ada\n\n## Bugs\n\n* Bug (#3) @ada' },
  },
  {
    name: 'categories: label and labels; `label` wins when both are given',
    config: T + 'categories:\n  - title: Mixed\n    label: one\n    labels: [two]\n',
    prs: [
      pr(1, 'Has one', { labels: ['one'], mergedAt: at(2) }),
      pr(2, 'Has two', { labels: ['two'], mergedAt: at(1) }),
    ],
    expect: { body: '* Has two (#2) @ada\n\n## Mixed\n\n* Has one (#1) @ada' },
  },
  {
    name: 'category-template',
    config: T + 'category-template: "### $TITLE:"\ncategories:\n  - title: Fixes\n    labels: [bug]\n',
    prs: [pr(1, 'Fix', { labels: ['bug'] })],
    expect: { body: '### Fixes:\n\n* Fix (#1) @ada' },
  },
  {
    name: 'an empty category-template leaves only the separation (trimmed at the start)',
    config:
      T +
      "category-template: ''\ncategories:\n  - title: Fixes\n    labels: [bug]\n  - title: Feats\n    labels: [feat]\n",
    prs: [pr(1, 'Fix', { labels: ['bug'], mergedAt: at(1) }), pr(2, 'Feat', { labels: ['feat'], mergedAt: at(2) })],
    expect: { body: '* Fix (#1) @ada\n\n\n\n* Feat (#2) @ada' },
  },
  {
    name: 'collapse-after: more entries than the limit are folded into <details>',
    config:
      T +
      'categories:\n  - title: Deps\n    collapse-after: 2\n    labels: [dependencies]\n  - title: Bugs\n    labels: [bug]\n',
    prs: [
      pr(1, 'Bump a', { labels: ['dependencies'], mergedAt: at(1) }),
      pr(2, 'Bump b', { labels: ['dependencies'], mergedAt: at(2) }),
      pr(3, 'Bump c', { labels: ['dependencies'], mergedAt: at(3) }),
      pr(4, 'Bug', { labels: ['bug'], mergedAt: at(4) }),
    ],
    expect: {
      body: '## Deps\n\n<details>\n<summary>3 changes</summary>\n\n* Bump c (#3) @ada\n* Bump b (#2) @ada\n* Bump a (#1) @ada\n</details>\n\n## Bugs\n\n* Bug (#4) @ada',
    },
  },
  {
    name: 'collapse-after: at the limit, not folded',
    config: T + 'categories:\n  - title: Deps\n    collapse-after: 2\n    labels: [dependencies]\n',
    prs: [
      pr(1, 'Bump a', { labels: ['dependencies'], mergedAt: at(1) }),
      pr(2, 'Bump b', { labels: ['dependencies'], mergedAt: at(2) }),
    ],
    expect: { body: '## Deps\n\n* Bump b (#2) @ada\n* Bump a (#1) @ada' },
  },
  {
    name: 'collapse-after: 0 (the default) never folds',
    config: T + 'categories:\n  - title: Deps\n    collapse-after: 0\n    labels: [dependencies]\n',
    prs: [
      pr(1, 'Bump a', { labels: ['dependencies'], mergedAt: at(1) }),
      pr(2, 'Bump b', { labels: ['dependencies'], mergedAt: at(2) }),
    ],
    expect: { body: '## Deps\n\n* Bump b (#2) @ada\n* Bump a (#1) @ada' },
  },
  {
    name: 'collapse-after: the last category ends with </details>',
    config: T + 'categories:\n  - title: Deps\n    collapse-after: 1\n    labels: [dependencies]\n',
    prs: [
      pr(1, 'Bump a', { labels: ['dependencies'], mergedAt: at(1) }),
      pr(2, 'Bump b', { labels: ['dependencies'], mergedAt: at(2) }),
    ],
    expect: {
      body: '## Deps\n\n<details>\n<summary>2 changes</summary>\n\n* Bump b (#2) @ada\n* Bump a (#1) @ada\n</details>',
    },
  },

  // --- exclude-labels / include-labels ---------------------------------------------------------
  {
    name: 'exclude-labels drops pull requests',
    config: T + 'exclude-labels: [skip-changelog]\n',
    prs: [
      pr(1, 'Keep', { mergedAt: at(1) }),
      pr(2, 'Skip', { labels: ['skip-changelog', 'feature'], mergedAt: at(2) }),
    ],
    expect: { body: '* Keep (#1) @ada' },
  },
  {
    name: 'include-labels keeps only pull requests with one of them',
    config: T + 'include-labels: [app-foo]\n',
    prs: [
      pr(1, 'Foo', { labels: ['app-foo'], mergedAt: at(1) }),
      pr(2, 'Bar', { labels: ['app-bar'], mergedAt: at(2) }),
      pr(3, 'None', { mergedAt: at(3) }),
    ],
    expect: { body: '* Foo (#1) @ada' },
  },
  {
    name: 'exclusion wins over inclusion',
    config: T + 'include-labels: [app-foo]\nexclude-labels: [skip]\n',
    prs: [
      pr(1, 'Foo', { labels: ['app-foo', 'skip'], mergedAt: at(1) }),
      pr(2, 'Foo2', { labels: ['app-foo'], mergedAt: at(2) }),
    ],
    expect: { body: '* Foo2 (#2) @ada' },
  },
  {
    name: 'when every pull request is excluded, $CHANGES is empty (not the no-changes-template)',
    config: 'template: "[$CHANGES]"\nexclude-labels: [skip]\n',
    prs: [pr(1, 'Skip', { labels: ['skip'] })],
    expect: { body: '[]' },
  },

  // --- contributors -------------------------------------------------------------------------
  {
    name: '$CONTRIBUTORS: sorted, deduplicated, "a, b and c"',
    config: 'template: "$CONTRIBUTORS"\n',
    prs: [
      pr(1, 'x', { login: 'zed' }),
      pr(2, 'y', { login: 'ada' }),
      pr(3, 'z', { login: 'bob' }),
      pr(4, 'w', { login: 'ada' }),
    ],
    expect: { body: '@ada, @bob and @zed' },
  },
  {
    name: '$CONTRIBUTORS: two',
    config: 'template: "$CONTRIBUTORS"\n',
    prs: [pr(1, 'x', { login: 'bob' }), pr(2, 'y', { login: 'ada' })],
    expect: { body: '@ada and @bob' },
  },
  {
    name: '$CONTRIBUTORS: one',
    config: 'template: "$CONTRIBUTORS"\n',
    prs: [pr(1, 'x', { login: 'bob' })],
    expect: { body: '@bob' },
  },
  {
    name: '$CONTRIBUTORS: none, default text',
    config: 'template: "$CONTRIBUTORS"\n',
    expect: { body: 'No contributors' },
  },
  {
    name: '$CONTRIBUTORS: no-contributors-template, and a deleted author counts for nobody',
    config: 'template: "$CONTRIBUTORS"\nno-contributors-template: "Just us"\n',
    prs: [pr(1, 'x', { author: null })],
    expect: { body: 'Just us' },
  },
  {
    name: '$CONTRIBUTORS: exclude-contributors',
    config: 'template: "$CONTRIBUTORS"\nexclude-contributors: [ada, bob]\n',
    prs: [pr(1, 'x', { login: 'bob' }), pr(2, 'y', { login: 'ada' }), pr(3, 'z', { login: 'cy' })],
    expect: { body: '@cy' },
  },
  {
    name: '$CONTRIBUTORS: bots as links, plain string order (capitals first)',
    config: 'template: "$CONTRIBUTORS"\n',
    prs: [
      pr(1, 'x', { author: { login: 'renovate', type: 'Bot', url: 'https://github.com/apps/renovate' } }),
      pr(2, 'y', { login: 'ada' }),
      pr(3, 'z', { login: 'Zed' }),
    ],
    expect: { body: '@Zed, @ada and [renovate[bot]](https://github.com/apps/renovate)' },
  },
  {
    name: '$CONTRIBUTORS: commit authors too (by name when they have no account)',
    config: 'template: "$CONTRIBUTORS"\nexclude-contributors: [bot-account]\n',
    prs: [pr(1, 'x', { login: 'ada' })],
    commits: [
      { author: { name: 'Grace Hopper', user: null } },
      { author: { name: 'Ada', user: { login: 'ada' } } },
      { author: { name: 'Bob', user: { login: 'bob' } } },
      { author: { name: 'CI', user: { login: 'bot-account' } } },
    ],
    expect: { body: '@ada, @bob and Grace Hopper' },
  },
  {
    name: 'contributors include pull requests that exclude-labels drops from $CHANGES',
    config: 'template: "$CHANGES / $CONTRIBUTORS"\nexclude-labels: [skip]\n',
    prs: [
      pr(1, 'x', { login: 'ada', labels: ['skip'], mergedAt: at(1) }),
      pr(2, 'y', { login: 'bob', mergedAt: at(2) }),
    ],
    expect: { body: '* y (#2) @bob / @ada and @bob' },
  },

  // --- replacers ---------------------------------------------------------------------------
  {
    name: 'replacers: regular expressions with groups, then literal text everywhere, in order',
    config:
      'template: "$CHANGES"\nreplacers:\n' +
      "  - search: '/CVE-(\\d{4})-(\\d+)/g'\n    replace: 'https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-$1-$2'\n" +
      "  - search: 'myname'\n    replace: 'My Name'\n",
    prs: [pr(1, 'Fix CVE-2024-1234 by myname, thanks myname', { login: 'ada' })],
    expect: {
      body: '* Fix https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2024-1234 by My Name, thanks My Name (#1) @ada',
    },
  },
  {
    name: 'replacers: without the g flag only the first match is replaced',
    config: 'template: "a a a"\nreplacers:\n  - search: "/a/"\n    replace: b\n',
    expect: { body: 'b a a' },
  },
  {
    name: 'replacers: flags such as i work',
    config: 'template: "Foo foo"\nreplacers:\n  - search: "/foo/gi"\n    replace: bar\n',
    expect: { body: 'bar bar' },
  },
  {
    name: 'replacers run before the version variables are filled in, and not on name or tag',
    config:
      'name-template: "v$RESOLVED_VERSION"\ntemplate: "v$RESOLVED_VERSION 1.0.1"\nreplacers:\n  - search: "1.0.1"\n    replace: X\n',
    releases: [rel('v1.0.0')],
    expect: { body: 'v1.0.1 X', name: 'v1.0.1' },
  },

  // --- versions ----------------------------------------------------------------------------
  {
    name: 'next versions from the last release',
    config:
      'name-template: "v$NEXT_PATCH_VERSION"\ntag-template: "v$NEXT_MINOR_VERSION"\n' +
      'template: "$NEXT_MAJOR_VERSION $NEXT_MINOR_VERSION $NEXT_PATCH_VERSION $RESOLVED_VERSION $PREVIOUS_TAG"\n',
    releases: [rel('v1.2.3')],
    expect: {
      name: 'v1.2.4',
      tag: 'v1.3.0',
      body: '2.0.0 1.3.0 1.2.4 1.2.4 v1.2.3',
      version: '1.2.4',
      prerelease: false,
    },
  },
  {
    name: 'version component helpers',
    config:
      'template: "$NEXT_MAJOR_VERSION_MAJOR.$NEXT_MAJOR_VERSION_MINOR.$NEXT_MAJOR_VERSION_PATCH ' +
      '$NEXT_MINOR_VERSION_MAJOR.$NEXT_MINOR_VERSION_MINOR.$NEXT_MINOR_VERSION_PATCH ' +
      '$NEXT_PATCH_VERSION_MAJOR.$NEXT_PATCH_VERSION_MINOR.$NEXT_PATCH_VERSION_PATCH"\n',
    releases: [rel('v1.2.3')],
    expect: { body: '2.0.0 1.3.0 1.2.4' },
  },
  {
    name: 'the last release is the highest version, not the newest',
    config: 'template: "$PREVIOUS_TAG $NEXT_PATCH_VERSION"\n',
    releases: [
      rel('v1.10.0', { created_at: '2024-01-01T00:00:00Z' }),
      rel('v1.9.5', { created_at: '2024-02-01T00:00:00Z' }),
      rel('v1.2.0'),
    ],
    expect: { body: 'v1.10.0 1.10.1' },
  },
  {
    name: 'drafts and (when not drafting a prerelease) prereleases are not the last release',
    config: 'template: "$PREVIOUS_TAG"\n',
    releases: [rel('v1.0.0'), rel('v2.0.0', { draft: true }), rel('v1.1.0-rc.1', { prerelease: true })],
    expect: { body: 'v1.0.0', version: '1.0.1' },
  },
  {
    name: 'include-pre-releases counts published prereleases as the last release',
    config: 'template: "$PREVIOUS_TAG"\ninclude-pre-releases: true\n',
    releases: [rel('v1.0.0'), rel('v1.1.0-rc.1', { prerelease: true })],
    expect: { body: 'v1.1.0-rc.1', version: '1.1.0', prerelease: false },
  },
  {
    name: 'no previous release: 0.1.0, with the next versions counted from it',
    config:
      'name-template: "v$RESOLVED_VERSION"\ntag-template: "v$RESOLVED_VERSION"\ntemplate: "[$PREVIOUS_TAG] $NEXT_MAJOR_VERSION $NEXT_MINOR_VERSION $NEXT_PATCH_VERSION"\n',
    expect: { name: 'v0.1.0', tag: 'v0.1.0', body: '[] 1.0.0 0.2.0 0.1.1', version: '0.1.0' },
  },
  {
    name: 'no previous release and version-template $MAJOR.$MINOR.$PATCH: fixed first-release values',
    config:
      'version-template: "$MAJOR.$MINOR.$PATCH"\ntemplate: "$NEXT_MAJOR_VERSION $NEXT_MINOR_VERSION $NEXT_PATCH_VERSION $RESOLVED_VERSION"\n',
    expect: { body: '1.0.0 0.1.0 0.1.0 0.1.0', version: '0.1.0' },
  },
  {
    name: 'empty name-template and tag-template give an empty name and tag',
    config: T,
    releases: [rel('v1.0.0')],
    expect: { name: '', tag: '', version: '1.0.1' },
  },
  {
    name: 'version-template for projects without patch numbers',
    config:
      'version-template: "$MAJOR.$MINOR"\nname-template: "$NEXT_MINOR_VERSION"\ntemplate: "$NEXT_MAJOR_VERSION $NEXT_MINOR_VERSION"\n',
    releases: [rel('1.0')],
    // The resolved version is a patch bump (1.0.1), which this template renders as 1.0.
    expect: { name: '1.1', body: '2.0 1.1', version: '1.0' },
  },
  {
    name: '$COMPLETE in version-template',
    config: 'version-template: "v$COMPLETE"\ntemplate: "$RESOLVED_VERSION"\n',
    releases: [rel('v1.0.0')],
    expect: { body: 'v1.0.1', version: 'v1.0.1' },
  },
  {
    name: 'tag-prefix: only tags with the prefix count, and it is stripped before reading the version',
    config: 'tag-prefix: app-v\ntag-template: "app-v$RESOLVED_VERSION"\ntemplate: "$PREVIOUS_TAG"\n',
    releases: [rel('app-v1.4.0'), rel('v9.0.0'), rel('lib-v3.0.0'), rel('app-v1.3.9')],
    expect: { tag: 'app-v1.4.1', body: 'app-v1.4.0', version: '1.4.1' },
  },
  {
    name: 'an unparsable tag falls back to the release name, coerced',
    config: 'template: "$PREVIOUS_TAG $RESOLVED_VERSION"\n',
    releases: [rel('stable', { name: 'Version 2.1' })],
    expect: { body: 'stable 2.1.1', version: '2.1.1' },
  },
  {
    name: 'a tag that only coerces (v3) is read as 3.0.0',
    config: 'template: "$NEXT_MINOR_VERSION"\n',
    releases: [rel('release-3')],
    expect: { body: '3.1.0' },
  },
  {
    name: 'a release whose version cannot be read: first-release versions, previous tag still named',
    config: 'template: "$PREVIOUS_TAG $RESOLVED_VERSION $NEXT_PATCH_VERSION"\n',
    releases: [rel('latest', { name: 'nightly' })],
    expect: { body: 'latest 0.1.0 0.1.1', version: '0.1.0' },
  },

  // --- version resolver --------------------------------------------------------------------
  {
    name: 'version-resolver: the highest label wins, one bump per release',
    config:
      'version-resolver:\n  major: {labels: [major]}\n  minor: {labels: [minor, feature]}\n  patch: {labels: [patch]}\n  default: patch\ntemplate: "$RESOLVED_VERSION"\n',
    prs: [pr(1, 'a', { labels: ['patch'] }), pr(2, 'b', { labels: ['feature'] }), pr(3, 'c', { labels: ['minor'] })],
    releases: [rel('v1.2.3')],
    expect: { body: '1.3.0', version: '1.3.0' },
  },
  {
    name: 'version-resolver: major',
    config:
      'version-resolver:\n  major:\n    labels: major\n  minor:\n    labels: [minor]\ntemplate: "$RESOLVED_VERSION"\n',
    prs: [pr(1, 'a', { labels: ['minor'] }), pr(2, 'b', { labels: ['major'] })],
    releases: [rel('v1.2.3')],
    expect: { version: '2.0.0' },
  },
  {
    name: 'version-resolver: the default applies when no label matches',
    config: 'version-resolver:\n  major: {labels: [major]}\n  default: minor\ntemplate: "$RESOLVED_VERSION"\n',
    prs: [pr(1, 'a', { labels: ['docs'] })],
    releases: [rel('v1.2.3')],
    expect: { version: '1.3.0' },
  },
  {
    name: 'version-resolver: labels of excluded pull requests do not count',
    config: 'exclude-labels: [skip]\nversion-resolver:\n  major: {labels: [major]}\ntemplate: "$RESOLVED_VERSION"\n',
    prs: [pr(1, 'a', { labels: ['major', 'skip'] })],
    releases: [rel('v1.2.3')],
    expect: { version: '1.2.4' },
  },
  {
    name: 'version-resolver: the version given at run time wins',
    config:
      'version-resolver:\n  major: {labels: [major]}\nname-template: "v$RESOLVED_VERSION"\ntag-template: "v$RESOLVED_VERSION"\ntemplate: "$RESOLVED_VERSION"\n',
    prs: [pr(1, 'a', { labels: ['major'] })],
    releases: [rel('v1.2.3')],
    overrides: { version: '5.0.0' },
    expect: { name: 'v5.0.0', tag: 'v5.0.0', body: '5.0.0', version: '5.0.0' },
  },
  {
    name: 'a tag given at run time is used as written and names the version',
    config: 'tag-template: "v$RESOLVED_VERSION"\ntemplate: "$RESOLVED_VERSION"\n',
    releases: [rel('v1.2.3')],
    overrides: { tag: 'v3.0.0' },
    expect: { tag: 'v3.0.0', body: '3.0.0', version: '3.0.0' },
  },

  // --- prereleases -------------------------------------------------------------------------
  {
    name: 'prerelease-identifier: first prerelease after a stable release',
    config:
      'prerelease-identifier: rc\nname-template: "v$RESOLVED_VERSION"\ntag-template: "v$RESOLVED_VERSION"\ntemplate: "$PREVIOUS_TAG"\n',
    releases: [rel('v3.5.0')],
    expect: { name: 'v3.5.1-rc.0', tag: 'v3.5.1-rc.0', body: 'v3.5.0', version: '3.5.1-rc.0', prerelease: true },
  },
  {
    name: 'prerelease-identifier: the next prerelease continues the series',
    config:
      'prerelease-identifier: rc\ntag-template: "v$RESOLVED_VERSION"\ntemplate: "$PREVIOUS_TAG"\nversion-resolver:\n  minor: {labels: [feature]}\n',
    prs: [pr(1, 'a', { labels: ['feature'] })],
    releases: [rel('v3.5.0'), rel('v3.5.1-rc.0', { prerelease: true }), rel('v3.5.1-rc.1', { prerelease: true })],
    expect: { tag: 'v3.5.1-rc.2', body: 'v3.5.1-rc.1', version: '3.5.1-rc.2', prerelease: true },
  },
  {
    name: 'prerelease-identifier: a minor bump starts a new prerelease series',
    config:
      'prerelease-identifier: beta\ntemplate: "$RESOLVED_VERSION"\nversion-resolver:\n  minor: {labels: [feature]}\n',
    prs: [pr(1, 'a', { labels: ['feature'] })],
    releases: [rel('v1.2.3')],
    expect: { version: '1.3.0-beta.0', prerelease: true },
  },
  {
    name: 'prerelease without identifier: a plain bump, flagged as prerelease, counting prereleases',
    config: 'prerelease: true\ntemplate: "$PREVIOUS_TAG $RESOLVED_VERSION"\n',
    releases: [rel('v1.0.0'), rel('v1.0.1-beta', { prerelease: true })],
    expect: { body: 'v1.0.1-beta 1.0.1', version: '1.0.1', prerelease: true },
  },
  {
    name: '$NEXT_PRERELEASE_VERSION is the prerelease part of the next prerelease',
    config: 'prerelease-identifier: rc\ntemplate: "$NEXT_PRERELEASE_VERSION"\n',
    releases: [rel('v1.2.3')],
    expect: { body: '-rc.0' },
  },
  {
    name: 'the stable draft ignores published prereleases, and prerelease is false',
    config: 'tag-template: "v$RESOLVED_VERSION"\ntemplate: "$PREVIOUS_TAG"\n',
    releases: [rel('v3.5.0'), rel('v3.5.1-rc.2', { prerelease: true })],
    expect: { tag: 'v3.5.1', body: 'v3.5.0', prerelease: false },
  },
  {
    name: 'the prerelease flag given at run time wins over the config',
    config: 'prerelease: true\ntemplate: "$CHANGES"\n',
    overrides: { prerelease: false },
    expect: { prerelease: false },
  },

  // --- runway extension: conventional-commit conditions ---------------------------------------
  {
    name: 'conventional: categories by conventional title, labels still work',
    config:
      T +
      'categories:\n  - title: Features\n    when:\n      conventional: {type: feat}\n  - title: Fixes\n    labels: [bug]\n    when:\n      - conventional: {types: [fix, perf]}\n',
    prs: [
      pr(1, 'feat(api): add endpoint', { mergedAt: at(1) }),
      pr(2, 'fix: crash', { mergedAt: at(2) }),
      pr(3, 'Repair thing', { labels: ['bug'], mergedAt: at(3) }),
      pr(4, 'chore: tidy', { mergedAt: at(4) }),
    ],
    expect: {
      body: '* chore: tidy (#4) @ada\n\n## Features\n\n* feat(api): add endpoint (#1) @ada\n\n## Fixes\n\n* Repair thing (#3) @ada\n* fix: crash (#2) @ada',
    },
  },
  {
    name: 'conventional: version resolver by type and breaking marker',
    config:
      'template: "$RESOLVED_VERSION"\nversion-resolver:\n  major:\n    conventional: {breaking: true}\n  minor:\n    labels: [feature]\n    conventional: {type: feat}\n',
    prs: [pr(1, 'feat: a'), pr(2, 'fix: b')],
    releases: [rel('v1.2.3')],
    expect: { version: '1.3.0' },
  },
  {
    name: 'conventional: a breaking change (! or BREAKING CHANGE footer) is major',
    config: 'template: "$RESOLVED_VERSION"\nversion-resolver:\n  major:\n    conventional: {breaking: true}\n',
    prs: [pr(1, 'fix: b', { body: 'Reason.\n\nBREAKING CHANGE: config key renamed' })],
    releases: [rel('v1.2.3')],
    expect: { version: '2.0.0' },
  },
];

describe('release draft: Release Drafter behaviour table', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const { config } = parseDrafterConfig(c.config);
      const draft = draftRelease(
        config,
        {
          pullRequests: c.prs ?? [],
          releases: c.releases ?? [],
          ...(c.commits ? { commits: c.commits } : {}),
          ...(c.repository ? { repository: c.repository } : {}),
        },
        c.overrides,
      );
      const got: Partial<Draft> = {};
      for (const key of Object.keys(c.expect) as (keyof Draft)[]) (got as Record<string, unknown>)[key] = draft[key];
      assert.deepEqual(got, c.expect);
    });
  }

  it('is pure: the same inputs give the same draft, and inputs are not changed', () => {
    const { config } = parseDrafterConfig('prerelease-identifier: rc\ntemplate: "$CHANGES"\n');
    const input = { pullRequests: three(), releases: [rel('v2.0.0'), rel('v1.0.0')] };
    const before = JSON.stringify(input);
    const a = draftRelease(config, input);
    const b = draftRelease(config, input);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(input), before);
  });

  it('lists each pull request number once', () => {
    const { config } = parseDrafterConfig(T);
    const one = pr(1, 'Once', { mergedAt: at(1) });
    const draft = draftRelease(config, { pullRequests: [one, { ...one }], releases: [] });
    assert.equal(draft.body, '* Once (#1) @ada');
  });

  it('picks an existing draft of the same kind to update', () => {
    const { config } = parseDrafterConfig(T);
    const releases = [
      rel('v2.0.0-rc.0', { draft: true, prerelease: true, id: 1 }),
      rel('v1.1.0', { draft: true, id: 2 }),
      rel('v1.0.0'),
    ];
    assert.equal(draftRelease(config, { pullRequests: [], releases }).existingDraft?.id, 2);
    assert.equal(draftRelease(config, { pullRequests: [], releases }, { prerelease: true }).existingDraft?.id, 1);
  });
});
