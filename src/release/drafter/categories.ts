// `$CHANGES`: pull requests filtered by exclude-labels/include-labels, placed in categories, and
// rendered with change-template and category-template, the way Release Drafter lays them out:
//   uncategorized entries first (one per line), a blank line, then each non-empty category as
//   `category-template` + blank line + its entries (or a `<details>` block past `collapse-after`),
//   categories separated by a blank line; the whole trimmed.

import { matchesCondition } from './conventional.js';
import { escapeTitle } from './escape.js';
import { renderTemplate } from './template.js';
import type { Category, DrafterConfig, PullRequest } from './types.js';

export function isExcluded(pr: PullRequest, excludeLabels: readonly string[]): boolean {
  return pr.labels.some((l) => excludeLabels.includes(l));
}

export function isIncluded(pr: PullRequest, includeLabels: readonly string[]): boolean {
  return includeLabels.length === 0 || pr.labels.some((l) => includeLabels.includes(l));
}

/** Pull requests that exclude-labels and include-labels keep (exclusion first). */
export function filterPullRequests(
  prs: readonly PullRequest[],
  config: Pick<DrafterConfig, 'excludeLabels' | 'includeLabels'>,
): PullRequest[] {
  return prs.filter((pr) => !isExcluded(pr, config.excludeLabels) && isIncluded(pr, config.includeLabels));
}

/** A category with neither labels nor conditions collects the uncategorized pull requests. */
export function isCatchAll(category: Category): boolean {
  return category.labels.length === 0 && category.when.length === 0;
}

export function categoryMatches(category: Category, pr: PullRequest): boolean {
  if (category.labels.length > 0 && pr.labels.some((l) => category.labels.includes(l))) return true;
  return category.when.some((c) => matchesCondition(c, pr));
}

export interface Categorized {
  uncategorized: PullRequest[];
  categories: { category: Category; pullRequests: PullRequest[] }[];
}

/**
 * Places each pull request in every category it matches (a pull request with labels of several
 * categories appears in each). One that matches none goes to the catch-all category if there is
 * one, else to the uncategorized list.
 */
export function categorize(prs: readonly PullRequest[], config: DrafterConfig): Categorized {
  const buckets = config.categories.map((category) => ({ category, pullRequests: [] as PullRequest[] }));
  const catchAll = buckets.find((b) => isCatchAll(b.category));
  const uncategorized: PullRequest[] = [];
  const matched: PullRequest[] = [];
  for (const pr of filterPullRequests(prs, config)) {
    if (buckets.some((b) => categoryMatches(b.category, pr))) matched.push(pr);
    else if (catchAll) catchAll.pullRequests.push(pr);
    else uncategorized.push(pr);
  }
  // Category by category, so each keeps the sorted order of the pull requests.
  for (const bucket of buckets) {
    for (const pr of matched) if (categoryMatches(bucket.category, pr)) bucket.pullRequests.push(pr);
  }
  return { uncategorized, categories: buckets };
}

export function renderChange(
  pr: PullRequest,
  config: Pick<DrafterConfig, 'changeTemplate' | 'changeTitleEscapes'>,
): string {
  let author = 'ghost';
  if (pr.author) {
    author =
      pr.author.type === 'Bot'
        ? `[${pr.author.login}[bot]](${pr.author.url ?? `https://github.com/apps/${pr.author.login}`})`
        : pr.author.login;
  }
  return renderTemplate(config.changeTemplate, {
    $TITLE: escapeTitle(pr.title, config.changeTitleEscapes),
    $NUMBER: pr.number,
    $AUTHOR: author,
    $BODY: pr.body,
    $URL: pr.url,
    $BASE_REF_NAME: pr.baseRefName,
    $HEAD_REF_NAME: pr.headRefName,
  });
}

/** The `$CHANGES` text. `prs` are the merged pull requests, already sorted. */
export function renderChanges(prs: readonly PullRequest[], config: DrafterConfig): string {
  // Checked before filtering: when every pull request is excluded, $CHANGES is empty, not the template.
  if (prs.length === 0) return config.noChangesTemplate;
  const { uncategorized, categories } = categorize(prs, config);
  const lines = (list: PullRequest[]) => list.map((pr) => renderChange(pr, config)).join('\n');
  const parts: string[] = [];
  if (uncategorized.length > 0) parts.push(lines(uncategorized), '\n\n');
  categories.forEach(({ category, pullRequests }, index) => {
    if (pullRequests.length === 0) return;
    parts.push(renderTemplate(config.categoryTemplate, { $TITLE: category.title }), '\n\n');
    const entries = lines(pullRequests);
    if (category.collapseAfter !== 0 && pullRequests.length > category.collapseAfter) {
      parts.push(
        '<details>',
        '\n',
        `<summary>${pullRequests.length} changes</summary>`,
        '\n\n',
        entries,
        '\n',
        '</details>',
      );
    } else {
      parts.push(entries);
    }
    if (index + 1 !== categories.length) parts.push('\n\n');
  });
  return parts.join('').trim();
}
