// TOML text → plain data, with syntax errors as located ConfigErrors.

import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './errors.js';

export function tomlDocument(source: string, file: string): Record<string, unknown> {
  try {
    return parse(source) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    // smol-toml's message repeats the code excerpt after a blank line; the first line is the sentence.
    const sentence = e.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
    throw new ConfigError({ file, key: '', line: e.line, problem: `invalid TOML: ${sentence} (column ${e.column})` });
  }
}
