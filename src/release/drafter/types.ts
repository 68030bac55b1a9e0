// The data the release drafter works on. Shapes follow what Release Drafter reads from GitHub (pull
// requests as GitHub's GraphQL API gives them, releases as its REST API gives them), so that the same
// inputs give the same draft. Sources (src/release/sources/) convert into these shapes.

export interface PullRequestAuthor {
  login: string;
  /** `Bot` for GitHub App bots (GraphQL `__typename`; REST `user.type`), otherwise `User`. */
  type?: string;
  /** Profile URL; bots are rendered as a link to it (default `https://github.com/apps/<login>`). */
  url?: string;
}

export interface PullRequest {
  number: number;
  title: string;
  /** null for a deleted account (rendered as `ghost`, left out of contributors). */
  author: PullRequestAuthor | null;
  labels: string[];
  /** ISO 8601 time the pull request was merged. */
  mergedAt: string;
  body?: string | null;
  url?: string;
  baseRefName?: string;
  headRefName?: string;
}

/** A release as GitHub's REST API lists it. */
export interface ReleaseRecord {
  tag_name: string;
  name: string | null;
  draft: boolean;
  prerelease: boolean;
  created_at?: string;
  /** Branch or commit the release points at (only read with `filter-by-commitish`). */
  target_commitish?: string;
  /** Set by sources that can update the release (the GitHub release id). */
  id?: number;
}

/** A commit of the release range; only its author is read (for `$CONTRIBUTORS`). */
export interface CommitRecord {
  author: { name: string | null; user: { login: string } | null };
}

export type SemverIncrement = 'major' | 'minor' | 'patch';

export interface ConventionalCondition {
  types: string[];
  scopes: string[];
  breaking?: boolean;
}

/** One `when` condition: every predicate given must hold (labels: any of them). */
export interface MatchCondition {
  labels: string[];
  /** `true` in YAML means "any conventional title": an empty condition. */
  conventional?: ConventionalCondition;
}

export interface Category {
  title: string;
  /** Never collapsed when 0 (Release Drafter's default); collapsed when it has more entries. */
  collapseAfter: number;
  labels: string[];
  /** runway extension: conditions (any of them) besides labels. */
  when: MatchCondition[];
}

export interface Replacer {
  search: RegExp;
  replace: string;
}

export interface VersionResolverRule {
  labels: string[];
  /** runway extension: conventional-commit conditions (any of them). */
  conventional: ConventionalCondition[];
}

export interface DrafterConfig {
  template: string;
  header: string;
  footer: string;
  nameTemplate: string;
  tagTemplate: string;
  tagPrefix: string;
  versionTemplate: string;
  changeTemplate: string;
  changeTitleEscapes: string;
  noChangesTemplate: string;
  categoryTemplate: string;
  categories: Category[];
  excludeLabels: string[];
  includeLabels: string[];
  excludeContributors: string[];
  noContributorsTemplate: string;
  replacers: Replacer[];
  sortBy: 'merged_at' | 'title';
  sortDirection: 'ascending' | 'descending';
  prerelease: boolean;
  prereleaseIdentifier: string;
  includePreReleases: boolean;
  latest: string;
  versionResolver: {
    major: VersionResolverRule;
    minor: VersionResolverRule;
    patch: VersionResolverRule;
    default: SemverIncrement;
  };
  filterByCommitish: boolean;
  commitish: string;
  /** ISO date: with no previous release, only changes merged since then (sources read it). */
  initialCommitsSince: string;
}

/** Values given at run time; they win over the config file (Release Drafter's action inputs). */
export interface DraftOverrides {
  version?: string;
  tag?: string;
  name?: string;
  prerelease?: boolean;
  prereleaseIdentifier?: string;
  includePreReleases?: boolean;
  header?: string;
  footer?: string;
  commitish?: string;
}

export interface DraftInput {
  pullRequests: PullRequest[];
  releases: ReleaseRecord[];
  /** Optional: commit authors also count as contributors. */
  commits?: CommitRecord[];
  /** `owner/name`, for `$OWNER` and `$REPOSITORY` (left verbatim when unknown). */
  repository?: string;
}

export interface Draft {
  name: string;
  tag: string;
  body: string;
  version: string;
  prerelease: boolean;
}

export interface DraftDetails extends Draft {
  /** Release the changes are counted from, if any. */
  previousRelease: ReleaseRecord | null;
  /** An existing draft that a save would update (same prerelease-ness). */
  existingDraft: ReleaseRecord | null;
  /** `true`, `false` or `legacy` (GitHub's make_latest); `false` for prereleases. */
  makeLatest: string;
  /** The increment the version resolver chose: major, minor, patch, or pre* for prereleases. */
  increment: string;
  /** Pull requests the draft covers, in the order listed. */
  pullRequests: PullRequest[];
}
