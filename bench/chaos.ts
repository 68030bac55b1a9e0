// Chaos benchmark (`npm run bench:chaos`): runway is killed -9 at a random moment of a 500-machine
// deploy (random strategy) against an out-of-process fleet (`runway sim serve`), started again with
// `runway deploy resume`, and the trial checks that
//   - the fleet converged to the target (every machine serving it, the desired count, in traffic);
//   - no machine was updated twice for that deploy (sim serve records every update with its deploy);
//   - no extra machine (green, canary, surge, release command) is left;
//   - the journal tells the true story: the deploy ended succeeded, it says it was resumed, and every
//     machine the deploy changed is accounted for (a step it recorded, or "already done" when resumed).
// For the SQLite store and for PostgreSQL.
//
//   npm run bench:chaos -- [--trials 20] [--stores sqlite,postgres] [--machines 500] [--speed 20] [--seed 1] [--json]

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { STRATEGIES } from '../src/domain/types.js';
import { openStore } from '../src/store/open-store.js';
import { ROOT, startSimServe } from '../test/support/processes.js';

const exec = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    machines: { type: 'string', default: '500' },
    speed: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const TRIALS = Number(args.trials);
const N = Number(args.machines);
const SPEED = Number(args.speed);
const PG = process.env.RUNWAY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOKEN = 'chaos-token';

// A small seeded generator: trials repeat for a seed (which strategy, when to kill).
let state = Number(args.seed) >>> 0 || 1;
function random(): number {
  state = (state * 1664525 + 1013904223) >>> 0;
  return state / 2 ** 32;
}

/** Rough simulated duration of a deploy (s), to pick a kill moment inside it. */
const EXPECTED_SIM_S: Record<string, number> = { immediate: 25, rolling: 90, canary: 100, waves: 150, bluegreen: N * 1.05 };

interface Trial {
  store: string;
  trial: number;
  strategy: string;
  killAfterMs: number;
  killedDuring: string;
  ok: boolean;
  problems: string[];
  wallMs: number;
}

function runway(dir: string, cliArgs: string[]) {
  return spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...cliArgs], {
    cwd: dir,
    env: { ...process.env, FLY_API_TOKEN: TOKEN, RUNWAY_USER: 'chaos', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function runwayOut(dir: string, cliArgs: string[]): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...cliArgs], {
      cwd: dir,
      env: { ...process.env, FLY_API_TOKEN: TOKEN, RUNWAY_USER: 'chaos', NO_COLOR: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    // Deploy commands exit non-zero on a failed deploy; their JSON is still on stdout.
    return (err as { stdout?: string }).stdout ?? '';
  }
}

async function fleetApi<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...init.headers } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface FlyMachineLite {
  id: string;
  state: string;
  config?: { metadata?: Record<string, string>; image?: string };
  checks?: { status: string }[];
}

async function trial(storeKind: string, i: number, fleetUrl: string): Promise<Trial> {
  const started = Date.now();
  const strategy = STRATEGIES[Math.floor(random() * STRATEGIES.length)]!;
  const app = `chaos-${storeKind}-${i}-${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'runway-chaos-'));
  const problems: string[] = [];
  let schema: string | undefined;
  try {
    let storeUrl = '.runway/runway.db';
    if (storeKind === 'postgres') {
      schema = `runway_chaos_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: PG });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      storeUrl = `${PG}?options=-c%20search_path%3D${schema}`;
    }
    const web = Math.round(N * 0.8);
    await fleetApi(fleetUrl, `/_sim/apps/${app}-production/seed`, {
      method: 'POST',
      body: JSON.stringify({ release: 'v1', groups: [{ name: 'web', count: web }, { name: 'worker', count: N - web }] }),
    });
    writeFileSync(
      join(dir, 'runway.toml'),
      `[app]
name = "${app}"
[app.processes]
web = { count = ${web} }
worker = { count = ${N - web} }

[environments.production]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "${strategy}" }
[environments.production.fly]
api_url = "${fleetUrl}"
time_scale = ${SPEED}

[store]
url = "${storeUrl}"
`,
    );
    await runwayOut(dir, ['releases', 'create', 'v2', '--image', `registry.fly.io/${app}:v2`]);

    // Deploy, then kill -9 at a random moment while it runs.
    const deploy = runway(dir, ['deploy', '--env', 'production', '--release', 'v2', '--json']);
    const exited = new Promise<number | null>((done) => deploy.on('exit', (code) => done(code)));
    deploy.stdout.resume();
    deploy.stderr.resume();
    const store = await openStore(storeUrl, dir);
    let deployId: string | undefined;
    for (let t = 0; t < 600 && !deployId; t++) {
      const [d] = await store.listDeploys({ app, limit: 1 });
      if (d?.status === 'running') deployId = d.id;
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (!deployId) throw new Error('the deploy never started');
    const killAfterMs = Math.round(random() * ((EXPECTED_SIM_S[strategy] ?? 100) * 1000 / SPEED) * 0.9);
    await new Promise((r) => setTimeout(r, killAfterMs));
    const journalBefore = await store.listJournal(deployId);
    const killedDuring = [...journalBefore].reverse().find((e) => e.kind === 'wave_started')?.message ?? 'before its first wave';
    deploy.kill('SIGKILL');
    const code = await exited;
    const wasRunning = (await store.getDeploy(deployId))?.status === 'running';

    // Start it again.
    if (wasRunning) {
      const out = await runwayOut(dir, ['deploy', 'resume', deployId, '--json']);
      const summary = JSON.parse(out || '{}') as { status?: string; error?: string };
      if (summary.status !== 'succeeded') problems.push(`resume ended ${summary.status}: ${summary.error ?? out.slice(0, 300)}`);
    } else if (code !== 0) problems.push(`killed deploy exited ${code} without finishing`);

    // The fleet converged.
    const machines = await fleetApi<FlyMachineLite[]>(fleetUrl, `/v1/apps/${app}-production/machines`);
    const live = machines.filter((m) => m.state !== 'destroyed' && m.state !== 'destroying');
    const serving = live.filter((m) => (m.config?.metadata?.runway_role ?? 'serving') === 'serving');
    const extras = live.length - serving.length;
    const onTarget = serving.filter((m) => m.config?.metadata?.runway_release === 'v2' && m.state === 'started').length;
    if (serving.length !== N) problems.push(`${serving.length} serving machines, expected ${N}`);
    if (onTarget !== N) problems.push(`${onTarget}/${N} serving machines run v2`);
    if (extras) problems.push(`${extras} extra machines left`);

    // No machine updated twice by the deploy.
    const stats = await fleetApi<{ server: { updates: { machineId: string; deployId: string | null }[] } }>(fleetUrl, '/_sim/stats');
    const counts = new Map<string, number>();
    for (const u of stats.server.updates) if (u.deployId === deployId) counts.set(u.machineId, (counts.get(u.machineId) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    if (twice.length) problems.push(`${twice.length} machines updated more than once (${twice.slice(0, 3).map(([id, n]) => `${id}×${n}`).join(', ')})`);

    // The journal tells the true story.
    const record = await store.getDeploy(deployId);
    const journal = await store.listJournal(deployId);
    if (record?.status !== 'succeeded') problems.push(`deploy record says ${record?.status}`);
    if (journal.at(-1)?.kind !== 'status' || journal.at(-1)?.message !== 'succeeded') problems.push(`journal ends with ${journal.at(-1)?.kind} ${journal.at(-1)?.message}`);
    if (wasRunning && !journal.some((e) => e.kind === 'resumed')) problems.push('journal does not say the deploy was resumed');
    const accounted = new Set<string>();
    for (const e of journal) {
      if (e.kind === 'step_succeeded' && e.machineId) accounted.add(e.machineId);
      if (e.kind === 'plan') for (const id of (e.data as { alreadyDone?: string[] } | undefined)?.alreadyDone ?? []) accounted.add(id);
    }
    const changed = serving.filter((m) => m.config?.metadata?.runway_deploy === deployId).map((m) => m.id);
    const untold = changed.filter((id) => !accounted.has(id));
    if (untold.length) problems.push(`${untold.length} machines changed by the deploy are not in its journal`);
    await store.close();
    return { store: storeKind, trial: i, strategy, killAfterMs, killedDuring, ok: problems.length === 0, problems, wallMs: Date.now() - started };
  } catch (err) {
    problems.push((err as Error).message);
    return { store: storeKind, trial: i, strategy, killAfterMs: 0, killedDuring: '', ok: false, problems, wallMs: Date.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (schema) {
      const admin = new pg.Client({ connectionString: PG });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    }
  }
}

async function main(): Promise<void> {
  const fleet = await startSimServe(['--speed', String(SPEED), '--seed', String(args.seed)], TOKEN);
  const results: Trial[] = [];
  const t0 = Date.now();
  try {
    for (const storeKind of args.stores!.split(',')) {
      for (let i = 1; i <= TRIALS; i++) {
        const r = await trial(storeKind, i, fleet.url);
        results.push(r);
        if (!args.json) {
          process.stderr.write(
            `${storeKind.padEnd(8)} #${String(i).padStart(2)} ${r.strategy.padEnd(9)} killed after ${String(r.killAfterMs).padStart(5)} ms (${r.killedDuring.slice(0, 60)}) → ${r.ok ? 'ok' : `FAILED: ${r.problems.join('; ')}`}  [${(r.wallMs / 1000).toFixed(1)} s]\n`,
          );
        }
      }
    }
  } finally {
    await fleet.stop();
  }
  if (args.json) {
    process.stdout.write(JSON.stringify({ machines: N, speed: SPEED, trials: results }, null, 2) + '\n');
    return;
  }
  const lines = [
    `chaos: ${N} machines, sim serve at ${SPEED}x, seed ${args.seed}, ${cpus().length} CPUs, ${((Date.now() - t0) / 1000).toFixed(0)} s wall`,
    '',
    '| store | trials passed | strategies (passed/run) |',
    '| --- | ---: | --- |',
  ];
  for (const storeKind of args.stores!.split(',')) {
    const rs = results.filter((r) => r.store === storeKind);
    const by = new Map<string, [number, number]>();
    for (const r of rs) {
      const [p, n] = by.get(r.strategy) ?? [0, 0];
      by.set(r.strategy, [p + (r.ok ? 1 : 0), n + 1]);
    }
    lines.push(`| ${storeKind} | ${rs.filter((r) => r.ok).length}/${rs.length} | ${[...by].map(([s, [p, n]]) => `${s} ${p}/${n}`).join(', ')} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

await main();
