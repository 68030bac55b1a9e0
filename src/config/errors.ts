// Every configuration problem surfaces as a ConfigError that names the file, the dotted key and,
// when it can be found, the line: people fix config by jumping to `runway.toml:12`.

export interface ConfigProblem {
  file: string;
  /** Dotted path of the offending key (`environments.staging.deploy.max_surge`); '' for syntax errors. */
  key: string;
  line?: number;
  /** What is wrong, without the location. */
  problem: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string;
  readonly key: string;
  readonly line: number | undefined;
  readonly problem: string;
  /** Further problems found in the same pass (this error is the first in source order). */
  readonly others: readonly ConfigError[];

  constructor(p: ConfigProblem, others: readonly ConfigError[] = []) {
    super(formatProblem(p));
    this.file = p.file;
    this.key = p.key;
    this.line = p.line;
    this.problem = p.problem;
    this.others = others;
  }

  override toString(): string {
    return this.message;
  }

  /** This problem and every other one found, one per line. */
  report(): string {
    return [this.message, ...this.others.map((e) => e.message)].join('\n');
  }

  /** Throw the first of `errors` (by line) carrying the rest; no-op when empty. */
  static throwAll(errors: ConfigError[]): void {
    if (errors.length === 0) return;
    const sorted = sortByLocation(errors);
    const [first, ...rest] = sorted;
    throw new ConfigError(first!, rest);
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.key ? `${where}: ${p.key}: ${p.problem}` : `${where}: ${p.problem}`;
}

// Problems come in line order within a file (files in the order they were first reported), lines
// unknown last, so "the first problem" is the one nearest the top of the file being read.
function sortByLocation(errors: ConfigError[]): ConfigError[] {
  const fileRank = new Map<string, number>();
  for (const e of errors) if (!fileRank.has(e.file)) fileRank.set(e.file, fileRank.size);
  return [...errors].sort(
    (a, b) =>
      fileRank.get(a.file)! - fileRank.get(b.file)! ||
      (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER),
  );
}
