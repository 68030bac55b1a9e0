// `.github/release-drafter.yml` in Release Drafter's format: read the YAML (errors carry the file's
// line), apply Release Drafter's defaults, validate every key (errors name file:line and key), and
// warn about keys Release Drafter does not know (or that runway accepts but does not act on).

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { formatKey, type KeyPath } from '../../config/key-lines.js';
import { searchToRegExp } from './template.js';
import type { Category, ConventionalCondition, DrafterConfig, MatchCondition, Replacer, SemverIncrement, VersionResolverRule } from './types.js';

export const DEFAULT_CONFIG_PATH = '.github/release-drafter.yml';

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

export interface ConfigProblem {
  file: string;
  line: number | undefined;
  key: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.key ? `${where}: ${p.key}: ${p.message}` : `${where}: ${p.message}`;
}

export class DrafterConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'DrafterConfigError';
  }
}

export interface LoadedConfig {
  config: DrafterConfig;
  warnings: string[];
  /** Files read, the extended ones first. */
  files: string[];
}

/** Keys runway reads. */
const USED_KEYS = [
  'template', 'header', 'footer', 'name-template', 'tag-template', 'tag-prefix', 'version-template', 'change-template',
  'change-title-escapes', 'no-changes-template', 'category-template', 'categories', 'exclude-labels', 'include-labels',
  'exclude-contributors', 'no-contributors-template', 'replacers', 'sort-by', 'sort-direction', 'prerelease',
  'prerelease-identifier', 'include-pre-releases', 'latest', 'version-resolver', 'filter-by-commitish', 'commitish',
  'initial-commits-since', '_extends',
];
/** Release Drafter keys for its GitHub App or its commit walk: valid, with no effect on the draft here. */
const INERT_KEYS = ['references', 'branches', 'autolabeler', 'pull-request-limit', 'history-limit'];
/** Release Drafter keys runway cannot honour without the files each pull request changed. */
const UNSUPPORTED_KEYS = ['include-paths', 'exclude-paths'];

interface Located {
  value: unknown;
  lines: Map<string, number>;
  file: string;
}

/** Parses YAML text; syntax errors carry their line. */
export function parseYaml(text: string, file: string): Located {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new DrafterConfigError(
      doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line, key: '', message: `invalid YAML: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}` })),
    );
  }
  const lines = new Map<string, number>();
  const walk = (node: unknown, path: KeyPath) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const at = [...path, key];
        const range = (pair.key as Node | null)?.range;
        if (range) lines.set(formatKey(at), lineCounter.linePos(range[0]).line);
        walk(pair.value, at);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const at = [...path, i];
        const range = (item as Node | null)?.range;
        if (range) lines.set(formatKey(at), lineCounter.linePos(range[0]).line);
        walk(item, at);
      });
    }
  };
  walk(doc.contents, []);
  return { value: doc.toJS(), lines, file };
}

/** Reads a config file (following a local `_extends`). */
export function loadDrafterConfig(path: string): LoadedConfig {
  const chain: { raw: Record<string, unknown>; located: Located }[] = [];
  let current: string | undefined = path;
  const seen = new Set<string>();
  while (current) {
    if (seen.has(current)) throw new DrafterConfigError([{ file: current, line: undefined, key: '_extends', message: 'extends itself (a cycle)' }]);
    seen.add(current);
    let text: string;
    try {
      text = readFileSync(current, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DrafterConfigError([
        { file: current, line: undefined, key: '', message: code === 'ENOENT' ? 'no such file (Release Drafter reads .github/release-drafter.yml; pass --config FILE)' : (err as Error).message },
      ]);
    }
    const located = parseYaml(text, current);
    const raw = asRoot(located);
    chain.unshift({ raw, located });
    const ext = raw._extends;
    current = undefined;
    if (ext !== undefined) current = extendsPath(ext, located);
  }
  // Each file's keys replace those of the file it extends.
  const merged: Record<string, unknown> = {};
  const lines = new Map<string, number>();
  const keyFile = new Map<string, string>();
  for (const { raw, located } of chain) {
    for (const [key, value] of Object.entries(raw)) {
      merged[key] = value;
      keyFile.set(key, located.file);
      for (const [k, line] of located.lines) if (k === key || k.startsWith(`${key}.`) || k.startsWith(`${key}[`)) lines.set(k, line);
    }
  }
  const fileOf = (key: KeyPath) => keyFile.get(String(key[0])) ?? path;
  const result = validate(merged, { lines, fileOf, file: path });
  return { ...result, files: chain.map((c) => c.located.file) };
}

/** Parses and validates config text (no `_extends`). */
export function parseDrafterConfig(text: string, file = DEFAULT_CONFIG_PATH): LoadedConfig {
  const located = parseYaml(text, file);
  const raw = asRoot(located);
  if (raw._extends !== undefined) {
    throw new DrafterConfigError([{ file, line: located.lines.get('_extends'), key: '_extends', message: 'is only supported when the config is read from a file' }]);
  }
  return { ...validate(raw, { lines: located.lines, fileOf: () => file, file }), files: [file] };
}

function asRoot(located: Located): Record<string, unknown> {
  const v = located.value;
  if (v === null || v === undefined) {
    throw new DrafterConfigError([{ file: located.file, line: undefined, key: '', message: 'is empty; it needs at least `template` (e.g. `template: "$CHANGES"`)' }]);
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new DrafterConfigError([{ file: located.file, line: 1, key: '', message: 'must be a YAML mapping of keys (template, categories, …)' }]);
  }
  return v as Record<string, unknown>;
}

function extendsPath(ext: unknown, located: Located): string {
  const line = located.lines.get('_extends');
  if (typeof ext !== 'string' || ext === '') {
    throw new DrafterConfigError([{ file: located.file, line, key: '_extends', message: 'must be a file path' }]);
  }
  const local = /^(\.{1,2}\/|\/)/.test(ext) || (/\.ya?ml$/.test(ext) && !ext.includes(':'));
  if (!local) {
    throw new DrafterConfigError([
      {
        file: located.file,
        line,
        key: '_extends',
        message: `"${ext}" names another repository; runway only extends local files (e.g. _extends: ./base.yml, relative to this file)`,
      },
    ]);
  }
  return isAbsolute(ext) ? ext : resolve(dirname(located.file), ext);
}

// ---------------------------------------------------------------------------------------------
// Validation.

interface Ctx {
  lines: Map<string, number>;
  fileOf(path: KeyPath): string;
  file: string;
}

function validate(raw: Record<string, unknown>, ctx: Ctx): { config: DrafterConfig; warnings: string[] } {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const lineOf = (path: KeyPath) => {
    for (let n = path.length; n > 0; n--) {
      const line = ctx.lines.get(formatKey(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  };
  const fail = (path: KeyPath, message: string) => problems.push({ file: path.length ? ctx.fileOf(path) : ctx.file, line: lineOf(path), key: formatKey(path), message });
  const warn = (path: KeyPath, message: string) => warnings.push(formatProblem({ file: ctx.fileOf(path), line: lineOf(path), key: formatKey(path), message }));
  const unknownKeys = (obj: Record<string, unknown>, path: KeyPath, known: readonly string[]) => {
    const unknown = Object.keys(obj).filter((k) => !known.includes(k));
    for (const k of unknown) warn([...path, k], `unknown key, ignored (known here: ${known.filter((x) => !x.startsWith('_')).join(', ')})`);
  };

  const str = (path: KeyPath, value: unknown, fallback: string, allowEmpty: boolean): string => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string') {
      fail(path, `must be a string (got ${describe(value)})`);
      return fallback;
    }
    if (!allowEmpty && value === '') fail(path, 'must not be empty');
    return value;
  };
  const strList = (path: KeyPath, value: unknown, single: boolean): string[] => {
    if (value === undefined || value === null) {
      if (value === null) fail(path, 'must be a list of strings (got null)');
      return [];
    }
    if (single && typeof value === 'string') return [value];
    if (!Array.isArray(value)) {
      fail(path, `must be a list of strings (got ${describe(value)})`);
      return [];
    }
    return value.filter((item, i) => {
      if (typeof item === 'string') return true;
      fail([...path, i], `must be a string (got ${describe(item)})`);
      return false;
    });
  };
  const bool = (path: KeyPath, value: unknown, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    fail(path, `must be true or false (got ${describe(value)})`);
    return fallback;
  };
  const oneOf = <T extends string>(path: KeyPath, value: unknown, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${describe(value)})`);
    return fallback;
  };

  unknownKeys(raw, [], [...USED_KEYS, ...INERT_KEYS, ...UNSUPPORTED_KEYS]);
  for (const key of UNSUPPORTED_KEYS) {
    const v = raw[key];
    if (Array.isArray(v) && v.length > 0) warn([key], 'not supported by runway (it needs the files each pull request changed); ignored');
  }
  for (const key of ['pull-request-limit', 'history-limit']) {
    const v = raw[key];
    if (v !== undefined && !(Number.isInteger(typeof v === 'string' ? Number(v) : v) && Number(v) > 0)) fail([key], `must be a positive integer (got ${describe(v)})`);
  }
  if (raw.references !== undefined) strList(['references'], raw.references, false);
  if (raw.branches !== undefined) strList(['branches'], raw.branches, false);
  if (raw.autolabeler !== undefined && !Array.isArray(raw.autolabeler)) fail(['autolabeler'], `must be a list (got ${describe(raw.autolabeler)})`);

  if (raw.template === undefined) fail(['template'], 'is required (the body of the release, e.g. "## Changes\\n\\n$CHANGES")');
  const template = str(['template'], raw.template, '', false);

  let latest = DEFAULTS.latest;
  if (raw.latest !== undefined) {
    const v = typeof raw.latest === 'boolean' ? String(raw.latest) : raw.latest;
    latest = oneOf(['latest'], v, ['', 'true', 'false', 'legacy'], DEFAULTS.latest);
  }
  let initialCommitsSince = '';
  if (raw['initial-commits-since'] !== undefined) {
    const v = raw['initial-commits-since'];
    const text = v instanceof Date ? v.toISOString() : v;
    if (typeof text !== 'string' || (text !== '' && Number.isNaN(Date.parse(text)))) fail(['initial-commits-since'], `must be an ISO 8601 date, e.g. "2025-06-18T10:29:51Z" (got ${describe(v)})`);
    else initialCommitsSince = text;
  }

  const config: DrafterConfig = {
    template,
    header: str(['header'], raw.header, DEFAULTS.header, true),
    footer: str(['footer'], raw.footer, DEFAULTS.footer, true),
    nameTemplate: str(['name-template'], raw['name-template'], DEFAULTS.nameTemplate, true),
    tagTemplate: str(['tag-template'], raw['tag-template'], DEFAULTS.tagTemplate, true),
    tagPrefix: str(['tag-prefix'], raw['tag-prefix'], DEFAULTS.tagPrefix, true),
    versionTemplate: str(['version-template'], raw['version-template'], DEFAULTS.versionTemplate, false),
    changeTemplate: str(['change-template'], raw['change-template'], DEFAULTS.changeTemplate, false),
    changeTitleEscapes: str(['change-title-escapes'], raw['change-title-escapes'], DEFAULTS.changeTitleEscapes, true),
    noChangesTemplate: str(['no-changes-template'], raw['no-changes-template'], DEFAULTS.noChangesTemplate, false),
    categoryTemplate: str(['category-template'], raw['category-template'], DEFAULTS.categoryTemplate, true),
    categories: categories(raw.categories),
    excludeLabels: strList(['exclude-labels'], raw['exclude-labels'], false),
    includeLabels: strList(['include-labels'], raw['include-labels'], false),
    excludeContributors: strList(['exclude-contributors'], raw['exclude-contributors'], false),
    noContributorsTemplate: str(['no-contributors-template'], raw['no-contributors-template'], DEFAULTS.noContributorsTemplate, false),
    replacers: replacers(raw.replacers),
    sortBy: oneOf(['sort-by'], raw['sort-by'], ['merged_at', 'title'] as const, DEFAULTS.sortBy),
    sortDirection: oneOf(['sort-direction'], raw['sort-direction'], ['ascending', 'descending'] as const, DEFAULTS.sortDirection),
    prerelease: bool(['prerelease'], raw.prerelease, DEFAULTS.prerelease),
    prereleaseIdentifier: str(['prerelease-identifier'], raw['prerelease-identifier'], DEFAULTS.prereleaseIdentifier, true),
    includePreReleases: bool(['include-pre-releases'], raw['include-pre-releases'], DEFAULTS.includePreReleases),
    latest,
    versionResolver: versionResolver(raw['version-resolver']),
    filterByCommitish: bool(['filter-by-commitish'], raw['filter-by-commitish'], DEFAULTS.filterByCommitish),
    commitish: str(['commitish'], raw.commitish, DEFAULTS.commitish, true),
    initialCommitsSince,
  };

  const catchAll = config.categories.filter((c) => c.labels.length === 0 && c.when.length === 0);
  if (catchAll.length > 1) {
    fail(['categories'], 'Multiple categories detected with no labels. Only one category with no labels is supported for uncategorized pull requests.');
  }
  if (problems.length > 0) throw new DrafterConfigError(problems);
  return { config, warnings };

  function categories(value: unknown): Category[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      fail(['categories'], `must be a list of categories (got ${describe(value)})`);
      return [];
    }
    return value.flatMap((item, i): Category[] => {
      const path = ['categories', i];
      if (!isObject(item)) {
        fail(path, `must be a mapping with title and labels (got ${describe(item)})`);
        return [];
      }
      unknownKeys(item, path, ['title', 'label', 'labels', 'collapse-after', 'when']);
      if (item.title === undefined) fail([...path, 'title'], 'is required');
      const title = str([...path, 'title'], item.title, '', true);
      let collapseAfter = 0;
      const ca = item['collapse-after'];
      if (ca !== undefined) {
        const n = typeof ca === 'string' && ca.trim() !== '' ? Number(ca) : ca;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) fail([...path, 'collapse-after'], `must be an integer >= 0 (got ${describe(ca)})`);
        else collapseAfter = n;
      }
      // `label` replaces `labels` when both are written.
      const labels = item.label !== undefined ? [str([...path, 'label'], item.label, '', true)] : strList([...path, 'labels'], item.labels, true);
      return [{ title, collapseAfter, labels, when: conditions([...path, 'when'], item.when) }];
    });
  }

  function conditions(path: KeyPath, value: unknown): MatchCondition[] {
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    return list.flatMap((item, i): MatchCondition[] => {
      const at = Array.isArray(value) ? [...path, i] : path;
      if (!isObject(item)) {
        fail(at, `must be a condition mapping with label, labels or conventional (got ${describe(item)})`);
        return [];
      }
      unknownKeys(item, at, ['label', 'labels', 'conventional']);
      const labels = [...(item.label !== undefined ? [str([...at, 'label'], item.label, '', false)] : []), ...strList([...at, 'labels'], item.labels, true)];
      const conventional = item.conventional === undefined ? undefined : conventionalCondition([...at, 'conventional'], item.conventional);
      if (labels.length === 0 && !conventional) {
        fail(at, 'needs label, labels or conventional');
        return [];
      }
      return [{ labels, ...(conventional ? { conventional } : {}) }];
    });
  }

  function conventionalCondition(path: KeyPath, value: unknown): ConventionalCondition | undefined {
    if (value === true) return { types: [], scopes: [] };
    if (!isObject(value)) {
      fail(path, `must be true or a mapping with type(s), scope(s), breaking (got ${describe(value)})`);
      return undefined;
    }
    unknownKeys(value, path, ['type', 'types', 'scope', 'scopes', 'breaking']);
    const types = [...(value.type !== undefined ? [str([...path, 'type'], value.type, '', false)] : []), ...strList([...path, 'types'], value.types, true)];
    const scopes = [...(value.scope !== undefined ? [str([...path, 'scope'], value.scope, '', false)] : []), ...strList([...path, 'scopes'], value.scopes, true)];
    const breaking = value.breaking === undefined ? undefined : bool([...path, 'breaking'], value.breaking, false);
    return { types: types.map((t) => t.toLowerCase()), scopes, ...(breaking === undefined ? {} : { breaking }) };
  }

  function replacers(value: unknown): Replacer[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      fail(['replacers'], `must be a list of {search, replace} (got ${describe(value)})`);
      return [];
    }
    return value.flatMap((item, i): Replacer[] => {
      const path = ['replacers', i];
      if (!isObject(item)) {
        fail(path, `must be a mapping with search and replace (got ${describe(item)})`);
        return [];
      }
      unknownKeys(item, path, ['search', 'replace']);
      if (typeof item.search !== 'string' || item.search === '') {
        fail([...path, 'search'], '"search" is required and must be a regexp or a string');
        return [];
      }
      if (item.replace === undefined) {
        fail([...path, 'replace'], 'is required (may be "")');
        return [];
      }
      const replace = str([...path, 'replace'], item.replace, '', true);
      try {
        return [{ search: searchToRegExp(item.search), replace }];
      } catch (err) {
        // Release Drafter drops a replacer whose regular expression does not compile.
        warn([...path, 'search'], `bad regular expression ${JSON.stringify(item.search)} (${(err as Error).message}); replacer ignored`);
        return [];
      }
    });
  }

  function versionResolver(value: unknown): DrafterConfig['versionResolver'] {
    const out: DrafterConfig['versionResolver'] = {
      major: { labels: [], conventional: [] },
      minor: { labels: [], conventional: [] },
      patch: { labels: [], conventional: [] },
      default: 'patch',
    };
    if (value === undefined) return out;
    const path = ['version-resolver'];
    if (!isObject(value)) {
      fail(path, `must be a mapping with major, minor, patch and default (got ${describe(value)})`);
      return out;
    }
    unknownKeys(value, path, ['major', 'minor', 'patch', 'default']);
    for (const key of ['major', 'minor', 'patch'] as const) {
      const rule = value[key];
      if (rule === undefined) continue;
      if (!isObject(rule)) {
        fail([...path, key], `must be a mapping with labels (got ${describe(rule)})`);
        continue;
      }
      unknownKeys(rule, [...path, key], ['labels', 'conventional']);
      const parsed: VersionResolverRule = { labels: strList([...path, key, 'labels'], rule.labels, true), conventional: [] };
      if (rule.conventional !== undefined) {
        const list = Array.isArray(rule.conventional) ? rule.conventional : [rule.conventional];
        list.forEach((c, i) => {
          const cond = conventionalCondition(Array.isArray(rule.conventional) ? [...path, key, 'conventional', i] : [...path, key, 'conventional'], c);
          if (cond) parsed.conventional.push(cond);
        });
      }
      out[key] = parsed;
    }
    out.default = oneOf<SemverIncrement>([...path, 'default'], value.default, ['major', 'minor', 'patch'], 'patch');
    return out;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
