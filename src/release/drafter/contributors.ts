// `$CONTRIBUTORS`: commit authors and pull request authors, deduplicated, sorted (plain string
// order, so `@Zed` sorts before `@ada`), joined as "@a, @b and @c". Logins in exclude-contributors
// are left out; a commit author without a GitHub account appears by name; a bot pull request author
// appears as a link `[name[bot]](url)`. Nobody left: no-contributors-template.

import type { CommitRecord, DrafterConfig, PullRequest } from './types.js';

export function contributorsSentence(
  commits: readonly CommitRecord[],
  pullRequests: readonly PullRequest[],
  config: Pick<DrafterConfig, 'excludeContributors' | 'noContributorsTemplate'>,
): string {
  const excluded = config.excludeContributors;
  const names = new Set<string>();
  for (const commit of commits) {
    const user = commit.author?.user;
    if (user) {
      if (!excluded.includes(user.login)) names.add(`@${user.login}`);
    } else if (commit.author?.name) {
      names.add(commit.author.name);
    }
  }
  for (const pr of pullRequests) {
    if (!pr.author || excluded.includes(pr.author.login)) continue;
    if (pr.author.type === 'Bot')
      names.add(`[${pr.author.login}[bot]](${pr.author.url ?? `https://github.com/apps/${pr.author.login}`})`);
    else names.add(`@${pr.author.login}`);
  }
  const sorted = [...names].sort();
  if (sorted.length > 1) return `${sorted.slice(0, -1).join(', ')} and ${sorted[sorted.length - 1]}`;
  if (sorted.length === 1) return sorted[0]!;
  return config.noContributorsTemplate;
}
