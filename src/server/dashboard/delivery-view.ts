// Dashboard pieces of the GitHub integration: a deploy's release notes and the pull requests they
// name, and the outbox deliveries (GitHub statuses, notifications) that could not be delivered yet.

import type { Release } from '../../domain/types.js';
import type { GitHubConfig } from '../../config/integrations.js';
import type { OutboxItem } from '../../store/outbox-contract.js';
import { LIFECYCLE_CHANNEL } from '../../store/outbox-contract.js';
import { h, type Html } from './html.js';
import { fmtTime } from './pages.js';

export interface NotesPullRequest {
  number: number;
  title: string;
  author: string | null;
}

/**
 * The pull requests release notes name. Release Drafter writes one line per change,
 * `* TITLE @AUTHOR (#NUMBER)` by default; any other `#NUMBER` on a list line counts too.
 */
export function pullRequestsInNotes(notes: string): NotesPullRequest[] {
  const found = new Map<number, NotesPullRequest>();
  for (const line of notes.split('\n')) {
    const item = /^\s*[-*+]\s+(.*)$/.exec(line);
    if (!item) continue;
    const text = item[1]!;
    const drafted = /^(.*?)\s+(?:@([A-Za-z0-9-]+(?:\[bot\])?)\s+)?\(#(\d+)\)\s*$/.exec(text);
    if (drafted) {
      const n = Number(drafted[3]);
      if (!found.has(n)) found.set(n, { number: n, title: drafted[1]!.trim(), author: drafted[2] ?? null });
      continue;
    }
    for (const m of text.matchAll(/(?:^|[\s(])#(\d+)\b/g)) {
      const n = Number(m[1]);
      if (!found.has(n)) found.set(n, { number: n, title: text.replace(/\s*\(?#\d+\)?/g, '').trim(), author: null });
    }
  }
  return [...found.values()];
}

/** The repository's web address (github.com, or a GitHub Enterprise host from its API URL). */
export function repositoryWebUrl(github: GitHubConfig | undefined): string | null {
  if (!github?.repository) return null;
  const api = github.apiUrl ?? 'https://api.github.com';
  const web = /^https:\/\/api\.github\.com$/i.test(api) ? 'https://github.com' : api.replace(/\/api\/v3$/i, '');
  return `${web}/${github.repository}`;
}

export function releaseNotesCard(release: Release | undefined, github: GitHubConfig | undefined): Html {
  if (!release?.notes?.trim())
    return h`<section class="card" id="release-notes"><h2>Release notes</h2><p class="muted">${release ? `release ${release.version} has no notes` : 'release not found'}</p></section>`;
  const repo = repositoryWebUrl(github);
  const pulls = pullRequestsInNotes(release.notes);
  return h`<section class="card" id="release-notes"><h2>Release ${release.version}</h2>
${pulls.length ? h`<h3>Pull requests</h3><ul class="pulls" id="pull-requests">${pulls.map((p) => h`<li data-pr="${p.number}">${repo ? h`<a href="${repo}/pull/${p.number}">#${p.number}</a>` : `#${p.number}`} ${p.title}${p.author ? h` <span class="muted">@${p.author}</span>` : ''}</li>`)}</ul>` : h`<p class="muted">the notes name no pull request</p>`}
<details><summary>notes</summary><pre class="release-notes">${release.notes}</pre></details></section>`;
}

/** Rows delivery was tried for and failed (still retrying, or given up). */
export function undelivered(items: OutboxItem[]): OutboxItem[] {
  return items.filter(
    (i) => i.channel !== LIFECYCLE_CHANNEL && (i.state === 'failed' || (i.state === 'pending' && i.attempts > 0)),
  );
}

function row(i: OutboxItem, withDeploy: boolean): Html {
  return h`<tr class="outbox-${i.state}"><td>${i.channel}</td><td>${i.kind}</td>${withDeploy ? h`<td class="mono small"><a href="/dashboard/deploys/${i.deployId}">${i.deployId}</a></td>` : ''}<td>${i.state === 'failed' ? 'given up' : 'retrying'}</td><td>${i.attempts}</td><td class="small">${i.state === 'failed' ? '—' : fmtTime(i.nextAttemptAtMs)}</td><td class="small">${i.lastError ?? ''}</td></tr>`;
}

/** The deploy page's deliveries: how many were delivered, and each that was not. */
export function deliveriesCard(items: OutboxItem[]): Html {
  const outward = items.filter((i) => i.channel !== LIFECYCLE_CHANNEL);
  if (outward.length === 0) return h``;
  const bad = undelivered(outward);
  const delivered = outward.filter((i) => i.state === 'delivered').length;
  return h`<section class="card" id="deliveries"><h2>GitHub and notifications</h2><p class="muted">${delivered} of ${outward.length} delivered${bad.length ? `; ${bad.length} not delivered` : ''}</p>
${bad.length ? h`<table class="undelivered"><thead><tr><th>to</th><th>what</th><th>state</th><th>attempts</th><th>next try</th><th>last error</th></tr></thead><tbody>${bad.map((i) => row(i, false))}</tbody></table>` : ''}</section>`;
}

/** The overview's warning when anything could not be delivered (nothing when all is well). */
export function undeliveredCard(items: OutboxItem[]): Html {
  const bad = undelivered(items);
  if (bad.length === 0) return h``;
  return h`<section class="card warn" id="undelivered"><h2>Not delivered to GitHub or notification targets (${bad.length})</h2><table class="undelivered"><thead><tr><th>to</th><th>what</th><th>deploy</th><th>state</th><th>attempts</th><th>next try</th><th>last error</th></tr></thead><tbody>${bad.slice(0, 50).map((i) => row(i, true))}</tbody></table></section>`;
}
