// The by-hand case of issue 19, as a test with real processes: a rolling deploy of 200 machines
// through the fly provider against `runway sim serve`; a few seconds in, the sim server is killed -9
// and started again ten seconds later from its --state file, on the same port (a Machines API outage
// of ten seconds). The deploy waits for the provider, says so, goes on, and ends converged: every
// machine on the release, started, checks passing, in traffic; none updated twice by the deploy.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import { openStore } from '../../src/store/open-store.js';
import { spawnCli } from './helpers.js';
import { startSimServe, type Child } from '../support/processes.js';
import { flyGet } from '../support/fly-api.js';

const TOKEN = 'outage-token-4c1e';
// Simulated seconds per real second, on both sides: ten real seconds of outage are 50 simulated ones.
const SPEED = 5;
// provider_outage_timeout is simulated time too: the default 2 minutes are 24 real seconds here, and the
// outage the deploy sees is the ten seconds plus the restart of sim serve, which on a loaded machine
// took long enough to exhaust it (found by test:soak). The point here is that the deploy waits and goes
// on, not how long the default is, so the cap is set far above any restart: 30 minutes = 6 real ones.
const OUTAGE_TIMEOUT = '30m';
const APP = 'shop-production';

async function api<T>(url: string, path: string): Promise<T> {
  const res = await flyGet<T>(url, path, TOKEN, SPEED);
  assert.equal(res.status, 200, path);
  return res.body;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a ten-second Machines API outage during a 200-machine rolling deploy', () => {
  let dir: string;
  let server: Child & { url: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runway-outage-'));
    server = await startSimServe(
      [
        '--speed',
        String(SPEED),
        '--app',
        APP,
        '--fleet',
        'web=160,worker=40',
        '--initial-release',
        'v1',
        '--state',
        join(dir, 'fly.json'),
      ],
      TOKEN,
    );
    writeFileSync(
      join(dir, 'runway.toml'),
      `[app]
name = "shop"
[app.processes]
web = { count = 160 }
worker = { count = 40 }

[environments.production]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "rolling" }
[environments.production.deploy]
provider_outage_timeout = "${OUTAGE_TIMEOUT}"
[environments.production.fly]
api_url = "${server.url}"
time_scale = ${SPEED}
`,
    );
    const r = await spawnCli(['releases', 'create', 'v2', '--image', `registry.fly.io/${APP}:v2`], dir, {
      FLY_API_TOKEN: TOKEN,
    }).done;
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits for the provider, goes on, and ends converged with no machine updated twice', async () => {
    const port = new URL(server.url).port;
    const deploy = spawnCli(['deploy', '--env', 'production', '--release', 'v2', '--json'], dir, {
      FLY_API_TOKEN: TOKEN,
    });
    // Kill the API once the deploy is well under way (some machines updated, most not).
    for (let waited = 0; ; waited += 50) {
      assert.ok(waited < 60_000, 'the deploy never got going');
      const stats = await api<{ server: { updates: unknown[] } }>(server.url, '/_sim/stats');
      if (stats.server.updates.length >= 10) break;
      await sleep(50);
    }
    await server.stop('SIGKILL');
    await sleep(10_000);
    server = await startSimServe(['--speed', String(SPEED), '--state', join(dir, 'fly.json'), '--port', port], TOKEN);

    const r = await deploy.done;
    const summary = JSON.parse(r.stdout) as {
      status: string;
      error: string | null;
      deployId: string;
      leftOutOfTraffic?: string[];
    };
    assert.equal(summary.status, 'succeeded', `${summary.error} ${r.stderr.slice(-2000)}`);
    assert.equal(r.code, 0);
    assert.deepEqual(summary.leftOutOfTraffic, []);

    const machines = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    assert.equal(machines.length, 200, 'no extra machine, none lost');
    const off = machines.filter(
      (m) =>
        m.config?.metadata?.runway_release !== 'v2' ||
        m.state !== 'started' ||
        m.cordoned ||
        !(m.checks ?? []).every((c) => c.status === 'passing'),
    );
    assert.deepEqual(
      off.map((m) => `${m.id} ${m.config?.metadata?.runway_release} ${m.state} cordoned=${m.cordoned}`),
      [],
      'every machine on v2, started, checks passing, in traffic',
    );

    const stats = await api<{ server: { updates: { machineId: string; deployId: string | null }[] } }>(
      server.url,
      '/_sim/stats',
    );
    const counts = new Map<string, number>();
    for (const u of stats.server.updates)
      if (u.deployId === summary.deployId) counts.set(u.machineId, (counts.get(u.machineId) ?? 0) + 1);
    assert.equal(counts.size, 200, 'the server recorded an update of every machine (across its restart)');
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      'no machine updated twice',
    );

    // The journal says the deploy waited for the provider, since when, and that it came back.
    const store = await openStore('.runway/runway.db', dir);
    try {
      const journal = await store.listJournal(summary.deployId);
      const waiting = journal.find((e) => e.kind === 'provider_waiting');
      assert.ok(waiting, 'journal: waiting for the provider');
      assert.match(waiting.message ?? '', /waiting for the provider since \d{4}-\d\d-\d\dT/);
      assert.ok(
        journal.some((e) => e.kind === 'provider_back'),
        'journal: the provider answers again',
      );
    } finally {
      await store.close();
    }
  });
});
