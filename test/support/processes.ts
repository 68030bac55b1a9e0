// Real runway processes for tests: `runway sim serve` (an out-of-process Fly-compatible fleet whose
// state outlives any runway client) and `runway server` instances, each killed in `stop`.

import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Child {
  child: ChildProcess;
  /** What it printed on stderr so far (for failure messages). */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function runway(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...args],
    {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    },
  );
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : null))),
  );
  return { child, exited };
}

function stopper(child: ChildProcess, exited: Promise<number | null>) {
  return (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
}

/**
 * How long a child may take to start before the test gives up (and kills it). Generous: it is a cap
 * for a hung start, not an expectation; on a loaded 2-core machine tsx alone can take tens of seconds.
 */
const START_CAP_MS = 120_000;

/** `runway sim serve` on a free port; resolves once it printed its address (`--json`). */
export function startSimServe(args: string[], token: string): Promise<Child & { url: string }> {
  const { child, exited } = runway(['sim', 'serve', '--port', '0', '--json', ...args], { FLY_API_TOKEN: token });
  return new Promise((resolveStart, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sim serve did not start in ${START_CAP_MS / 1000} s: ${out} ${err}`));
    }, START_CAP_MS);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        const info = JSON.parse(out) as { url: string };
        clearTimeout(timer);
        resolveStart({ child, url: info.url, log: () => err, stop: stopper(child, exited) });
      } catch {
        // not all of it yet
      }
    });
    child.on('exit', (code) => reject(new Error(`sim serve exited (${code}): ${err}`)));
  });
}

/** `runway server` on a free port; resolves with its URL once it is listening. */
export function startRunwayServer(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  startTimeoutMs = START_CAP_MS,
): Promise<Child & { url: string }> {
  const { child, exited } = runway(['server', '--port', '0', ...args], env, cwd);
  return new Promise((resolveStart, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runway server did not start in ${startTimeoutMs / 1000} s: ${err}`));
    }, startTimeoutMs);
    child.stdout!.resume();
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1]!, log: () => err, stop: stopper(child, exited) });
      }
    });
    child.on('exit', (code) => reject(new Error(`runway server exited (${code}): ${err}`)));
  });
}
