// Issue 19's edge cases of a Machines API outage, each with real processes: `runway sim serve` killed
// -9 at a chosen moment of a `runway deploy` (a child process) and started again from its --state file
// on the same port. Moments are found by watching the server's own counters, never by sleeping:
//   - during bluegreen's cutover: the deploy ends with exactly one colour serving (also when it gives up);
//   - during the release command: it is not run twice;
//   - an abort while the API is down takes effect when it answers, and leaves the fleet serving;
//   - an outage longer than provider_outage_timeout: the deploy gives up with at most max_unavailable
//     machines out of traffic, and once the API answers none that served before is left cordoned or stopped.

import { until } from '../support/wait.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import { openStore } from '../../src/store/open-store.js';
import { spawnCli } from './helpers.js';
import { startSimServe, type Child } from '../support/processes.js';
import { flyGet } from '../support/fly-api.js';

const TOKEN = 'outage-edges-token-7d2a';
// Simulated seconds per real second, on both sides.
const SPEED = 5;
const APP = 'shop-production';
const GROUPS = { web: 9, worker: 3 };
const DESIRED = GROUPS.web + GROUPS.worker;

interface Stats {
  server: {
    byRoute: Record<string, number>;
    updates: { machineId: string; release: string; deployId: string | null }[];
    creates: { machineId: string; launchId: string | null; deployId: string | null }[];
  };
}

interface Summary {
  deployId: string;
  status: string;
  error: string | null;
  leftOutOfTraffic?: string[];
}

/** The API stays down this long: the outage under test, not a wait for readiness. */
const outageFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One environment on its own `sim serve`, with the API's outage as a kill -9 and a restart. */
class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), 'runway-outage-edges-'));
  server!: Child & { url: string };
  private port = '';

  private get state(): string {
    return join(this.dir, 'fly.json');
  }

  async start(options: { strategy: string; app?: string; deploy?: string }): Promise<void> {
    const fleet = Object.entries(GROUPS)
      .map(([g, n]) => `${g}=${n}`)
      .join(',');
    this.server = await startSimServe(
      ['--speed', String(SPEED), '--app', APP, '--fleet', fleet, '--initial-release', 'v1', '--state', this.state],
      TOKEN,
    );
    this.port = new URL(this.server.url).port;
    writeFileSync(
      join(this.dir, 'runway.toml'),
      `[app]
name = "shop"
${options.app ?? ''}
[app.processes]
web = { count = ${GROUPS.web} }
worker = { count = ${GROUPS.worker} }

[environments.production]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "${options.strategy}" }
[environments.production.deploy]
${options.deploy ?? ''}
[environments.production.fly]
api_url = "${this.server.url}"
time_scale = ${SPEED}
`,
    );
    const r = await this.cli(['releases', 'create', 'v2', '--image', `registry.fly.io/${APP}:v2`]).done;
    assert.equal(r.code, 0, r.stderr);
  }

  cli(args: string[]) {
    return spawnCli(args, this.dir, { FLY_API_TOKEN: TOKEN });
  }

  async api<T>(path: string): Promise<T> {
    const res = await flyGet<T>(this.server.url, path, TOKEN);
    assert.equal(res.status, 200, path);
    return res.body;
  }

  stats(): Promise<Stats> {
    return this.api<Stats>('/_sim/stats');
  }

  /** Poll the server's counters (cheap, never rate limited) until `ready` says the moment has come. */
  async waitFor(what: string, ready: (s: Stats) => boolean): Promise<void> {
    await until(async () => ready(await this.stats()), what, 120_000);
  }

  /** The outage begins: no clean shutdown, the state file is what the server acknowledged. */
  kill(): Promise<number | null> {
    return this.server.stop('SIGKILL');
  }

  /** The API answers again, on the same address, with the fleet it had. */
  async restart(): Promise<void> {
    this.server = await startSimServe(['--speed', String(SPEED), '--state', this.state, '--port', this.port], TOKEN);
  }

  /** The journal of a deploy (the local SQLite store the CLI writes). */
  async journal(deployId: string): Promise<{ kind: string; message?: string | null; data?: unknown }[]> {
    const store = await openStore('.runway/runway.db', this.dir);
    try {
      return await store.listJournal(deployId);
    } finally {
      await store.close();
    }
  }

  /** Wait until the deploy's journal has an entry `kind` (the deploy acted, whatever the API does). */
  async journalSays(deployId: string, kind: string): Promise<void> {
    await until(
      async () => (await this.journal(deployId)).some((e) => e.kind === kind),
      `the journal to say ${kind}`,
      120_000,
    );
  }

  async deployId(): Promise<string> {
    let id: string | undefined;
    await until(
      async () => {
        const r = await this.cli(['deploys', 'list', '--json']).done;
        const [newest] = JSON.parse(r.stdout || '[]') as { id: string; release: string }[];
        if (newest?.release === 'v2') id = newest.id;
        return id !== undefined;
      },
      'the deploy to be recorded',
      60_000,
    );
    return id!;
  }

  machines(): Promise<FlyMachine[]> {
    return this.api<FlyMachine[]>(`/v1/apps/${APP}/machines`);
  }

  async close(): Promise<void> {
    await this.server?.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const meta = (m: FlyMachine) => m.config?.metadata ?? {};
const live = (m: FlyMachine) => m.state !== 'destroyed' && m.state !== 'destroying';
const inTraffic = (m: FlyMachine) => meta(m).runway_role === 'serving' && m.state === 'started' && !m.cordoned;
const describeMachine = (m: FlyMachine) =>
  `${m.id} ${meta(m).runway_role} ${meta(m).runway_release} ${m.state} cordoned=${m.cordoned}`;

/** Serving machines out of traffic: cordoned, or not running. */
const outOfTraffic = (machines: FlyMachine[]) =>
  machines.filter((m) => live(m) && meta(m).runway_role === 'serving' && (m.cordoned || m.state !== 'started'));

/** The fleet serves whole: the desired count in traffic, nothing else left, none out of traffic. */
function assertServing(machines: FlyMachine[]): void {
  const left = machines.filter(live);
  assert.deepEqual(outOfTraffic(left).map(describeMachine), [], 'no serving machine cordoned or stopped');
  assert.deepEqual(
    left.filter((m) => meta(m).runway_role !== 'serving').map(describeMachine),
    [],
    'no extra machine left',
  );
  assert.equal(left.filter(inTraffic).length, DESIRED, 'the desired count in traffic');
}

function assertNoDoubleCreate(stats: Stats, deployId: string): void {
  const launches = stats.server.creates.filter((c) => c.deployId === deployId).map((c) => c.launchId);
  assert.deepEqual(
    launches.filter((l, i) => launches.indexOf(l) !== i),
    [],
    'no launch made two machines',
  );
}

describe('Machines API outages at the edges of a deploy', () => {
  let rig: Rig;
  afterEach(async () => {
    await rig?.close();
  });

  it("during bluegreen's cutover: the deploy ends with exactly one colour serving", async () => {
    rig = new Rig();
    await rig.start({ strategy: 'bluegreen' });
    const deploy = rig.cli(['deploy', '--env', 'production', '--release', 'v2', '--json']);
    // Greens are created out of traffic; the first uncordon is the cutover beginning.
    await rig.waitFor('the cutover', (s) => (s.server.byRoute['POST /v1/apps/:app/machines/:id/uncordon'] ?? 0) > 0);
    await rig.kill();
    await outageFor(5_000); // the outage itself: 25 simulated seconds, within provider_outage_timeout
    await rig.restart();

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as Summary;
    assert.equal(summary.status, 'succeeded', `${summary.error} ${r.stderr.slice(-2000)}`);
    const machines = await rig.machines();
    assertServing(machines);
    const colours = new Set(machines.filter(inTraffic).map((m) => meta(m).runway_release));
    assert.deepEqual([...colours], ['v2'], 'one colour serves: the greens');
    assertNoDoubleCreate(await rig.stats(), summary.deployId);
  });

  it("during bluegreen's cutover, longer than provider_outage_timeout: given up, and once the API answers one colour serves", async () => {
    rig = new Rig();
    // Paused before the cutover, the API goes down, then the promote: the cutover meets the outage
    // whatever the machine's speed (waiting for its first uncordon let a fast cutover finish first).
    await rig.start({ strategy: 'bluegreen', deploy: 'provider_outage_timeout = "1m"\npause_before_cutover = true' });
    const deploy = rig.cli(['deploy', '--env', 'production', '--release', 'v2', '--json']);
    const id = await rig.deployId();
    await rig.journalSays(id, 'paused');
    await rig.kill();
    const promote = await rig.cli(['deploys', 'promote', id]).done;
    assert.equal(promote.code, 0, promote.stderr);
    await rig.journalSays(id, 'error');
    await rig.restart();

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as Summary;
    assert.notEqual(summary.status, 'succeeded');
    assert.deepEqual(summary.leftOutOfTraffic, [], r.stderr.slice(-1500));
    const machines = await rig.machines();
    assertServing(machines);
    const colours = new Set(machines.filter(inTraffic).map((m) => meta(m).runway_release));
    assert.deepEqual([...colours], ['v1'], 'one colour serves: the blues, which served before');
    assertNoDoubleCreate(await rig.stats(), id);
  });

  it('during the release command: it runs once', async () => {
    rig = new Rig();
    await rig.start({ strategy: 'rolling', app: 'release_command = "bin/migrate"' });
    const deploy = rig.cli(['deploy', '--env', 'production', '--release', 'v2', '--json']);
    // A rolling deploy creates one machine: the release command's.
    await rig.waitFor('the release command machine', (s) => s.server.creates.length > 0);
    await rig.kill();
    await outageFor(5_000);
    await rig.restart();

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as Summary;
    assert.equal(summary.status, 'succeeded', `${summary.error} ${r.stderr.slice(-2000)}`);
    const stats = await rig.stats();
    // The server is fresh: every machine it ever made is this deploy's.
    assert.equal(
      stats.server.creates.length,
      1,
      `one release command machine, made once: ${JSON.stringify(stats.server.creates)}`,
    );
    const journal = await rig.journal(summary.deployId);
    assert.equal(journal.filter((e) => e.kind === 'release_step_started').length, 1, 'the release step started once');
    const machines = await rig.machines();
    assertServing(machines);
    assert.ok(machines.filter(inTraffic).every((m) => meta(m).runway_release === 'v2'));
  });

  it('an abort while the API is down takes effect when it answers, and the fleet serves', async () => {
    rig = new Rig();
    // An outage timeout far longer than the test (30 simulated minutes): on a busy machine the abort
    // and the turn to the rollback can take longer than the default 2 simulated minutes (24 real s).
    await rig.start({ strategy: 'rolling', deploy: 'max_unavailable = 2\nprovider_outage_timeout = "30m"' });
    const deploy = rig.cli(['deploy', '--env', 'production', '--release', 'v2', '--json']);
    const id = await rig.deployId();
    await rig.waitFor('some machines updated', (s) => s.server.updates.filter((u) => u.deployId === id).length >= 3);
    await rig.kill();
    const abort = await rig.cli(['abort', id]).done;
    assert.equal(abort.code, 0, abort.stderr);
    // The deploy acts on the abort without the API: it turns to its rollback, which waits for the API.
    await rig.journalSays(id, 'rollback');
    await rig.restart();
    const forwardBefore = (await rig.stats()).server.updates.filter(
      (u) => u.deployId === id && u.release === 'v2',
    ).length;

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as Summary;
    assert.equal(summary.status, 'aborted', `${summary.error} ${r.stderr.slice(-2000)}`);
    assert.equal(r.code, 3);
    const stats = await rig.stats();
    const forward = stats.server.updates.filter((u) => u.deployId === id && u.release === 'v2').length;
    assert.equal(forward, forwardBefore, 'nothing went forward once the API answered');
    const machines = await rig.machines();
    assertServing(machines);
    assert.ok(
      machines.filter(inTraffic).every((m) => meta(m).runway_release === 'v1'),
      'rolled back (on_abort = rollback)',
    );
  });

  it('longer than provider_outage_timeout: gives up with at most max_unavailable out of traffic; none left out once the API answers', async () => {
    rig = new Rig();
    // 1 simulated minute: 12 real seconds at this speed; settling then keeps trying as long again.
    await rig.start({ strategy: 'rolling', deploy: 'max_unavailable = 2\nprovider_outage_timeout = "1m"' });
    const deploy = rig.cli(['deploy', '--env', 'production', '--release', 'v2', '--json']);
    const id = await rig.deployId();
    await rig.waitFor('some machines updated', (s) => s.server.updates.filter((u) => u.deployId === id).length >= 3);
    await rig.kill();
    // The deploy gives up on the API (it cannot go on or roll back without it) and starts settling.
    await rig.journalSays(id, 'error');
    await rig.restart();
    // What the failure left: no more than the window per group (settling can only lower it).
    const left = outOfTraffic(await rig.machines());
    for (const [group, count] of Object.entries(GROUPS)) {
      const window = Math.min(2, count);
      const out = left.filter((m) => meta(m).runway_group === group);
      assert.ok(
        out.length <= window,
        `${group}: ${out.length} out of traffic, max_unavailable ${window}: ${out.map(describeMachine).join('; ')}`,
      );
    }

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as Summary;
    assert.notEqual(summary.status, 'succeeded');
    assert.match(summary.error ?? '', /provider_outage_timeout/);
    assert.deepEqual(summary.leftOutOfTraffic, [], `settling put every machine back: ${r.stderr.slice(-1500)}`);
    assertServing(await rig.machines());
    assertNoDoubleCreate(await rig.stats(), id);
    const journal = await rig.journal(id);
    const settled = journal.find((e) => e.kind === 'settled') as { data?: { tidied?: number } } | undefined;
    assert.ok(settled, 'the journal says the fleet was settled');
    assert.ok(
      (settled.data?.tidied ?? 0) >= 1,
      `settling put machines back once the API answered: ${JSON.stringify(settled)}`,
    );

    const status = await rig.cli(['status', '--env', 'production', '--json']).done;
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual((JSON.parse(status.stdout) as { outOfTraffic: string[] }).outOfTraffic, []);
  });
});
