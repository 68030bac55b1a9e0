// End to end, as a user runs it: `runway sim serve` in its own process, and the real CLI in others,
// with provider = "fly" pointed at it over HTTP. A deploy ends with the fleet on the release (images
// and metadata as Fly shows them, no lease left behind); a bad token or an unknown app is bad input
// (exit 2) that changes nothing; an API that dies mid-deploy for longer than provider_outage_timeout
// stops the deploy (a shorter outage is waited out: provider-outage.test.ts), and once it is back
// `runway status` says where every machine is and a new deploy finishes the job.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { spawnCli } from './helpers.js';
import { startSimServe, type Child } from '../support/processes.js';
import { flyGet } from '../support/fly-api.js';

const TOKEN = 'e2e-fly-token-7d3b';
const SPEED = 25;
const APP = 'shop-staging';

type Serve = Child & { url: string };

/** `runway sim serve` as a child process; resolves once it printed its address. */
function serve(args: string[]): Promise<Serve> {
  return startSimServe(['--speed', String(SPEED), ...args], TOKEN);
}

function api<T>(url: string, path: string, token = TOKEN): Promise<{ status: number; body: T }> {
  return flyGet<T>(url, path, token, SPEED);
}

function config(url: string): string {
  return `
[app]
name = "shop"
release_command = "bin/migrate"
[app.processes]
web = { count = 4 }
worker = { count = 2 }

[environments.staging]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "rolling" }
[environments.staging.fly]
api_url = "${url}"
time_scale = ${SPEED}
lease_ttl = "10s"

[environments.elsewhere]
provider = "fly"
allow_cli = true
[environments.elsewhere.fly]
api_url = "${url}"
app = "no-such-app"
`;
}

describe('runway deploy on provider = "fly" against `runway sim serve` (separate processes)', () => {
  let dir: string;
  let server: Serve;
  const state = () => join(dir, 'fly-sim.json');
  /** The real CLI in a child process, as a shell runs it. */
  const child = async (args: string[], env: NodeJS.ProcessEnv = { FLY_API_TOKEN: TOKEN }) => {
    const r = await spawnCli(args, dir, env).done;
    return { ...r, code: r.code ?? -1 };
  };
  /** The same CLI in this process (2 s faster per command). */
  const cli = async (args: string[], env: NodeJS.ProcessEnv = { FLY_API_TOKEN: TOKEN }) => {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      stdout: { write: (t) => void (stdout += t), isTTY: false },
      stderr: { write: (t) => void (stderr += t), isTTY: false },
      env: { RUNWAY_USER: 'tester', NO_COLOR: '1', ...env },
      cwd: dir,
    };
    const code = await runCli(args, io);
    return { code, stdout, stderr };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runway-fly-e2e-'));
    server = await serve([
      '--app',
      APP,
      '--fleet',
      'web=4,worker=2',
      '--initial-release',
      'v1',
      '--state',
      state(),
      '--boot-failure-releases',
      'v-crash',
    ]);
    writeFileSync(join(dir, 'runway.toml'), config(server.url));
    for (const v of ['v1', 'v2', 'v3', 'v-crash']) {
      const r = await cli(['releases', 'create', v, '--image', `registry.fly.io/${APP}:${v}`]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys a release: the fleet ends on it, with its image, and no lease left behind', async () => {
    const r = await child(['deploy', '--env', 'staging', '--release', 'v2', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.status, 'succeeded');
    assert.deepEqual(summary.machines, { total: 6, onTarget: 6, failed: 0, stragglers: 0 });
    assert.ok(summary.apiCalls > 0);
    // The release command ran first, on its own machine of v2, which is gone.
    const journal = await cli(['deploys', 'show', summary.deployId, '--journal', '--json']);
    assert.match(journal.stdout, /release command succeeded/);

    const status = await cli(['status', '--env', 'staging', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout).fleet.byRelease, { v2: 6 });

    // As Fly itself shows the machines: the release's image, runway's metadata, flyctl's keys.
    const { body: machines } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    assert.equal(machines.length, 6);
    for (const m of machines) {
      assert.equal(m.state, 'started');
      assert.equal(m.config!.image, `registry.fly.io/${APP}:v2`);
      assert.equal(m.config!.metadata!.runway_release, 'v2');
      assert.equal(m.config!.metadata!.runway_deploy, summary.deployId);
      assert.equal(m.config!.metadata!.fly_platform_version, 'v2');
      assert.equal(m.cordoned, false, 'every machine back in traffic');
      assert.equal(
        (await api(server.url, `/v1/apps/${APP}/machines/${m.id}/lease`)).status,
        404,
        `machine ${m.id} left leased`,
      );
    }
  });

  it('a release whose release command fails stops before any serving machine changes', async () => {
    const r = await cli(['deploy', '--env', 'staging', '--release', 'v-crash', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.status, 'release_command_failed');
    assert.match(summary.error ?? '', /exited with code 1/);
    const { body: machines } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    const serving = machines.filter((m) => m.config!.metadata!.runway_role !== 'release-command');
    assert.equal(serving.length, 6);
    for (const m of serving) assert.equal(m.config!.image, `registry.fly.io/${APP}:v2`, 'no serving machine changed');
    for (const m of serving)
      assert.equal(
        (await api(server.url, `/v1/apps/${APP}/machines/${m.id}/lease`)).status,
        404,
        `machine ${m.id} left leased after a failure`,
      );
    // The failed run's machine is not left behind.
    assert.equal(
      machines.filter(
        (m) =>
          m.config!.metadata!.runway_role === 'release-command' && m.state !== 'destroyed' && m.state !== 'destroying',
      ).length,
      0,
    );
  });

  it('a refused token is bad input (exit 2), one clear message, nothing changed, the token never printed', async () => {
    const before = (await api<{ server: { byRoute: Record<string, number> } }>(server.url, '/_sim/stats')).body.server
      .byRoute;
    const wrong = 'wrong-token-zz9-plural-z-alpha';
    const r = await child(['deploy', '--env', 'staging', '--release', 'v3'], { FLY_API_TOKEN: wrong });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^runway: environment staging \(provider "fly"\): the Fly API at http:\/\/127\.0\.0\.1:\d+ refused the token \(401\)/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    const json = await cli(['status', '--env', 'staging', '--json'], { FLY_API_TOKEN: wrong });
    assert.equal(json.code, 2);
    assert.equal(JSON.parse(json.stdout).exitCode, 2);
    for (const out of [r.stdout, r.stderr, json.stdout, json.stderr]) assert.ok(!out.includes(wrong), 'token printed');
    const afterwards = (await api<{ server: { byRoute: Record<string, number> } }>(server.url, '/_sim/stats')).body
      .server.byRoute;
    for (const route of Object.keys(afterwards).filter((k) => !k.startsWith('GET'))) {
      assert.equal(afterwards[route], before[route], `${route} was called`);
    }
    assert.deepEqual(
      JSON.parse((await cli(['deploys', 'list', '--json'])).stdout).map((d: { release: string }) => d.release),
      ['v-crash', 'v2'],
      'no deploy recorded',
    );
  });

  it('an unknown Fly app is bad input naming the app', async () => {
    const r = await cli(['status', '--env', 'elsewhere']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Fly app "no-such-app" does not exist/);
  });

  it('the API dead for longer than provider_outage_timeout stops the deploy; back up, status says where machines are and a new deploy finishes', async () => {
    const updates = async () =>
      (await api<{ server: { byRoute: Record<string, number> } }>(server.url, '/_sim/stats')).body.server.byRoute[
        'POST /v1/apps/:app/machines/:id'
      ] ?? 0;
    const before = await updates();
    const deploy = spawnCli(['deploy', '--env', 'staging', '--release', 'v3', '--json'], dir, { FLY_API_TOKEN: TOKEN });
    // Kill the API (no clean shutdown: its state file is what it last saved) once the first machine is being updated.
    for (let waited = 0; (await updates()) === before; waited += 10) {
      assert.ok(waited < 30_000, 'the deploy never updated a machine');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await server.stop('SIGKILL');
    const r = await deploy.done;
    assert.notEqual(r.code, 0, 'the deploy did not succeed');
    const summary = JSON.parse(r.stdout);
    assert.notEqual(summary.status, 'succeeded');
    assert.match(
      summary.error ?? '',
      /has not answered for \d+ s \(provider_outage_timeout 120 s\).*cannot reach the Machines API/,
    );

    // Unreachable API: status fails as an internal error (70), not as bad input.
    const down = await cli(['status', '--env', 'staging']);
    assert.equal(down.code, 70, down.stderr);
    assert.match(down.stderr, /cannot reach the Machines API/);

    server = await serve(['--state', state()]);
    writeFileSync(join(dir, 'runway.toml'), config(server.url));
    const status = await cli(['status', '--env', 'staging', '--machines', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const seen = JSON.parse(status.stdout) as {
      fleet: { total: number; byRelease: Record<string, number> };
      machines: { id: string; release: string; state: string }[];
    };
    assert.equal(seen.machines.length, 6, 'every machine accounted for');
    assert.equal(
      Object.values(seen.fleet.byRelease).reduce((a, b) => a + b, 0),
      6,
    );
    for (const m of seen.machines) assert.ok(['v2', 'v3'].includes(m.release), `${m.id} on ${m.release}`);

    const again = await cli(['deploy', '--env', 'staging', '--release', 'v3', '--json']);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.equal(JSON.parse(again.stdout).status, 'succeeded');
    assert.deepEqual(JSON.parse((await cli(['status', '--env', 'staging', '--json'])).stdout).fleet.byRelease, {
      v3: 6,
    });
  });

  it("runway recover releases the machine leases a crashed runway left, and never anyone else's", async () => {
    const { body: machines } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    const [mine, theirs] = machines;
    const take = async (id: string, description: string) => {
      const res = await fetch(`${server.url}/v1/apps/${APP}/machines/${id}/lease?ttl=3600`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ description }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { data: { nonce: string } }).data.nonce;
    };
    // A runway of this environment that died mid-deploy, and a human's flyctl.
    await take(mine!.id, 'runway shop/staging pid 4242@gone-host k3x9q1');
    const flyctlNonce = await take(theirs!.id, 'flyctl machine update');
    const dry = await cli(['recover', '--env', 'staging', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      new RegExp(
        `machine leases left by an earlier runway run: 1 \\(${mine!.id} \\(runway shop/staging pid 4242@gone-host`,
      ),
    );
    assert.equal(
      (await api(server.url, `/v1/apps/${APP}/machines/${mine!.id}/lease`)).status,
      200,
      'a dry run changes nothing',
    );

    const r = await cli(['recover', '--env', 'staging', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout) as { leftLeases: { machineId: string }[]; done: string[] };
    assert.deepEqual(
      out.leftLeases.map((l) => l.machineId),
      [mine!.id],
    );
    assert.match(out.done.join('\n'), /released 1 machine lease left by an earlier runway run/);
    assert.ok(!r.stdout.includes('nonce'), 'nonces are never printed');
    assert.equal(
      (await api(server.url, `/v1/apps/${APP}/machines/${mine!.id}/lease`)).status,
      404,
      "runway's stale lease is gone",
    );
    assert.equal(
      (await api(server.url, `/v1/apps/${APP}/machines/${theirs!.id}/lease`)).status,
      200,
      "flyctl's lease is not runway's to clear",
    );
    const res = await fetch(`${server.url}/v1/apps/${APP}/machines/${theirs!.id}/lease`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}`, 'fly-machine-lease-nonce': flyctlNonce },
    });
    assert.equal(res.status, 200);
  });

  it('sim serve stops cleanly on SIGTERM and keeps its fleet in --state', async () => {
    assert.equal(await server.stop('SIGTERM'), 0);
    server = await serve(['--state', state()]);
    const { body } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    assert.equal(body.length, 6);
    assert.ok(body.every((m) => m.config!.metadata!.runway_release === 'v3'));
    assert.equal((await api(server.url, `/v1/apps/${APP}/machines`, 'not-the-token')).status, 401);
  });

  it("secrets set for a fly environment reach its machines through Fly's app secrets with the next deploy, recorded as applied", async () => {
    writeFileSync(join(dir, 'runway.toml'), config(server.url)); // the server came back on another port
    const env = { FLY_API_TOKEN: TOKEN, RUNWAY_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') };
    const value = 'postgres://shop:pa55-e2e-9q@db/shop';
    const set = await cli(['secrets', 'set', '--env', 'staging', `DATABASE_URL=${value}`, '--json'], env);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).pending, true, 'staged, waiting for a deploy');
    assert.equal(
      (await api<{ secrets: unknown[] }>(server.url, `/v1/apps/${APP}/secrets`)).body.secrets.length,
      0,
      'nothing reaches Fly before a deploy',
    );

    assert.equal((await cli(['releases', 'create', 'v4', '--image', `registry.fly.io/${APP}:v4`])).code, 0);
    const r = await cli(['deploy', '--env', 'staging', '--release', 'v4', '--json'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), 'the value is never printed');
    const listed = (await api<{ secrets: { name: string; value?: string }[] }>(server.url, `/v1/apps/${APP}/secrets`))
      .body.secrets;
    assert.deepEqual(
      listed.map((x) => x.name),
      ['DATABASE_URL'],
    );
    const { body: machines } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    for (const m of machines) {
      assert.equal(
        m.config!.metadata!.runway_secrets,
        'DATABASE_URL',
        `machine ${m.id} started with the app's secrets`,
      );
      assert.ok(!JSON.stringify(m).includes(value), 'never in a machine');
    }
    const after = JSON.parse((await cli(['secrets', 'list', '--env', 'staging', '--json'], env)).stdout);
    assert.equal(after.pending, false);
    assert.equal(after.appliedDeployId, JSON.parse(r.stdout).deployId, 'the deploy that applied them is recorded');
  });

  it("a 4xx from Fly is shown with Fly's own error text and the operation that got it, never a stack trace; nothing changes", async () => {
    assert.equal((await cli(['releases', 'create', 'v5', '--image', 'registry.fly.io/Shop Staging:v5'])).code, 0);
    const r = await cli(['deploy', '--env', 'staging', '--release', 'v5'], {
      FLY_API_TOKEN: TOKEN,
      RUNWAY_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /create a release_command machine on v5 in shop-staging: 422 invalid image reference "registry\.fly\.io\/Shop Staging:v5"/,
    );
    assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
    const { body: machines } = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    assert.ok(
      machines.every((m) => m.config!.metadata!.runway_release === 'v4'),
      'no machine changed',
    );
  });
});
