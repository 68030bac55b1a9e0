// Volumes and regions as a user meets them: `runway sim serve` in its own process with a fleet spread
// over ord, iad and cdg whose web machines have volumes, and the CLI pointed at it with bluegreen and
// region_order = ["ord", "*"]. The dry run says what happens (web in place, ord first); the deploy
// keeps every volume on its machine and every machine in its region; `runway status` shows the version
// spread per region; the new keys are checked like every other (file:line: key: problem).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import type { FlyMachine, FlyVolume } from '../../src/providers/fly/fly-types.js';
import { startSimServe, type Child } from '../support/processes.js';
import { flyGet } from '../support/fly-api.js';

const TOKEN = 'e2e-fly-volumes-5c2e';
const SPEED = 25;
const APP = 'shop-prod';

function config(url: string, deploy = 'region_order = ["ord", "*"]'): string {
  return `
[app]
name = "shop"
[app.processes]
web = { count = 3 }
worker = { count = 3 }

[environments.prod]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "bluegreen" }
[environments.prod.deploy]
${deploy}
[environments.prod.fly]
api_url = "${url}"
time_scale = ${SPEED}
`;
}

async function api<T>(url: string, path: string): Promise<T> {
  const res = await flyGet<T>(url, path, TOKEN, SPEED);
  assert.equal(res.status, 200, path);
  return res.body;
}

describe('volumes and regions through the CLI, against `runway sim serve` (separate process)', () => {
  let dir: string;
  let server: Child & { url: string };
  const cli = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      stdout: { write: (t) => void (stdout += t), isTTY: false },
      stderr: { write: (t) => void (stderr += t), isTTY: false },
      env: { RUNWAY_USER: 'tester', NO_COLOR: '1', FLY_API_TOKEN: TOKEN },
      cwd: dir,
    };
    const code = await runCli(args, io);
    return { code, stdout, stderr };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runway-fly-volumes-'));
    server = await startSimServe(
      [
        '--speed',
        String(SPEED),
        '--app',
        APP,
        '--fleet',
        'web=3,worker=3',
        '--regions',
        'ord,iad,cdg',
        '--volumes',
        'web:data:/data',
      ],
      TOKEN,
    );
    writeFileSync(join(dir, 'runway.toml'), config(server.url));
    for (const v of ['v1', 'v2'])
      assert.equal((await cli(['releases', 'create', v, '--image', `registry.fly.io/${APP}:${v}`])).code, 0);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the dry run says web rolls in place and ord goes first', async () => {
    const r = await cli(['deploy', '--env', 'prod', '--release', 'v2', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /strategy\s+bluegreen/);
    assert.match(r.stdout, /region order: ord, then cdg\+iad — each region rolled and checked before the next starts/);
    assert.match(
      r.stdout,
      /ord: web has volumes: rolled in place \(one machine at a time\) before the rest, since bluegreen would create machines without their volumes; set new_volumes = "fork"/,
    );
    assert.match(r.stdout, /region ord first:\n\s+wave 0 spearhead \[ord\]: 1 update/);
    assert.match(r.stdout, /region cdg\+iad next, once the region before is done and checked:/);
  });

  it('deploys: every web machine keeps its volume, every machine its region; status shows the spread per region', async () => {
    const before = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    const r = await cli(['deploy', '--env', 'prod', '--release', 'v2', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(JSON.parse(r.stdout).status, 'succeeded');
    const after = await api<FlyMachine[]>(server.url, `/v1/apps/${APP}/machines`);
    const web = (list: FlyMachine[]) =>
      list
        .filter((m) => m.config?.metadata?.runway_group === 'web')
        .map((m) => `${m.id}:${m.region}:${m.config?.mounts?.[0]?.volume}`)
        .sort();
    assert.deepEqual(web(after), web(before));
    const regions = (list: FlyMachine[]) => list.map((m) => `${m.config?.metadata?.runway_group}@${m.region}`).sort();
    assert.deepEqual(regions(after), regions(before));
    const volumes = await api<FlyVolume[]>(server.url, `/v1/apps/${APP}/volumes`);
    assert.equal(volumes.length, 3, 'no volume created');

    const status = await cli(['status', '--env', 'prod', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const spread = JSON.parse(status.stdout).regions as Record<string, { byRelease: Record<string, number> }>;
    assert.deepEqual(Object.fromEntries(Object.entries(spread).map(([r, c]) => [r, c.byRelease])), {
      cdg: { v2: 2 },
      iad: { v2: 2 },
      ord: { v2: 2 },
    });
    const text = await cli(['status', '--env', 'prod', '--machines']);
    assert.match(text.stdout, /by region:\n\s+cdg\s+2 on v2\n\s+iad\s+2 on v2\n\s+ord\s+2 on v2/);
    assert.match(text.stdout, / ord volumes vol_\w+/);
  });

  it('new keys are checked: a bad region or new_volumes value is file:line: key: problem (exit 2)', async () => {
    writeFileSync(join(dir, 'runway.toml'), config(server.url, 'region_order = ["ORD", "*"]'));
    const r = await cli(['deploy', '--env', 'prod', '--release', 'v2', '--dry-run']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /runway\.toml:15: environments\.prod\.deploy\.region_order\[0\]: a region is lowercase letters and digits/,
    );
    writeFileSync(join(dir, 'runway.toml'), config(server.url, 'new_volumes = "copy"'));
    const v = await cli(['deploy', '--env', 'prod', '--release', 'v2', '--dry-run']);
    assert.equal(v.code, 2, v.stdout);
    assert.match(v.stderr, /runway\.toml:15: environments\.prod\.deploy\.new_volumes: .*"none".*"fork"/);
    writeFileSync(join(dir, 'runway.toml'), config(server.url, 'region_order = ["ord", "iad", "ord"]'));
    assert.match(
      (await cli(['deploy', '--env', 'prod', '--release', 'v2', '--dry-run'])).stderr,
      /region_order: names a region twice/,
    );
    writeFileSync(join(dir, 'runway.toml'), config(server.url));
  });
});
