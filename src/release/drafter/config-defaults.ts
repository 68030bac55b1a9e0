// Release Drafter's defaults, and which of its keys runway reads, accepts without acting on, or cannot honour.

import type { DrafterConfig } from './types.js';

/** Release Drafter's defaults for every key but `template` (which is required). */
export const DEFAULTS: Readonly<Omit<DrafterConfig, 'template'>> = {
  header: '',
  footer: '',
  nameTemplate: '',
  tagTemplate: '',
  tagPrefix: '',
  versionTemplate: '$MAJOR.$MINOR.$PATCH$PRERELEASE',
  changeTemplate: '* $TITLE (#$NUMBER) @$AUTHOR',
  changeTitleEscapes: '',
  noChangesTemplate: '* No changes',
  categoryTemplate: '## $TITLE',
  categories: [],
  excludeLabels: [],
  includeLabels: [],
  excludeContributors: [],
  noContributorsTemplate: 'No contributors',
  replacers: [],
  sortBy: 'merged_at',
  sortDirection: 'descending',
  prerelease: false,
  prereleaseIdentifier: '',
  includePreReleases: false,
  latest: 'true',
  versionResolver: {
    major: { labels: [], conventional: [] },
    minor: { labels: [], conventional: [] },
    patch: { labels: [], conventional: [] },
    default: 'patch',
  },
  filterByCommitish: false,
  commitish: '',
  initialCommitsSince: '',
};

/** Keys runway reads. */
export const USED_KEYS = [
  'template',
  'header',
  'footer',
  'name-template',
  'tag-template',
  'tag-prefix',
  'version-template',
  'change-template',
  'change-title-escapes',
  'no-changes-template',
  'category-template',
  'categories',
  'exclude-labels',
  'include-labels',
  'exclude-contributors',
  'no-contributors-template',
  'replacers',
  'sort-by',
  'sort-direction',
  'prerelease',
  'prerelease-identifier',
  'include-pre-releases',
  'latest',
  'version-resolver',
  'filter-by-commitish',
  'commitish',
  'initial-commits-since',
  '_extends',
];
/** Release Drafter keys for its GitHub App or its commit walk: valid, with no effect on the draft here. */
export const INERT_KEYS = ['references', 'branches', 'autolabeler', 'pull-request-limit', 'history-limit'];
/** Release Drafter keys runway cannot honour without the files each pull request changed. */
export const UNSUPPORTED_KEYS = ['include-paths', 'exclude-paths'];
