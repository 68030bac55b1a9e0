// A problem in a release-drafter config: file, line and key, and the error that carries them all.

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
