// Run the CLI in-process with a chosen working directory and environment.

import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

export async function cli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (t) => void (stdout += t), isTTY: false },
    stderr: { write: (t) => void (stderr += t), isTTY: false },
    env: { RUNWAY_USER: 'tester', NO_COLOR: '1', ...env },
    cwd,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
