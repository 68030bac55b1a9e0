// The processes of a chaos trial (bench/chaos.ts): the runway CLI and `runway sim serve`, each its own
// child, and reads of the sim server that ride out the faults a scenario injects.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, type Child } from '../test/support/processes.js';

export const TOKEN = 'chaos-token';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function cli(
  dir: string,
  cliArgs: string[],
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...cliArgs],
    {
      cwd: dir,
      env: { ...process.env, FLY_API_TOKEN: TOKEN, RUNWAY_USER: 'chaos', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))) };
}

/** `runway sim serve` in `dir` (its runway.toml's [sim] settings with --env), on `port` (0: any). */
export function simServe(
  dir: string,
  speed: number,
  extra: string[],
  port = 0,
): Promise<Child & { url: string; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(ROOT, 'src/cli/main.ts'),
      'sim',
      'serve',
      '--json',
      '--port',
      String(port),
      '--speed',
      String(speed),
      '--state',
      join(dir, 'fleet.json'),
      ...extra,
    ],
    {
      cwd: dir,
      env: { ...process.env, FLY_API_TOKEN: TOKEN, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : null))),
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        const info = JSON.parse(out) as { url: string; port: number };
        resolve({
          child,
          url: info.url,
          port: info.port,
          log: () => err,
          stop: (signal: NodeJS.Signals = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      } catch {
        // not all of it yet
      }
    });
    child.on('exit', (code) => reject(new Error(`sim serve exited (${code}): ${err}`)));
  });
}

/** A read or seed of the sim server, retried through the faults the scenario injects (5xx, 429). */
export async function fleetApi<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url + path, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...init.headers },
    });
    if (res.ok) return (await res.json()) as T;
    const text = await res.text();
    if ((res.status >= 500 || res.status === 429) && attempt < 100) {
      await sleep(100);
      continue;
    }
    throw new Error(`${path}: ${res.status} ${text}`);
  }
}

export interface FlyMachineLite {
  id: string;
  state: string;
  cordoned?: boolean;
  config?: { metadata?: Record<string, string> };
  checks?: { status: string }[];
}
