// Reading a release-drafter config file's YAML: its value, the line of every key (for errors), and
// the local file a `_extends` names.

import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { formatKey, type KeyPath } from '../../config/key-lines.js';
import { DrafterConfigError } from './config-problems.js';

export interface Located {
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
      doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        key: '',
        message: `invalid YAML: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
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

/** The file's value as the root mapping of keys; an empty or non-mapping file is an error. */
export function asRoot(located: Located): Record<string, unknown> {
  const v = located.value;
  if (v === null || v === undefined) {
    throw new DrafterConfigError([
      {
        file: located.file,
        line: undefined,
        key: '',
        message: 'is empty; it needs at least `template` (e.g. `template: "$CHANGES"`)',
      },
    ]);
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new DrafterConfigError([
      { file: located.file, line: 1, key: '', message: 'must be a YAML mapping of keys (template, categories, …)' },
    ]);
  }
  return v as Record<string, unknown>;
}

/** The file a `_extends` names, resolved against the extending file; only local files. */
export function extendsPath(ext: unknown, located: Located): string {
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
