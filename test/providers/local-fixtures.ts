// Fixtures of the `local` provider's tests: release artifacts built on the demo app, an app config,
// a contract-suite harness, and the leak check (no process or port of a test left behind).

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RealClock } from '../../src/domain/clock.js';
import type { CheckConfig } from '../../src/config/types.js';
import type { ProcessGroup } from '../../src/domain/types.js';
import { getEnvironment, loadConfig } from '../../src/config/load.js';
import { connectSupervisor, stopSupervisor } from '../../src/providers/local/launcher.js';
import { LocalProvider, type LocalAppConfig } from '../../src/providers/local/local-provider.js';
import { resolveLocalOptions, type LocalOptionsInput } from '../../src/providers/local/options.js';
import type { Harness } from './contract-suite.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DEMO_APP = join(ROOT, 'examples/demo-app');
export const SERVER = join(DEMO_APP, 'server.js');
export const WORKER = join(DEMO_APP, 'worker.js');

export const RELEASES = {
  release: 'v1',
  nextRelease: 'v2',
  brokenRelease: 'v-broken',
  bootFailRelease: 'v-bootfail',
} as const;

/**
 * Releases under `dir`: v1, v2, v3 (healthy), v-broken (never passes /up), v-bootfail (exits on
 * boot; its bin/migrate fails), v-nocmd (a command that does not exist). v1/v2/v3 have a passing bin/migrate.
 */
export function writeReleases(dir: string): void {
  const release = (version: string, env: Record<string, string> = {}, web = `node ${SERVER}`, migrate = 'exit 0') => {
    const d = join(dir, version);
    mkdirSync(join(d, 'bin'), { recursive: true });
    const envLines = Object.entries(env).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
    writeFileSync(
      join(d, 'runway-release.toml'),
      [
        `version = "${version}"`,
        '[processes]',
        `web = ${JSON.stringify(web)}`,
        `worker = ${JSON.stringify(`node ${WORKER}`)}`,
        '[env]',
        ...envLines,
        '',
      ].join('\n'),
    );
    writeFileSync(join(d, 'bin/migrate'), `#!/bin/sh\necho "migrating to ${version}"\n${migrate}\n`);
    chmodSync(join(d, 'bin/migrate'), 0o755);
  };
  release('v1');
  release('v2');
  release('v3');
  release('v-broken', { DEMO_NEVER_HEALTHY: '1' });
  release('v-bootfail', { DEMO_EXIT_ON_BOOT: '1' }, undefined, 'echo "migration failed" >&2; exit 1');
  release('v-nocmd', {}, './bin/no-such-server --port $PORT');
}

export const WEB_CHECK: CheckConfig = {
  name: 'up',
  type: 'http',
  group: 'web',
  path: '/up',
  intervalMs: 100,
  timeoutMs: 1000,
  gracePeriodMs: 500,
};

export interface FixtureOptions {
  app?: string;
  env?: string;
  groups?: ProcessGroup[];
  local?: LocalOptionsInput;
  /** Tag every machine's environment carries, for the leak check. */
  tag: string;
}

export function tempDir(prefix = 'runway-local-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An app config over a fresh directory with the releases above. */
export function appConfig(dir: string, o: FixtureOptions): LocalAppConfig {
  const app = o.app ?? 'shop';
  const env = o.env ?? 'test';
  writeReleases(join(dir, 'releases'));
  return {
    app,
    env,
    configDir: dir,
    processes: o.groups ?? [
      { name: 'web', count: 2 },
      { name: 'worker', count: 1 },
    ],
    checks: [WEB_CHECK],
    vars: { RUNWAY_TEST_TAG: o.tag, LOG_LEVEL: 'debug' },
    options: resolveLocalOptions(
      { stopTimeoutMs: 3000, drainTimeoutMs: 3000, readyAfterMs: 300, queueTimeoutMs: 5000, ...o.local },
      { dir, app, env },
    ),
  };
}

let harnesses = 0;

/** The contract suite's harness over an in-process LocalProvider. */
export function localHarness(tag: string): () => Promise<Harness> {
  return async () => {
    const n = ++harnesses;
    const dir = tempDir();
    const config = appConfig(dir, { app: `contract${n}`, tag });
    const provider = await LocalProvider.open(config);
    const scope = { app: config.app, env: config.env };
    const clock = new RealClock();
    return {
      provider,
      scope,
      clock,
      ...RELEASES,
      async seed(groups, release) {
        let i = 0;
        const made = [];
        for (const g of groups) {
          for (let k = 0; k < g.count; k++) {
            made.push(
              await provider.create(scope, {
                group: g.name,
                release,
                role: 'serving',
                cordoned: false,
                launchId: `seed:${n}:${i++}`,
              }),
            );
          }
        }
        await Promise.all(
          made.map((m) =>
            provider.waitFor(
              scope,
              m.id,
              { state: 'started', healthy: true, instanceVersion: m.instanceVersion },
              15_000,
            ),
          ),
        );
      },
      timeouts: { readyMs: 15_000, brokenMs: 2_000 },
      async cleanup() {
        await provider.shutdown();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

/** Pids of live processes whose environment carries RUNWAY_TEST_TAG=tag (Linux /proc). */
export function taggedProcesses(tag: string): number[] {
  const needle = `RUNWAY_TEST_TAG=${tag}`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue;
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(needle)) out.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/** Process group of a live process (Linux /proc), or undefined. */
export function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** Resolve true when nothing accepts connections on 127.0.0.1:port. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Wait (bounded) until no tagged process is left; returns the ones still alive. */
export async function leftovers(tag: string, withinMs = 5000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = taggedProcesses(tag);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Last resort in `after` hooks: SIGKILL whatever a failed test left, so the run never leaks. */
export function killTagged(tag: string): void {
  for (const pid of taggedProcesses(tag)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** A suite's `after`: no process of `tag` outlives it (what is left is killed, then the check fails). */
export async function expectNoLeftovers(tag: string): Promise<void> {
  const left = await leftovers(tag);
  killTagged(tag);
  assert.deepEqual(left, [], 'no machine process outlives the suite');
}

/** runway.toml of a local project over `dir` (releases written there too). */
export function localToml(o: {
  app?: string;
  env?: string;
  web?: number;
  worker?: number;
  tag: string;
  local?: string;
  deploy?: string;
  strategy?: string;
  releaseCommand?: string;
}): string {
  const env = o.env ?? 'test';
  return `
[app]
name = "${o.app ?? 'shop'}"
${o.releaseCommand ? `release_command = ${JSON.stringify(o.releaseCommand)}\nrelease_command_timeout = "20s"` : ''}
[app.processes]
web = { count = ${o.web ?? 2} }
worker = { count = ${o.worker ?? 1} }
[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"
interval = "100ms"
timeout = "1s"
grace_period = "500ms"
[app.deploy]
wait_timeout = "15s"
drain_timeout = "3s"
${o.deploy ?? ''}
[environments.${env}]
provider = "local"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "${o.strategy ?? 'rolling'}", RUNWAY_TEST_TAG = "${o.tag}" }
[environments.${env}.local]
releases_dir = "releases"
stop_timeout = "3s"
drain_timeout = "3s"
ready_after = "300ms"
queue_timeout = "5s"
${o.local ?? ''}
`;
}

/** A project directory with runway.toml and the releases. */
export function localProject(o: Parameters<typeof localToml>[0]): { dir: string; config: string } {
  const dir = tempDir('runway-localp-');
  writeReleases(join(dir, 'releases'));
  const config = join(dir, 'runway.toml');
  writeFileSync(config, localToml(o));
  return { dir, config };
}

/** Process environment for commands that start supervisors: tagged, and owned by this test process. */
export function supervisorEnv(tag: string): NodeJS.ProcessEnv {
  return { RUNWAY_TEST_TAG: tag, RUNWAY_LOCAL_OWNER_PID: String(process.pid) };
}

/** The contract suite's harness through a supervisor process and its control API. */
export function remoteHarness(tag: string): () => Promise<Harness> {
  return async () => {
    const n = ++harnesses;
    const { dir, config: file } = localProject({ app: `remote${n}`, tag });
    const config = loadConfig(file);
    const env = getEnvironment(config, 'test');
    const connection = await connectSupervisor({ config, env, processEnv: supervisorEnv(tag) });
    const provider = connection!.client;
    const scope = { app: config.app.name, env: env.name };
    return {
      provider,
      scope,
      clock: new RealClock(),
      ...RELEASES,
      async seed(groups, release) {
        let i = 0;
        const made = [];
        for (const g of groups) {
          for (let k = 0; k < g.count; k++) {
            made.push(
              await provider.create(scope, {
                group: g.name,
                release,
                role: 'serving',
                cordoned: false,
                launchId: `seed:${n}:${i++}`,
              }),
            );
          }
        }
        await Promise.all(
          made.map((m) =>
            provider.waitFor(
              scope,
              m.id,
              { state: 'started', healthy: true, instanceVersion: m.instanceVersion },
              15_000,
            ),
          ),
        );
      },
      timeouts: { readyMs: 15_000, brokenMs: 2_000 },
      async cleanup() {
        await provider.close();
        await stopSupervisor(connection!.info.stateDir);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}
