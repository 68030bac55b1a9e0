// `runway demo`: the demo app (examples/demo-app) as real processes on this host behind runway's
// proxy. It boots v1 (4 web + 2 worker processes), sends steady traffic through the proxy, deploys
// v2 with `rolling` under that traffic, then v3 — whose web processes never pass /up — which is
// rolled back on its own; the proxy answers every request throughout; then v4, which passes /up but
// answers 500 to a quarter of real requests — analysis (the proxy's error rate of v4 against v2's)
// rolls it back after its first machine, and the demo says how many requests v4 answered and how
// many of those failed. Then `runway local down`
// stops every process it started and frees every port (also on Ctrl-C; `--hold` keeps the fleet up
// until Ctrl-C). Every step is the ordinary CLI command, so what it shows is real.
//
// `runway demo --sim`: the 500-machine simulated fleet (examples/sim/runway.toml) — production
// `immediate`, staging `bluegreen`, then a broken release that staging refuses.

import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pc } from '../colors.js';
import { readSupervisorInfo } from '../../providers/local/launcher.js';
import { processStartTime } from '../../providers/local/proc.js';
import type { Io } from '../io.js';
import { deployCommand } from './deploy.js';
import { deploysListCommand, releasesCreateCommand } from './deploys.js';
import { localDownCommand, localUpCommand } from './local.js';
import { statusCommand } from './status.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../examples/sim/runway.toml', import.meta.url));
export const DEMO_APP = fileURLToPath(new URL('../../../examples/demo-app', import.meta.url));

export interface DemoOptions {
  keep?: boolean;
  sim?: boolean;
  hold?: boolean;
}

export async function demoCommand(options: DemoOptions, io: Io, signal?: AbortSignal): Promise<number> {
  return options.sim ? simDemo(options, io, signal) : localDemo(options, io, signal);
}

const ENV = 'dev';

async function localDemo(options: DemoOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-demo-'));
  copyDir(DEMO_APP, join(dir, 'demo-app'));
  const config = join(dir, 'demo-app', 'runway.toml');
  const stateDir = join(dir, 'demo-app', '.runway', 'local', `demo-${ENV}`);
  // The supervisor this demo starts shuts down (every machine with it) if the demo process dies.
  const demoIo: Io = {
    ...io,
    env: {
      ...io.env,
      RUNWAY_STORE: join(dir, 'runway.db'),
      RUNWAY_USER: io.env.RUNWAY_USER ?? 'demo',
      RUNWAY_LOCAL_OWNER_PID: String(process.pid),
    },
  };
  const say = (text: string) => io.stdout.write(`\n${pc.cyan('▸')} ${pc.bold(text)}\n`);
  const note = (text: string) => io.stdout.write(`  ${text}\n`);
  let traffic: Traffic | undefined;
  let pids: number[] = [];
  let proxyPort = 0;
  let ok = false;
  const codes: Record<string, number> = {};
  const steps = async (): Promise<number> => {
    say('releases v1 to v4 of the demo app: directories with a manifest (releases/<version>/runway-release.toml)');
    const notes: Record<string, string> = {
      v3: 'never passes /up',
      v4: 'passes /up, but 25 % of its requests answer 500',
    };
    for (const version of ['v1', 'v2', 'v3', 'v4']) {
      const code = await releasesCreateCommand(
        version,
        { config, image: `releases/${version}`, notes: notes[version] },
        demoIo,
      );
      if (code !== 0) return code;
    }

    say("start the environment's supervisor: it owns the machine processes and the proxy, and outlives each command");
    const up = await localUpCommand({ config, env: ENV }, demoIo);
    if (up !== 0) return up;
    const info = readSupervisorInfo(stateDir);
    if (!info) throw new Error(`the supervisor did not start (see ${join(stateDir, 'supervisor.log')})`);
    proxyPort = info.proxyPort;
    note(
      `the app is served at ${pc.bold(info.proxyUrl)} (try \`curl ${info.proxyUrl}/\`${options.hold ? '' : '; `runway demo --hold` keeps it up'})`,
    );

    say('deploy v1: 4 web and 2 worker processes, each on its own port, checked on /up before they take traffic');
    codes.v1 = await deployCommand({ config, env: ENV, release: 'v1' }, demoIo, signal);
    if (signal?.aborted) return 3;
    if (codes.v1 !== 0) return codes.v1;

    traffic = new Traffic(info.proxyUrl);
    say(`traffic: ${traffic.rate} requests/s through the proxy from now on, every answer checked`);

    say('deploy v2 with `rolling`: each web machine is cordoned, drained, restarted on v2 and checked before the next');
    codes.v2 = await deployCommand({ config, env: ENV, release: 'v2' }, demoIo, signal);
    note(traffic.lap('during the v2 deploy'));
    if (signal?.aborted) return 3;

    say('deploy v3, whose web processes start but never pass /up: it is rolled back on its own, v2 keeps serving');
    codes.v3 = await deployCommand({ config, env: ENV, release: 'v3' }, demoIo, signal);
    note(traffic.lap('during the v3 deploy and its rollback'));
    if (signal?.aborted) return 3;

    say(
      "deploy v4, which passes /up but answers 500 to a quarter of real requests: analysis compares its error rate with v2's and rolls it back",
    );
    codes.v4 = await deployCommand({ config, env: ENV, release: 'v4' }, demoIo, signal);
    const bad = traffic.since.answeredBy('v4');
    note(traffic.lap('during the v4 deploy and its rollback'));
    note(
      `v4 answered ${bad.requests} of them, ${bad.errors} with a 500 (${bad.requests ? ((100 * bad.errors) / bad.requests).toFixed(1) : '0'} %) before analysis rolled it back`,
    );
    if (signal?.aborted) return 3;

    say('the fleet after the rollbacks: the same supervisor and proxy, every machine back on v2');
    await localUpCommand({ config, env: ENV }, demoIo, false);
    say('deploy history');
    await deploysListCommand({ config }, demoIo);

    if (options.hold && !signal?.aborted) {
      say(`holding: ${info.proxyUrl} serves v2 until you press Ctrl-C`);
      await new Promise<void>((resolve) => {
        if (!signal) return;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    await traffic.stop();
    const total = traffic.total();
    note(traffic.lap('in all', total));
    // Every request failed was answered by v4 (the release analysis caught); none failed otherwise.
    const v4 = total.answeredBy('v4');
    ok =
      codes.v2 === 0 &&
      codes.v3 === 1 &&
      codes.v4 === 1 &&
      total.failed === 0 &&
      total.non2xx === v4.errors &&
      !total.releases.has('v3') &&
      total.releases.has('v2');
    return 0;
  };

  let result = 70;
  let thrown: unknown;
  try {
    result = await steps();
  } catch (error) {
    thrown = error;
  }
  // Whatever happened (Ctrl-C included): stop every process the demo started and free every port.
  await (traffic as Traffic | undefined)?.stop();
  const running = readSupervisorInfo(stateDir);
  if (running) pids = [running.pid, ...machinePids(stateDir)];
  say('stop everything: `runway local down`');
  await localDownCommand({ config, env: ENV }, demoIo).catch((error: unknown) =>
    io.stderr.write(`runway: ${(error as Error).message}\n`),
  );
  const left = pids.filter((pid) => processStartTime(pid) !== undefined);
  const portFree = proxyPort === 0 || (await closed(proxyPort));
  note(
    `${pids.length} processes were running, ${left.length} left${left.length ? `: ${left.join(', ')}` : ''}; proxy port ${proxyPort || '—'} ${portFree ? 'free' : pc.red('still open')}`,
  );
  if (options.keep) io.stdout.write(`demo directory kept at ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  if (thrown) throw thrown;
  if (result !== 0) return result;
  const clean = left.length === 0 && portFree;
  io.stdout.write(
    ok && clean
      ? `\n${pc.green('demo finished as expected')}: v2 serving after a deploy under traffic, v3 (failing /up) and v4 (failing requests, caught by analysis) rolled back on their own, no request failed but v4's, nothing left running.\n`
      : `\n${pc.red('demo did not go as expected')} (exit codes: ${JSON.stringify(codes)}; processes left: ${left.length}; proxy port free: ${portFree})\n`,
  );
  return ok && clean ? 0 : 1;
}

/** Pids of the machine processes a supervisor's state directory records. */
function machinePids(stateDir: string): number[] {
  const machines = join(stateDir, 'machines');
  try {
    return readdirSync(machines)
      .filter((f) => f.endsWith('.json'))
      .map((f) => (JSON.parse(readFileSync(join(machines, f), 'utf8')) as { proc?: { pid: number } }).proc?.pid)
      .filter((pid): pid is number => typeof pid === 'number');
  } catch {
    return [];
  }
}

function closed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function copyDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === '.runway' || name === 'node_modules') continue;
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyDir(src, join(to, name));
    else copyFileSync(src, join(to, name));
  }
}

interface Tally {
  requests: number;
  failed: number;
  non2xx: number;
  releases: Map<string, number>;
  /** Answers that were not 2xx, by the release that gave them. */
  errorsBy: Map<string, number>;
  latencies: number[];
  answeredBy(release: string): { requests: number; errors: number };
}

/** Steady GET traffic through the proxy over keep-alive connections: every answer counted and checked. */
class Traffic {
  readonly rate = 40;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private readonly all: Tally = emptyTally();
  since: Tally = emptyTally();
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(private readonly url: string) {
    const concurrency = 4;
    const gap = (1000 * concurrency) / this.rate;
    this.loops = Array.from({ length: concurrency }, async (_, i) => {
      await sleep((gap / concurrency) * i);
      while (!this.stopped) {
        const started = performance.now();
        await this.once();
        await sleep(Math.max(0, gap - (performance.now() - started)));
      }
    });
  }

  private once(): Promise<void> {
    const started = performance.now();
    return new Promise((resolve) => {
      const req = request(`${this.url}/`, { agent: this.agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.once('end', () => {
          const release = /"release":"([^"]+)"/.exec(body)?.[1] ?? '?';
          this.record(res.statusCode ?? 0, release, performance.now() - started);
          resolve();
        });
        res.once('error', () => {
          this.record(-1, '', 0);
          resolve();
        });
      });
      req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
      req.once('error', () => {
        this.record(-1, '', 0);
        resolve();
      });
      req.end();
    });
  }

  private record(status: number, release: string, ms: number): void {
    for (const t of [this.all, this.since]) {
      t.requests++;
      if (status < 0) t.failed++;
      else if (status < 200 || status >= 300) {
        t.non2xx++;
        t.errorsBy.set(release, (t.errorsBy.get(release) ?? 0) + 1);
      } else t.releases.set(release, (t.releases.get(release) ?? 0) + 1);
      if (status >= 0) t.latencies.push(ms);
    }
  }

  total(): Tally {
    return this.all;
  }

  /** A line about the traffic since the last lap (or `tally`), and start a new lap. */
  lap(what: string, tally?: Tally): string {
    const t = tally ?? this.since;
    if (!tally) this.since = emptyTally();
    const sorted = [...t.latencies].sort((a, b) => a - b);
    const p = (q: number) =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1) : '—';
    const by = [...t.releases].map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
    const bad = t.failed + t.non2xx;
    const verdict =
      bad === 0
        ? pc.green(`${t.requests} requests, 0 failed`)
        : pc.red(`${t.requests} requests, ${t.failed} failed, ${t.non2xx} not 2xx`);
    return `traffic ${what}: ${verdict}; answered by ${by}; p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

function emptyTally(): Tally {
  const t: Tally = {
    requests: 0,
    failed: 0,
    non2xx: 0,
    releases: new Map(),
    errorsBy: new Map(),
    latencies: [],
    answeredBy: (release) => {
      const errors = t.errorsBy.get(release) ?? 0;
      return { requests: (t.releases.get(release) ?? 0) + errors, errors };
    },
  };
  return t;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function simDemo(options: DemoOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-demo-'));
  const demoIo: Io = {
    ...io,
    env: { ...io.env, RUNWAY_STORE: join(dir, 'runway.db'), RUNWAY_USER: io.env.RUNWAY_USER ?? 'demo' },
  };
  const config = DEMO_CONFIG;
  const say = (text: string) => io.stdout.write(`\n${pc.cyan('▸')} ${pc.bold(text)}\n`);
  try {
    say(`releases of mechanic (config ${config})`);
    for (const version of ['v1', 'v2', 'v3-broken']) {
      const code = await releasesCreateCommand(
        version,
        { config, image: `registry.example/mechanic:${version}` },
        demoIo,
      );
      if (code !== 0) return code;
    }
    say('production starts on v1 (500 machines: web 400, worker 100)');
    await statusCommand({ config, env: 'production' }, demoIo);

    say('production: deploy v2 with `immediate` (DEPLOY_STRATEGY from the environment layer), tracking convergence');
    // Each deploy arrives the way its environment's trigger brings it (docs/policy.md): production on
    // a published release (the demo user publishes it), staging on a push to main (automation).
    const released = {
      trigger: 'release' as const,
      initiator: { kind: 'human' as const, name: demoIo.env.RUNWAY_USER ?? 'demo' },
    };
    const pushed = {
      trigger: 'push' as const,
      branch: 'main',
      initiator: { kind: 'automation' as const, name: 'demo' },
      label: 'demo:push',
    };
    const prod = await deployCommand({ config, env: 'production', release: 'v2', origin: released }, demoIo, signal);
    if (signal?.aborted) return 3;

    say('staging: deploy v2 with `bluegreen` (DEPLOY_STRATEGY from the org layer)');
    const staging = await deployCommand({ config, env: 'staging', release: 'v2', origin: pushed }, demoIo, signal);
    if (signal?.aborted) return 3;

    say('staging: deploy v3-broken, whose machines never pass checks: green is destroyed, blue keeps serving v2');
    const broken = await deployCommand(
      { config, env: 'staging', release: 'v3-broken', origin: pushed },
      demoIo,
      signal,
    );

    say('staging after the failed deploy');
    await statusCommand({ config, env: 'staging' }, demoIo);
    say('deploy history');
    await deploysListCommand({ config }, demoIo);

    const asExpected = prod === 0 && staging === 0 && broken === 1;
    io.stdout.write(
      asExpected
        ? `\n${pc.green('demo finished as expected')}: v2 everywhere, v3-broken refused without touching a serving machine.\n`
        : `\n${pc.red('demo did not go as expected')} (exit codes: production ${prod}, staging ${staging}, broken ${broken})\n`,
    );
    if (options.keep) io.stdout.write(`store kept at ${join(dir, 'runway.db')}\n`);
    return asExpected ? 0 : 1;
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}
