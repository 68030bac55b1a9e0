// `runway release draft`: the next release's name, tag, notes and version, from
// `.github/release-drafter.yml` (Release Drafter's format) and the pull requests merged since the
// last release. Sources: `--input FILE.json` (offline: needs no runway.toml, store, git or network),
// GitHub (`--repo owner/name` or $GITHUB_REPOSITORY, with $GITHUB_TOKEN), or the local git history.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import semver from 'semver';
import { DEFAULT_CONFIG_PATH, DrafterConfigError, loadDrafterConfig } from '../../release/drafter/config.js';
import { draftRelease, effectiveConfig } from '../../release/drafter/draft.js';
import type {
  CommitRecord,
  DraftDetails,
  DraftInput,
  DraftOverrides,
  DrafterConfig,
  ReleaseRecord,
} from '../../release/drafter/types.js';
import { findReleases } from '../../release/drafter/version.js';
import {
  GitError,
  githubRepositoryOf,
  gitPullRequests,
  gitTags,
  isGitRepository,
  tagExists,
} from '../../release/sources/git.js';
import { GitHubSource } from '../../release/sources/github.js';
import { EXIT } from '../../engine/summary.js';
import { loadConfig } from '../../config/load.js';
import { openStore } from '../../store/open-store.js';
import { CliError, printJson, type Io } from '../io.js';
import { readInput } from './release-draft-input.js';

/** The flags; those named like Release Drafter's action inputs are its overrides (overridesFrom). */
export interface ReleaseDraftOptions extends Pick<
  DraftOverrides,
  'version' | 'tag' | 'name' | 'prerelease' | 'prereleaseIdentifier' | 'includePreReleases' | 'commitish'
> {
  /** release-drafter.yml, or (a `.toml` file) runway.toml. */
  config?: string;
  runwayConfig?: string;
  input?: string;
  json?: boolean;
  source?: string;
  repo?: string;
  githubApiUrl?: string;
  gitDir?: string;
  save?: boolean;
}

export type DraftSource =
  { kind: 'input'; file: string } | { kind: 'github'; github: GitHubSource } | { kind: 'git'; dir: string };

export interface PreparedDraft {
  draft: DraftDetails;
  source: DraftSource;
  configFile: string;
}

/** runway.toml when `--config` names a `.toml` file, else `--runway-config`, $RUNWAY_CONFIG, ./runway.toml (if present). */
export function runwayConfigPath(options: ReleaseDraftOptions, io: Io): string | undefined {
  if (options.config && /\.toml$/i.test(options.config)) return resolve(io.cwd, options.config);
  const given = options.runwayConfig ?? io.env.RUNWAY_CONFIG;
  if (given) return resolve(io.cwd, given);
  const found = resolve(io.cwd, 'runway.toml');
  return existsSync(found) ? found : undefined;
}

function drafterConfigPath(options: ReleaseDraftOptions, io: Io): string {
  if (options.config && !/\.toml$/i.test(options.config)) return resolve(io.cwd, options.config);
  return resolve(io.cwd, options.gitDir ?? '.', DEFAULT_CONFIG_PATH);
}

export function overridesFrom(options: ReleaseDraftOptions): DraftOverrides {
  return {
    ...(options.version ? { version: options.version } : {}),
    ...(options.tag ? { tag: options.tag } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.prerelease !== undefined ? { prerelease: options.prerelease } : {}),
    ...(options.prereleaseIdentifier ? { prereleaseIdentifier: options.prereleaseIdentifier } : {}),
    ...(options.includePreReleases !== undefined ? { includePreReleases: options.includePreReleases } : {}),
    ...(options.commitish ? { commitish: options.commitish } : {}),
  };
}

export function loadConfigOrFail(file: string, io: Io): DrafterConfig {
  try {
    const { config, warnings } = loadDrafterConfig(file);
    for (const w of warnings) io.stderr.write(`runway: warning: ${w}\n`);
    return config;
  } catch (err) {
    if (err instanceof DrafterConfigError) throw new CliError(err.message);
    throw err;
  }
}

export async function prepareDraft(options: ReleaseDraftOptions, io: Io): Promise<PreparedDraft> {
  const configFile = drafterConfigPath(options, io);
  const config = loadConfigOrFail(configFile, io);
  const overrides = overridesFrom(options);
  const source = pickSource(options, io);
  const input = await gather(source, config, overrides, options, io);
  return { draft: draftRelease(config, input, overrides), source, configFile };
}

function pickSource(options: ReleaseDraftOptions, io: Io): DraftSource {
  const kind = options.source ?? 'auto';
  if (!['auto', 'github', 'git', 'input'].includes(kind))
    throw new CliError(`--source: unknown source "${kind}" (one of: auto, github, git)`);
  if (options.input) return { kind: 'input', file: resolve(io.cwd, options.input) };
  if (kind === 'input') throw new CliError('--source input needs --input FILE.json');
  const dir = resolve(io.cwd, options.gitDir ?? '.');
  const token = io.env.GITHUB_TOKEN ?? io.env.GH_TOKEN;
  const repository =
    options.repo ?? io.env.GITHUB_REPOSITORY ?? (kind === 'github' || token ? githubRepositoryOf(dir) : undefined);
  if (kind === 'github' || (kind === 'auto' && token && repository)) {
    if (!repository)
      throw new CliError(
        '--source github needs the repository: --repo owner/name (or $GITHUB_REPOSITORY, or a GitHub origin remote)',
      );
    const baseUrl = options.githubApiUrl ?? io.env.GITHUB_API_URL;
    try {
      return {
        kind: 'github',
        github: new GitHubSource({ repository, ...(token ? { token } : {}), ...(baseUrl ? { baseUrl } : {}) }),
      };
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  if (!isGitRepository(dir)) {
    throw new CliError(
      `no source of pull requests: ${dir} is not a git repository. Pass --input FILE.json (offline), ` +
        'or --repo owner/name with $GITHUB_TOKEN (GitHub), or --git-dir DIR (local history)',
    );
  }
  return { kind: 'git', dir };
}

async function gather(
  source: DraftSource,
  config: DrafterConfig,
  overrides: DraftOverrides,
  options: ReleaseDraftOptions,
  io: Io,
): Promise<DraftInput> {
  if (source.kind === 'input') return readInput(source.file);
  const c = effectiveConfig(config, overrides);
  const choose = (releases: ReleaseRecord[]) =>
    findReleases(releases, {
      tagPrefix: c.tagPrefix,
      prerelease: c.prerelease,
      includePreReleases: c.includePreReleases,
      filterByCommitish: c.filterByCommitish,
      commitish: c.commitish,
    });

  if (source.kind === 'github') {
    const gh = source.github;
    try {
      const releases = await gh.listReleases();
      const { lastRelease } = choose(releases);
      const since = lastRelease?.created_at ?? (c.initialCommitsSince || undefined);
      const base = c.commitish ? c.commitish.replace(/^refs\/heads\//, '') : undefined;
      const pullRequests = await gh.mergedPullRequests({ ...(since ? { since } : {}), ...(base ? { base } : {}) });
      const commits: CommitRecord[] = await gh.commitAuthors({
        ...(since ? { since } : {}),
        ...(base ? { sha: base } : {}),
      });
      return { pullRequests, releases, commits, repository: gh.repository };
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new CliError(
        `GitHub ${gh.repository}: ${(err as Error).message}${status ? ` (HTTP ${status})` : ''}`,
        status && status < 500 && status !== 429 ? EXIT.badInput : EXIT.internal,
      );
    }
  }

  try {
    const releases = mergeReleases(gitTags(source.dir), await storeReleases(options, io));
    const { lastRelease } = choose(releases);
    const repository = githubRepositoryOf(source.dir);
    let range: Parameters<typeof gitPullRequests>[1] = repository ? { repository } : {};
    if (lastRelease && tagExists(source.dir, lastRelease.tag_name)) range = { ...range, from: lastRelease.tag_name };
    else if (lastRelease?.created_at) range = { ...range, since: lastRelease.created_at };
    else if (!lastRelease && c.initialCommitsSince) range = { ...range, since: c.initialCommitsSince };
    return { pullRequests: gitPullRequests(source.dir, range), releases, ...(repository ? { repository } : {}) };
  } catch (err) {
    if (err instanceof GitError) throw new CliError(err.message, EXIT.internal);
    throw err;
  }
}

/** Releases recorded in runway's store (by `runway release publish` or `runway releases create`), if there is a runway.toml. */
async function storeReleases(options: ReleaseDraftOptions, io: Io): Promise<ReleaseRecord[]> {
  const file = runwayConfigPath(options, io);
  if (!file) return [];
  const config = loadConfig(file);
  const store = await openStore(io.env.RUNWAY_STORE ?? config.store.url, config.dir);
  try {
    return (await store.listReleases(config.app.name)).map((r) => ({
      tag_name: r.version,
      name: r.version,
      draft: false,
      prerelease: (semver.parse(r.version.replace(/^[^0-9]*/, ''), { loose: true })?.prerelease.length ?? 0) > 0,
      created_at: new Date(r.createdAtMs).toISOString(),
    }));
  } finally {
    await store.close();
  }
}

function mergeReleases(a: ReleaseRecord[], b: ReleaseRecord[]): ReleaseRecord[] {
  const seen = new Set(a.map((r) => r.tag_name));
  return [...a, ...b.filter((r) => !seen.has(r.tag_name))];
}

// ---------------------------------------------------------------------------------------------

export function draftJson(d: DraftDetails): {
  name: string;
  tag: string;
  body: string;
  version: string;
  prerelease: boolean;
} {
  return { name: d.name, tag: d.tag, body: d.body, version: d.version, prerelease: d.prerelease };
}

export function formatDraft(d: DraftDetails): string {
  const lines = [
    `name:        ${d.name || '(empty name-template)'}`,
    `tag:         ${d.tag || '(empty tag-template)'}`,
    `version:     ${d.version} (${d.increment}${d.previousRelease ? ` after ${d.previousRelease.tag_name}` : ', no previous release'})`,
    `prerelease:  ${d.prerelease ? 'yes' : 'no'}`,
    `changes:     ${d.pullRequests.length} merged pull request${d.pullRequests.length === 1 ? '' : 's'}`,
    '',
    d.body,
  ];
  return lines.join('\n');
}

export async function releaseDraftCommand(options: ReleaseDraftOptions, io: Io): Promise<number> {
  const { draft, source } = await prepareDraft(options, io);
  if (!draft.previousRelease)
    io.stderr.write(
      'runway: note: no previous published release found; drafting the first release (changes since the beginning)\n',
    );
  let saved: { html_url?: string } | undefined;
  if (options.save) {
    if (source.kind !== 'github')
      throw new CliError(
        '--save writes the draft to GitHub; it needs the GitHub source (--repo owner/name with $GITHUB_TOKEN)',
      );
    saved = await saveDraft(source.github, draft, true);
  }
  if (options.json) printJson(io, draftJson(draft));
  else {
    io.stdout.write(formatDraft(draft) + (draft.body.endsWith('\n') ? '' : '\n'));
    if (saved) io.stderr.write(`runway: draft saved on GitHub${saved.html_url ? `: ${saved.html_url}` : ''}\n`);
  }
  return 0;
}

/** Creates the release on GitHub, or updates the existing draft (Release Drafter's upsert). */
export async function saveDraft(
  gh: GitHubSource,
  d: DraftDetails,
  asDraft: boolean,
): Promise<ReleaseRecord & { html_url?: string }> {
  const makeLatest =
    !asDraft && ['true', 'false', 'legacy'].includes(d.makeLatest)
      ? { make_latest: d.makeLatest as 'true' | 'false' | 'legacy' }
      : {};
  try {
    if (d.existingDraft?.id !== undefined) {
      return await gh.updateRelease(d.existingDraft.id, {
        body: d.body,
        draft: asDraft,
        prerelease: d.prerelease,
        ...(d.name ? { name: d.name } : {}),
        ...(d.tag ? { tag_name: d.tag } : {}),
        ...makeLatest,
      });
    }
    return await gh.createRelease({
      tag_name: d.tag,
      name: d.name,
      body: d.body,
      draft: asDraft,
      prerelease: d.prerelease,
      ...makeLatest,
    });
  } catch (err) {
    const status = (err as { status?: number }).status;
    throw new CliError(
      `GitHub ${gh.repository}: ${(err as Error).message}${status ? ` (HTTP ${status})` : ''}`,
      status && status < 500 && status !== 429 ? EXIT.badInput : EXIT.internal,
    );
  }
}
