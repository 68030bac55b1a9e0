// Versions: which published release is the last one, how its tag is read as a version, which
// increment the merged pull requests ask for, and the `$NEXT_*_VERSION` / `$RESOLVED_VERSION`
// variables, with Release Drafter's rules:
// - the last release is the highest tag (tag-prefix stripped; dotted-number comparison, prerelease
//   lower than its release) among published, non-draft releases with the prefix; prereleases count
//   only when drafting a prerelease or with include-pre-releases. Tags that cannot be compared fall
//   back to creation time.
// - a tag (else the release name) is read as strict semver, else coerced (`v1.2` → 1.2.0); a release
//   whose version cannot be read counts as "no previous version" (the first-release defaults apply)
//   while `$PREVIOUS_TAG` still names it.
// - the highest increment any pull request's labels ask for wins (major > minor > patch), else the
//   version-resolver default; one bump per release. Prereleases with an identifier use pre*.

import semver, { SemVer } from 'semver';
import { matchesConventional } from './conventional.js';
import { filterPullRequests } from './categories.js';
import { escapeRegExp, renderTemplate, type NestedTemplate } from './template.js';
import type { DrafterConfig, PullRequest, ReleaseRecord, SemverIncrement } from './types.js';

// ---------------------------------------------------------------------------------------------
// Ordering tags (the rules of the compare-versions package Release Drafter sorts with).

const COMPARABLE =
  /^[v^~<>=]*?(\d+)(?:\.([x*]|\d+)(?:\.([x*]|\d+)(?:\.([x*]|\d+))?(?:-([\da-z-]+(?:\.[\da-z-]+)*))?(?:\+[\da-z-]+(?:\.[\da-z-]+)*)?)?)?$/i;

export class IncomparableVersion extends Error {}

function numberOrText(part: string): number | string {
  const n = parseInt(part, 10);
  return Number.isNaN(n) ? part : n;
}

function segments(version: string): { numbers: string[]; pre: string } {
  const clean = version.replace(/^v/, '').replace(/\+.*$/, '');
  const dash = clean.indexOf('-');
  const end = dash === -1 ? clean.length : dash;
  return { numbers: clean.substring(0, end).split('.'), pre: clean.substring(end + 1) };
}

/** -1, 0 or 1; throws IncomparableVersion for text that is not a dotted version. */
export function compareTags(a: string, b: string): number {
  if (!COMPARABLE.test(a) || !COMPARABLE.test(b)) throw new IncomparableVersion(`not comparable: ${a} / ${b}`);
  const sa = segments(a);
  const sb = segments(b);
  for (let i = 0; i < Math.max(sa.numbers.length, sb.numbers.length); i++) {
    const na = parseInt(sa.numbers[i] ?? '0', 10);
    const nb = parseInt(sb.numbers[i] ?? '0', 10);
    if (na > nb) return 1;
    if (nb > na) return -1;
  }
  if (sa.pre && sb.pre) {
    const pa = sa.pre.split('.').map(numberOrText);
    const pb = sb.pre.split('.').map(numberOrText);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i];
      const y = pb[i];
      if (x === undefined || (typeof y === 'string' && typeof x === 'number')) return -1;
      if (y === undefined || (typeof x === 'string' && typeof y === 'number')) return 1;
      if (x > y) return 1;
      if (y > x) return -1;
    }
    return 0;
  }
  if (sa.pre || sb.pre) return sa.pre ? -1 : 1;
  return 0;
}

function sortReleases(releases: ReleaseRecord[], tagPrefix: string): ReleaseRecord[] {
  const prefix = new RegExp(`^${escapeRegExp(tagPrefix)}`);
  return releases.sort((r1, r2) => {
    try {
      return compareTags(r1.tag_name.replace(prefix, ''), r2.tag_name.replace(prefix, ''));
    } catch {
      const diff = new Date(r1.created_at ?? NaN).getTime() - new Date(r2.created_at ?? NaN).getTime();
      return Number.isNaN(diff) ? 0 : diff;
    }
  });
}

export interface ReleaseChoice {
  lastRelease: ReleaseRecord | null;
  draftRelease: ReleaseRecord | null;
}

/** The release the changes are counted from, and an existing draft of the same kind. */
export function findReleases(
  releases: readonly ReleaseRecord[],
  opts: {
    tagPrefix: string;
    prerelease: boolean;
    includePreReleases: boolean;
    filterByCommitish: boolean;
    commitish: string;
  },
): ReleaseChoice {
  const branch = (ref: string) => ref.replace(/^refs\/heads\//, '');
  let list = [...releases];
  if (opts.filterByCommitish && opts.commitish)
    list = list.filter((r) => branch(r.target_commitish ?? '') === branch(opts.commitish));
  if (opts.tagPrefix) list = list.filter((r) => r.tag_name.startsWith(opts.tagPrefix));
  const published = list
    .filter((r) => !r.draft)
    .filter((r) => opts.prerelease || opts.includePreReleases || !r.prerelease);
  const drafts = list.filter((r) => r.draft).filter((r) => (opts.prerelease ? r.prerelease : !r.prerelease));
  const sorted = sortReleases(published, opts.tagPrefix);
  return { lastRelease: sorted[sorted.length - 1] ?? null, draftRelease: drafts[0] ?? null };
}

// ---------------------------------------------------------------------------------------------
// Reading a release as a version.

function toSemver(text: string | null | undefined): SemVer | null {
  if (typeof text !== 'string') return null;
  return semver.parse(text) ?? semver.coerce(text);
}

export function coerceVersion(input: ReleaseRecord | string | null | undefined, tagPrefix: string): SemVer | null {
  if (!input) return null;
  const strip = (text: string | null | undefined) =>
    typeof text === 'string' && tagPrefix && text.startsWith(tagPrefix) ? text.slice(tagPrefix.length) : text;
  if (typeof input === 'string') return toSemver(strip(input));
  return toSemver(strip(input.tag_name)) ?? toSemver(strip(input.name));
}

// ---------------------------------------------------------------------------------------------
// The increment.

const PRIORITY: Record<SemverIncrement, number> = { patch: 1, minor: 2, major: 3 };

/** `major`, `minor` or `patch` (or `premajor`… when drafting a prerelease with an identifier). */
export function resolveIncrement(
  pullRequests: readonly PullRequest[],
  config: DrafterConfig,
  isPrerelease: boolean,
): string {
  const resolver = config.versionResolver;
  const labelKey = new Map<string, SemverIncrement>();
  for (const key of ['patch', 'minor', 'major'] as const)
    for (const label of resolver[key].labels) labelKey.set(label, key);
  let best = 0;
  for (const pr of filterPullRequests(pullRequests, config)) {
    for (const label of pr.labels) {
      const key = labelKey.get(label);
      if (key) best = Math.max(best, PRIORITY[key]);
    }
    for (const key of ['patch', 'minor', 'major'] as const) {
      if (resolver[key].conventional.some((c) => matchesConventional(c, pr.title, pr.body)))
        best = Math.max(best, PRIORITY[key]);
    }
  }
  const chosen = (Object.keys(PRIORITY) as SemverIncrement[]).find((k) => PRIORITY[k] === best) ?? resolver.default;
  return isPrerelease && config.prereleaseIdentifier ? `pre${chosen}` : chosen;
}

// ---------------------------------------------------------------------------------------------
// The version variables.

/** One version variable: rendered through its own template, with `version` as the raw value. */
interface VersionEntry extends NestedTemplate {
  version: string;
  major: number;
  minor: number;
  patch: number;
}

export interface VersionInfo {
  vars: Record<string, VersionEntry | undefined>;
  resolved: VersionEntry | undefined;
}

function entry(version: string, template: string): VersionEntry | undefined {
  const parsed = semver.parse(version);
  if (!parsed) return undefined;
  const pre = parsed.prerelease.join('.');
  return {
    version,
    template,
    major: parsed.major,
    minor: parsed.minor,
    patch: parsed.patch,
    vars: {
      $MAJOR: parsed.major,
      $MINOR: parsed.minor,
      $PATCH: parsed.patch,
      $PRERELEASE: pre ? `-${pre}` : '',
      $COMPLETE: version,
    },
  };
}

function bumped(base: SemVer | null, inc: string, template: string, identifier: string): VersionEntry | undefined {
  if (!base) return undefined;
  const next = semver.inc(base.version, inc as semver.ReleaseType, true, identifier);
  return next === null ? undefined : entry(next, template);
}

function templatable(
  base: SemVer | null,
  input: SemVer | null,
  template: string,
  increment: string,
  identifier: string,
): Record<string, VersionEntry | undefined> {
  const vars: Record<string, VersionEntry | undefined> = {};
  for (const kind of ['MAJOR', 'MINOR', 'PATCH'] as const) {
    const inc = kind.toLowerCase();
    vars[`$NEXT_${kind}_VERSION`] = bumped(base, inc, template, identifier);
    for (const part of ['MAJOR', 'MINOR', 'PATCH'] as const)
      vars[`$NEXT_${kind}_VERSION_${part}`] = bumped(base, inc, `$${part}`, identifier);
  }
  vars.$NEXT_PRERELEASE_VERSION = bumped(base, 'prerelease', '$PRERELEASE', identifier);
  vars.$INPUT_VERSION = input ? entry(input.version, template) : undefined;
  vars.$RESOLVED_VERSION = vars.$INPUT_VERSION ?? bumped(base, increment || 'patch', template, identifier);
  return vars;
}

/** Fixed values for a first release when version-template is exactly `$MAJOR.$MINOR.$PATCH`. */
function firstReleaseDefaults(prereleaseIncrement: boolean): Record<string, VersionEntry | undefined> {
  const plain = '$MAJOR.$MINOR.$PATCH';
  const fixed = (version: string, template: string): VersionEntry => {
    const e = entry(version, template)!;
    // These entries carry no $COMPLETE.
    const { $COMPLETE: _omit, ...vars } = e.vars;
    return { ...e, vars };
  };
  const prerelease = fixed('0.1.0-rc.0', '$MAJOR.$MINOR.$PATCH$PRERELEASE');
  return {
    $NEXT_MAJOR_VERSION: fixed('1.0.0', plain),
    $NEXT_MINOR_VERSION: fixed('0.1.0', plain),
    $NEXT_PATCH_VERSION: fixed('0.1.0', plain),
    $NEXT_PRERELEASE_VERSION: prerelease,
    $INPUT_VERSION: undefined,
    $RESOLVED_VERSION: prereleaseIncrement ? { ...prerelease } : fixed('0.1.0', plain),
  };
}

/** With a version-template other than the plain one, each entry's `version` is its rendered text. */
function renderVersions(vars: Record<string, VersionEntry | undefined>): void {
  for (const e of Object.values(vars)) if (e) e.version = renderTemplate(e.template, e.vars);
}

export function versionInfo(opts: {
  lastRelease: ReleaseRecord | null;
  template: string;
  inputVersion: string | undefined;
  increment: string;
  tagPrefix: string;
  prereleaseIdentifier: string;
}): VersionInfo {
  const base = coerceVersion(opts.lastRelease, opts.tagPrefix);
  const input = coerceVersion(opts.inputVersion, opts.tagPrefix);
  const preIncrement = opts.increment.startsWith('pre');
  const custom = opts.template !== '$MAJOR.$MINOR.$PATCH';
  let vars: Record<string, VersionEntry | undefined>;

  if (!base && !input) {
    if (!custom) {
      vars = firstReleaseDefaults(preIncrement);
      return { vars, resolved: vars.$RESOLVED_VERSION };
    }
    // No previous version: the next versions count from 0.1.0, and the resolved one is 0.1.0 itself.
    const start = semver.parse('0.1.0')!;
    vars = templatable(start, null, opts.template, opts.increment || 'patch', opts.prereleaseIdentifier);
    renderVersions(vars);
    const first = entry(start.version, opts.template)!;
    first.version = renderTemplate(first.template, first.vars);
    vars.$RESOLVED_VERSION = first;
    return { vars, resolved: first };
  }

  // A previous prerelease continues its series (rc.1 → rc.2) instead of starting a new one.
  const increment = preIncrement && base && base.prerelease.length > 0 ? 'prerelease' : opts.increment;
  vars = templatable(base, input, opts.template, increment, opts.prereleaseIdentifier);
  if (custom) renderVersions(vars);
  return { vars, resolved: vars.$RESOLVED_VERSION };
}
