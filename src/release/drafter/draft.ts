// The release drafter's pure core: (config, merged pull requests, releases) → the draft release
// (name, tag, body, resolved version, prerelease), computed as Release Drafter computes it.
//
// Order of work, which decides what each template sees:
//  1. body = header + template + footer; `$CHANGES`, `$CONTRIBUTORS`, `$PREVIOUS_TAG`, `$OWNER`,
//     `$REPOSITORY` are substituted, then the replacers run over that text;
//  2. the version variables (`$RESOLVED_VERSION`, `$NEXT_*_VERSION`…) are substituted in the result;
//  3. name-template and tag-template see only the version variables.
// Unknown `$TOKENS` stay as written.

import { renderChanges } from './categories.js';
import { contributorsSentence } from './contributors.js';
import { renderTemplate } from './template.js';
import { findReleases, resolveIncrement, versionInfo } from './version.js';
import type { DraftDetails, DraftInput, DraftOverrides, DrafterConfig, PullRequest } from './types.js';

/** The config with run-time values applied (they win), as the draft uses it. */
export function effectiveConfig(config: DrafterConfig, overrides: DraftOverrides = {}): DrafterConfig {
  const c: DrafterConfig = { ...config };
  if (overrides.commitish) c.commitish = overrides.commitish;
  if (overrides.header) c.header = overrides.header;
  if (overrides.footer) c.footer = overrides.footer;
  if (overrides.prerelease !== undefined) c.prerelease = overrides.prerelease;
  if (overrides.prereleaseIdentifier) c.prereleaseIdentifier = overrides.prereleaseIdentifier;
  // An identifier means a prerelease.
  if (!c.prerelease && c.prereleaseIdentifier) c.prerelease = true;
  if (overrides.includePreReleases !== undefined) c.includePreReleases = overrides.includePreReleases;
  c.latest = c.prerelease ? 'false' : c.latest;
  return c;
}

export function sortPullRequests(
  prs: readonly PullRequest[],
  sortBy: DrafterConfig['sortBy'],
  direction: DrafterConfig['sortDirection'],
): PullRequest[] {
  const key = sortBy === 'title' ? (pr: PullRequest) => pr.title : (pr: PullRequest) => new Date(pr.mergedAt).getTime();
  const sign = direction === 'ascending' ? 1 : -1;
  return [...prs].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x > y) return sign;
    if (x < y) return -sign;
    return 0;
  });
}

/** One entry per pull request number (the first listed wins). */
function uniqueByNumber(prs: readonly PullRequest[]): PullRequest[] {
  const seen = new Set<number>();
  return prs.filter((pr) => !seen.has(pr.number) && (seen.add(pr.number), true));
}

export function draftRelease(config: DrafterConfig, input: DraftInput, overrides: DraftOverrides = {}): DraftDetails {
  const c = effectiveConfig(config, overrides);
  const { lastRelease, draftRelease: existingDraft } = findReleases(input.releases, {
    tagPrefix: c.tagPrefix,
    prerelease: c.prerelease,
    includePreReleases: c.includePreReleases,
    filterByCommitish: c.filterByCommitish,
    commitish: c.commitish,
  });
  const pullRequests = sortPullRequests(uniqueByNumber(input.pullRequests), c.sortBy, c.sortDirection);
  const [owner, repo] = input.repository?.includes('/') ? input.repository.split('/', 2) : [undefined, undefined];

  let body = renderTemplate(
    c.header + c.template + c.footer,
    {
      $PREVIOUS_TAG: lastRelease ? lastRelease.tag_name : '',
      $CHANGES: renderChanges(pullRequests, c),
      $CONTRIBUTORS: contributorsSentence(input.commits ?? [], pullRequests, c),
      $OWNER: owner,
      $REPOSITORY: repo,
    },
    c.replacers,
  );

  const increment = resolveIncrement(pullRequests, c, c.prerelease);
  const info = versionInfo({
    lastRelease,
    template: c.versionTemplate,
    // The most precise override names the version.
    inputVersion: overrides.version || overrides.tag || overrides.name,
    increment,
    tagPrefix: c.tagPrefix,
    prereleaseIdentifier: c.prereleaseIdentifier,
  });
  body = renderTemplate(body, info.vars);
  const tag = renderTemplate(overrides.tag ?? c.tagTemplate, info.vars);
  const name = renderTemplate(overrides.name ?? c.nameTemplate, info.vars);

  return {
    name,
    tag,
    body,
    version: info.resolved?.version ?? '',
    prerelease: c.prerelease,
    previousRelease: lastRelease,
    existingDraft,
    makeLatest: c.latest,
    increment,
    pullRequests,
  };
}
