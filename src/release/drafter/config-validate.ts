// Validating a release-drafter config's keys, with Release Drafter's defaults applied: every
// problem names file:line and key; unknown keys are warnings.

import { formatKey, type KeyPath } from '../../config/key-lines.js';
import { DEFAULTS, INERT_KEYS, UNSUPPORTED_KEYS, USED_KEYS } from './config-defaults.js';
import { DrafterConfigError, formatProblem, type ConfigProblem } from './config-problems.js';
import { searchToRegExp } from './template.js';
import type {
  Category,
  ConventionalCondition,
  DrafterConfig,
  MatchCondition,
  Replacer,
  SemverIncrement,
  VersionResolverRule,
} from './types.js';

export interface Ctx {
  lines: Map<string, number>;
  fileOf(path: KeyPath): string;
  file: string;
}

export function validate(raw: Record<string, unknown>, ctx: Ctx): { config: DrafterConfig; warnings: string[] } {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const lineOf = (path: KeyPath) => {
    for (let n = path.length; n > 0; n--) {
      const line = ctx.lines.get(formatKey(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  };
  const fail = (path: KeyPath, message: string) =>
    problems.push({
      file: path.length ? ctx.fileOf(path) : ctx.file,
      line: lineOf(path),
      key: formatKey(path),
      message,
    });
  const warn = (path: KeyPath, message: string) =>
    warnings.push(formatProblem({ file: ctx.fileOf(path), line: lineOf(path), key: formatKey(path), message }));
  const unknownKeys = (obj: Record<string, unknown>, path: KeyPath, known: readonly string[]) => {
    const unknown = Object.keys(obj).filter((k) => !known.includes(k));
    for (const k of unknown)
      warn([...path, k], `unknown key, ignored (known here: ${known.filter((x) => !x.startsWith('_')).join(', ')})`);
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
    if (Array.isArray(v) && v.length > 0)
      warn([key], 'not supported by runway (it needs the files each pull request changed); ignored');
  }
  for (const key of ['pull-request-limit', 'history-limit']) {
    const v = raw[key];
    if (v !== undefined && !(Number.isInteger(typeof v === 'string' ? Number(v) : v) && Number(v) > 0))
      fail([key], `must be a positive integer (got ${describe(v)})`);
  }
  if (raw.references !== undefined) strList(['references'], raw.references, false);
  if (raw.branches !== undefined) strList(['branches'], raw.branches, false);
  if (raw.autolabeler !== undefined && !Array.isArray(raw.autolabeler))
    fail(['autolabeler'], `must be a list (got ${describe(raw.autolabeler)})`);

  if (raw.template === undefined)
    fail(['template'], 'is required (the body of the release, e.g. "## Changes\\n\\n$CHANGES")');
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
    if (typeof text !== 'string' || (text !== '' && Number.isNaN(Date.parse(text))))
      fail(['initial-commits-since'], `must be an ISO 8601 date, e.g. "2025-06-18T10:29:51Z" (got ${describe(v)})`);
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
    noContributorsTemplate: str(
      ['no-contributors-template'],
      raw['no-contributors-template'],
      DEFAULTS.noContributorsTemplate,
      false,
    ),
    replacers: replacers(raw.replacers),
    sortBy: oneOf(['sort-by'], raw['sort-by'], ['merged_at', 'title'] as const, DEFAULTS.sortBy),
    sortDirection: oneOf(
      ['sort-direction'],
      raw['sort-direction'],
      ['ascending', 'descending'] as const,
      DEFAULTS.sortDirection,
    ),
    prerelease: bool(['prerelease'], raw.prerelease, DEFAULTS.prerelease),
    prereleaseIdentifier: str(
      ['prerelease-identifier'],
      raw['prerelease-identifier'],
      DEFAULTS.prereleaseIdentifier,
      true,
    ),
    includePreReleases: bool(['include-pre-releases'], raw['include-pre-releases'], DEFAULTS.includePreReleases),
    latest,
    versionResolver: versionResolver(raw['version-resolver']),
    filterByCommitish: bool(['filter-by-commitish'], raw['filter-by-commitish'], DEFAULTS.filterByCommitish),
    commitish: str(['commitish'], raw.commitish, DEFAULTS.commitish, true),
    initialCommitsSince,
  };

  const catchAll = config.categories.filter((c) => c.labels.length === 0 && c.when.length === 0);
  if (catchAll.length > 1) {
    fail(
      ['categories'],
      'Multiple categories detected with no labels. Only one category with no labels is supported for uncategorized pull requests.',
    );
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
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
          fail([...path, 'collapse-after'], `must be an integer >= 0 (got ${describe(ca)})`);
        else collapseAfter = n;
      }
      // `label` replaces `labels` when both are written.
      const labels =
        item.label !== undefined
          ? [str([...path, 'label'], item.label, '', true)]
          : strList([...path, 'labels'], item.labels, true);
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
      const labels = [
        ...(item.label !== undefined ? [str([...at, 'label'], item.label, '', false)] : []),
        ...strList([...at, 'labels'], item.labels, true),
      ];
      const conventional =
        item.conventional === undefined ? undefined : conventionalCondition([...at, 'conventional'], item.conventional);
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
    const types = [
      ...(value.type !== undefined ? [str([...path, 'type'], value.type, '', false)] : []),
      ...strList([...path, 'types'], value.types, true),
    ];
    const scopes = [
      ...(value.scope !== undefined ? [str([...path, 'scope'], value.scope, '', false)] : []),
      ...strList([...path, 'scopes'], value.scopes, true),
    ];
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
        warn(
          [...path, 'search'],
          `bad regular expression ${JSON.stringify(item.search)} (${(err as Error).message}); replacer ignored`,
        );
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
      const parsed: VersionResolverRule = {
        labels: strList([...path, key, 'labels'], rule.labels, true),
        conventional: [],
      };
      if (rule.conventional !== undefined) {
        const list = Array.isArray(rule.conventional) ? rule.conventional : [rule.conventional];
        list.forEach((c, i) => {
          const cond = conventionalCondition(
            Array.isArray(rule.conventional) ? [...path, key, 'conventional', i] : [...path, key, 'conventional'],
            c,
          );
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
