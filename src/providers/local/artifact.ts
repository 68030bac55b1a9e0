// Release artifacts of the `local` provider. The executor names a release only by its version; the
// provider finds what to run from it:
//
//   <releases_dir>/<version>/runway-release.toml   (or runway-release.json)
//
//     version = "v2"                        # optional; when given it must equal the directory name
//     [processes]                           # a command per process group, run by /bin/sh in this directory
//     web = "node server.js"
//     worker = { command = "node worker.js" }
//     [env]                                 # optional: variables of this release
//     GREETING = "hello from v2"
//
// A version without such a directory is "a command + version": each group runs the `command` of
// `[app.processes]` in runway.toml's directory, with RUNWAY_RELEASE set to the version.
//
// `checkArtifact` is what makes a broken artifact a clear error before any machine changes: the
// manifest parses, every group to run has a command, and each command's program exists.

import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { ProcessGroup } from '../../domain/types.js';
import { ProviderError } from '../contract.js';

export const MANIFEST_NAMES = ['runway-release.toml', 'runway-release.json'] as const;

export interface ReleaseArtifact {
  version: string;
  /** Directory the commands run in. */
  dir: string;
  /** Command per process group (groups without one cannot run this release). */
  commands: Record<string, string>;
  env: Record<string, string>;
  /** Where the commands came from, for messages. */
  source: string;
}

export interface ArtifactContext {
  releasesDir: string;
  /** runway.toml's directory: where "command + version" releases run. */
  configDir: string;
  processes: readonly ProcessGroup[];
}

/** Versions that can name a directory (no separators, no dot-dot). */
const SAFE_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

function bad(message: string): ProviderError {
  return new ProviderError('bad_request', message, { status: 422 });
}

export function resolveArtifact(version: string, ctx: ArtifactContext): ReleaseArtifact {
  const dir = SAFE_VERSION.test(version) && !version.includes('..') ? path.join(ctx.releasesDir, version) : undefined;
  if (dir && existsSync(dir) && statSync(dir).isDirectory()) {
    const manifest = MANIFEST_NAMES.map((n) => path.join(dir, n)).find((f) => existsSync(f));
    if (!manifest) throw bad(`release ${version}: ${dir} has no ${MANIFEST_NAMES.join(' or ')}`);
    return { ...readManifest(manifest, version), version, dir };
  }
  const commands: Record<string, string> = {};
  for (const g of ctx.processes) if (g.command) commands[g.name] = g.command;
  return { version, dir: ctx.configDir, commands, env: {}, source: 'runway.toml [app.processes]' };
}

function readManifest(file: string, version: string): Pick<ReleaseArtifact, 'commands' | 'env' | 'source'> {
  let data: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    data = file.endsWith('.json') ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    throw bad(`release ${version}: cannot read ${file}: ${(e as Error).message}`);
  }
  const where = (key: string) => `release ${version}: ${file}: ${key}`;
  if (!isRecord(data)) throw bad(`${where('')} expected a table`);
  for (const key of Object.keys(data)) {
    if (!['version', 'processes', 'env'].includes(key))
      throw bad(`${where(key)}: unknown key (expected version, processes, env)`);
  }
  if (data.version !== undefined && data.version !== version) {
    throw bad(`${where('version')}: says ${JSON.stringify(data.version)} but the directory is ${version}`);
  }
  if (!isRecord(data.processes))
    throw bad(`${where('processes')}: missing; expected a command per process group, e.g. web = "node server.js"`);
  const commands: Record<string, string> = {};
  for (const [group, value] of Object.entries(data.processes)) {
    const command =
      typeof value === 'string'
        ? value
        : isRecord(value) && typeof value.command === 'string'
          ? value.command
          : undefined;
    if (!command || !command.trim())
      throw bad(`${where(`processes.${group}`)}: expected a command string or { command = "…" }`);
    commands[group] = command;
  }
  const env: Record<string, string> = {};
  if (data.env !== undefined) {
    if (!isRecord(data.env)) throw bad(`${where('env')}: expected a table of variables`);
    for (const [k, v] of Object.entries(data.env)) {
      if (!['string', 'number', 'boolean'].includes(typeof v))
        throw bad(`${where(`env.${k}`)}: expected a string, number or boolean`);
      env[k] = String(v);
    }
  }
  return { commands, env, source: file };
}

/**
 * Throw a bad_request ProviderError unless `groups` can all run `version`: the artifact resolves, each
 * group has a command, and each command's program is found (relative to the release directory, or
 * on PATH). `extraCommands` (a release command) are checked the same way.
 */
export function checkArtifact(
  version: string,
  ctx: ArtifactContext,
  groups: readonly string[],
  extraCommands: readonly string[] = [],
  pathEnv = process.env.PATH ?? '',
): ReleaseArtifact {
  const artifact = resolveArtifact(version, ctx);
  for (const group of groups) {
    const command = artifact.commands[group];
    if (!command) {
      throw bad(`release ${version}: no command for process group "${group}" in ${artifact.source}`);
    }
    checkCommand(command, artifact.dir, pathEnv, `release ${version}: ${group}`);
  }
  for (const command of extraCommands)
    checkCommand(command, artifact.dir, pathEnv, `release ${version}: release command`);
  return artifact;
}

/** Shell words that are not programs on PATH. */
const SHELL_BUILTINS = new Set([
  'exec',
  'cd',
  '.',
  'source',
  'eval',
  'set',
  'export',
  'true',
  ':',
  'test',
  '[',
  'echo',
  'printf',
  'sleep',
  'env',
  'nohup',
  'trap',
  'ulimit',
  'umask',
  'wait',
  'read',
  'if',
  'for',
  'while',
  'case',
  '(',
  '{',
]);

export function checkCommand(command: string, dir: string, pathEnv: string, what: string): void {
  const program = programOf(command);
  if (program === undefined || SHELL_BUILTINS.has(program)) return;
  if (program.includes('/')) {
    const file = path.resolve(dir, program);
    if (!existsSync(file)) throw bad(`${what}: command "${command}": ${program} does not exist (looked for ${file})`);
    try {
      accessSync(file, constants.X_OK);
    } catch {
      throw bad(`${what}: command "${command}": ${file} is not executable (chmod +x?)`);
    }
    return;
  }
  for (const d of pathEnv.split(path.delimiter)) {
    if (!d) continue;
    const file = path.join(d, program);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return;
    } catch {
      /* not here */
    }
  }
  throw bad(`${what}: command "${command}": program "${program}" not found on PATH`);
}

/** The program a simple shell command runs: its first word after variable assignments and `exec`. */
export function programOf(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  if (words[i] === 'exec') i++;
  const word = words[i];
  if (word === undefined || word === '') return undefined;
  // Quoted or expanded programs are left to the shell.
  if (/["'$`\\]/.test(word)) return undefined;
  return word;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** KEY=VALUE lines (dotenv): `#` comments, optional `export `, optional single or double quotes. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected KEY=VALUE`);
    let value = m[2]!;
    if (
      (value.startsWith('"') && value.endsWith('"') && value.length >= 2) ||
      (value.startsWith("'") && value.endsWith("'") && value.length >= 2)
    ) {
      value = value.slice(1, -1);
    }
    out[m[1]!] = value;
  });
  return out;
}

/**
 * The command /bin/sh runs for a machine: a simple command is `exec`-ed, so the machine's process is
 * the program itself (its pid, its exit status, its signals), not a shell waiting for it. Lists,
 * pipes, subshells and the like run as written; their whole process group gets the stop signal.
 */
export function shellCommand(command: string): string {
  const text = command.trim();
  if (/[;&|\n(){}`]/.test(text)) return text;
  const m = /^((?:[A-Za-z_][A-Za-z0-9_]*=[^\s'"]*\s+)*)(.*)$/s.exec(text);
  if (!m) return text;
  const [, assignments, rest] = m as unknown as [string, string, string];
  const first = rest.split(/\s+/)[0] ?? '';
  // An assignment with a quoted value (or anything else unusual) runs as written.
  if (
    !first ||
    first.includes('=') ||
    ['exec', 'if', 'for', 'while', 'until', 'case', '!', 'trap', 'cd', '.', 'source', 'eval', 'set', 'export'].includes(
      first,
    )
  )
    return text;
  return `${assignments}exec ${rest}`;
}
