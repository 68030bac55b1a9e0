// `.github/release-drafter.yml` in Release Drafter's format: read the YAML (errors carry the file's
// line), apply Release Drafter's defaults, validate every key (errors name file:line and key), and
// warn about keys Release Drafter does not know (or that runway accepts but does not act on).
// The YAML reading is in config-yaml.ts, the key checks in config-validate.ts, the defaults in
// config-defaults.ts.

import { readFileSync } from 'node:fs';
import type { KeyPath } from '../../config/key-lines.js';
import { DrafterConfigError } from './config-problems.js';
import { validate } from './config-validate.js';
import { asRoot, extendsPath, parseYaml, type Located } from './config-yaml.js';
import type { DrafterConfig } from './types.js';

// Kept importable from here (the CLI and the tests import them by this path).
export { DEFAULTS } from './config-defaults.js';
export { DrafterConfigError, formatProblem, type ConfigProblem } from './config-problems.js';
export { parseYaml };

export const DEFAULT_CONFIG_PATH = '.github/release-drafter.yml';

export interface LoadedConfig {
  config: DrafterConfig;
  warnings: string[];
  /** Files read, the extended ones first. */
  files: string[];
}

/** Reads a config file (following a local `_extends`). */
export function loadDrafterConfig(path: string): LoadedConfig {
  const chain: { raw: Record<string, unknown>; located: Located }[] = [];
  let current: string | undefined = path;
  const seen = new Set<string>();
  while (current) {
    if (seen.has(current))
      throw new DrafterConfigError([
        { file: current, line: undefined, key: '_extends', message: 'extends itself (a cycle)' },
      ]);
    seen.add(current);
    let text: string;
    try {
      text = readFileSync(current, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DrafterConfigError([
        {
          file: current,
          line: undefined,
          key: '',
          message:
            code === 'ENOENT'
              ? 'no such file (Release Drafter reads .github/release-drafter.yml; pass --config FILE)'
              : (err as Error).message,
        },
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
      for (const [k, line] of located.lines)
        if (k === key || k.startsWith(`${key}.`) || k.startsWith(`${key}[`)) lines.set(k, line);
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
    throw new DrafterConfigError([
      {
        file,
        line: located.lines.get('_extends'),
        key: '_extends',
        message: 'is only supported when the config is read from a file',
      },
    ]);
  }
  return { ...validate(raw, { lines: located.lines, fileOf: () => file, file }), files: [file] };
}
