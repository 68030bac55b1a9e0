import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A small sim project: web 6 + worker 2 on a virtual clock, releases created by the test. */
export function smallConfig(extra = ''): string {
  return `
[app]
name = "shop"
[app.processes]
web = { count = 6, command = "bin/web" }
worker = { count = 2, command = "bin/worker" }
[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"

# Both allow CLI deploys: these tests drive deploys from the CLI. The policy itself (automatic
# environments, allow_cli = false, --emergency) is tested in test/triggers and test/cli/control-plane.
[environments.staging]
provider = "sim"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "waves" }

[sim]
clock = "virtual"
initial_release = "v1"
[sim.faults]
unhealthy_releases = ["v-broken"]
${extra}`;
}

export interface Project {
  dir: string;
  config: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  cleanup(): void;
}

export function project(source = smallConfig()): Project {
  const dir = mkdtempSync(join(tmpdir(), 'runway-cli-'));
  const config = join(dir, 'runway.toml');
  writeFileSync(config, source);
  return {
    dir,
    config,
    async run(args) {
      let stdout = '';
      let stderr = '';
      const io: Io = {
        stdout: { write: (t) => void (stdout += t), isTTY: false },
        stderr: { write: (t) => void (stderr += t), isTTY: false },
        env: { RUNWAY_USER: 'tester', NO_COLOR: '1' },
        cwd: dir,
      };
      const code = await runCli(args, io);
      return { code, stdout, stderr };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Run the real CLI as a child process (what a user's shell does). */
export function spawnCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...args],
    {
      cwd,
      env: { ...process.env, NO_COLOR: '1', RUNWAY_USER: 'tester', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveDone) =>
    child.on('exit', (code) => resolveDone({ code, stdout, stderr })),
  );
  return { child, done };
}
