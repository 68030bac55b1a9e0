// The local provider as a user drives it: `runway` commands (in-process, as the shell would run them)
// talking to the environment's supervisor process. Deploys twice in a row on one fleet with the proxy
// URL up in between; a port in use is bad input before anything changes; a restarted supervisor
// re-adopts the machines; `runway local down` leaves no process and no open port.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { processStartTime } from '../../src/providers/local/proc.js';
import {
  killTagged,
  leftovers,
  localProject,
  localToml,
  portClosed,
  supervisorEnv,
} from '../providers/local-fixtures.js';

const TAG = randomUUID();

after(async () => {
  const left = await leftovers(TAG);
  killTagged(TAG);
  assert.deepEqual(left, [], 'no supervisor or machine process outlives the suite');
});

interface Info {
  running: boolean;
  pid: number;
  proxyUrl: string;
  proxyPort: number;
  stateDir: string;
  machines: { id: string; release: string; pid?: number; port: number }[];
}

function get(url: string): Promise<{ status: number; release: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, release: /"release":"([^"]+)"/.exec(body)?.[1] }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('runway on a local environment', () => {
  let dir: string;
  let cwd: string;

  let extraEnv: NodeJS.ProcessEnv = {};

  async function runway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      stdout: { write: (t) => void (stdout += t), isTTY: false },
      stderr: { write: (t) => void (stderr += t), isTTY: false },
      env: { RUNWAY_USER: 'tester', NO_COLOR: '1', ...supervisorEnv(TAG), ...extraEnv },
      cwd,
    };
    const code = await runCli(args, io);
    return { code, stdout, stderr };
  }

  async function info(start = false): Promise<Info> {
    const r = await runway('local', start ? 'up' : 'status', '--env', 'test', '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Info;
  }

  function setUp(extra: Parameters<typeof localProject>[0] = { tag: TAG }): void {
    const project = localProject({ web: 3, worker: 1, ...extra });
    dir = project.dir;
    cwd = project.dir;
  }

  afterEach(async () => {
    extraEnv = {};
    await runway('local', 'down', '--env', 'test');
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys twice in a row on one fleet: one supervisor, one proxy URL, up between deploys; local down leaves nothing', async () => {
    setUp();
    for (const v of ['v1', 'v2', 'v3', 'v-nocmd']) assert.equal((await runway('releases', 'create', v)).code, 0);
    const first = await runway('deploy', '--env', 'test', '--release', 'v1');
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /succeeded .* v1 \(rolling\)/);
    const a = await info();
    assert.equal(a.running, true);
    assert.equal(a.machines.length, 4);
    assert.deepEqual(await get(a.proxyUrl), { status: 200, release: 'v1' }, 'the proxy serves after the command ended');

    const second = await runway('deploy', '--env', 'test', '--release', 'v2');
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const b = await info();
    assert.equal(b.pid, a.pid, 'the same supervisor');
    assert.equal(b.proxyUrl, a.proxyUrl, 'the same proxy URL');
    assert.deepEqual(await get(b.proxyUrl), { status: 200, release: 'v2' });
    assert.deepEqual(
      new Set(b.machines.map((m) => m.id)),
      new Set(a.machines.map((m) => m.id)),
      'rolling updated the machines in place',
    );

    const third = await runway('deploy', '--env', 'test', '--release', 'v3', '--strategy', 'bluegreen', '--json');
    assert.equal(third.code, 0, third.stderr);
    assert.equal((JSON.parse(third.stdout) as { extraMachinesPeak: number }).extraMachinesPeak, 4);
    const c = await info();
    assert.deepEqual(await get(c.proxyUrl), { status: 200, release: 'v3' });
    assert.equal(c.machines.filter((m) => m.release === 'v3').length, 4);

    const status = await runway('status', '--env', 'test', '--json');
    assert.equal(status.code, 0);
    assert.equal((JSON.parse(status.stdout) as { fleet: { total: number } }).fleet.total, 4);

    const refused = await runway('deploy', '--env', 'test', '--release', 'v-nocmd');
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /cannot run on local, nothing was changed/);
    const d = await info();
    assert.deepEqual(
      d.machines.map((m) => [m.id, m.pid]).sort(),
      c.machines.map((m) => [m.id, m.pid]).sort(),
      'no machine changed',
    );

    const down = await runway('local', 'down', '--env', 'test');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /every machine process is gone/);
    assert.ok(await portClosed(d.proxyPort), 'the proxy port is free');
    for (const m of d.machines) assert.ok(await portClosed(m.port), `machine port ${m.port} is free`);
    assert.equal(processStartTime(d.pid), undefined, 'the supervisor is gone');
    assert.deepEqual(await leftovers(TAG, 2000), [], 'no tagged process is left');
    assert.equal((await info()).running, false);
  });

  it('a proxy port in use is bad input (exit 2) before any machine changes, and no supervisor is left behind', async () => {
    const squatter = createServer((_q, s) => s.end('someone else'));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const port = (squatter.address() as { port: number }).port;
    try {
      setUp({ tag: TAG, local: `proxy_port = ${port}` });
      assert.equal((await runway('releases', 'create', 'v1')).code, 0);
      const r = await runway('deploy', '--env', 'test', '--release', 'v1');
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`proxy port ${port} on 127.0.0.1 is in use`));
      assert.match(r.stderr, /no machine was changed/);
      assert.equal((await info()).running, false);
      const machines = join(dir, '.runway/local/shop-test/machines');
      assert.deepEqual(existsSync(machines) ? readdirSync(machines) : [], [], 'no machine was created');
      assert.deepEqual(await leftovers(TAG, 2000), []);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });

  it('a supervisor killed with SIGKILL is replaced by one that re-adopts its machines: same pids, same proxy URL', async () => {
    setUp();
    for (const v of ['v1', 'v2']) await runway('releases', 'create', v);
    assert.equal((await runway('deploy', '--env', 'test', '--release', 'v1')).code, 0);
    const a = await info();
    process.kill(a.pid, 'SIGKILL');
    while (processStartTime(a.pid) !== undefined) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      a.machines.every((m) => m.pid && processStartTime(m.pid) !== undefined),
      'machines outlive their supervisor',
    );
    assert.equal((await info()).running, false);

    const b = await info(true);
    assert.notEqual(b.pid, a.pid);
    assert.equal(b.proxyUrl, a.proxyUrl, 'the proxy comes back on the same port');
    assert.deepEqual(
      b.machines.map((m) => [m.id, m.pid]).sort(),
      a.machines.map((m) => [m.id, m.pid]).sort(),
      'same machines, same processes',
    );
    assert.deepEqual(await get(b.proxyUrl), { status: 200, release: 'v1' });
    const next = await runway('deploy', '--env', 'test', '--release', 'v2');
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.deepEqual(await get(b.proxyUrl), { status: 200, release: 'v2' });
    for (const m of a.machines)
      assert.equal(processStartTime(m.pid!), undefined, `the old process of ${m.id} was stopped by the update`);

    // Killed again: `local down` still finds the orphaned machines (by their state files) and stops them.
    const c = await info();
    process.kill(c.pid, 'SIGKILL');
    while (processStartTime(c.pid) !== undefined) await new Promise((r) => setTimeout(r, 20));
    assert.ok(c.machines.every((m) => processStartTime(m.pid!) !== undefined));
    const down = await runway('local', 'down', '--env', 'test');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /every machine process is gone/);
    assert.ok(
      c.machines.every((m) => processStartTime(m.pid!) === undefined),
      'the orphaned machines are gone',
    );
    assert.ok(await portClosed(c.proxyPort));
  });

  it('runs the release command once on a fresh machine of the new release; a failing one changes no serving machine', async () => {
    setUp({ tag: TAG, releaseCommand: 'bin/migrate' });
    for (const v of ['v1', 'v2', 'v-bootfail']) await runway('releases', 'create', v);
    const first = await runway('deploy', '--env', 'test', '--release', 'v1');
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const second = await runway('deploy', '--env', 'test', '--release', 'v2');
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout + second.stderr, /release-command: release command succeeded/);
    const before = await info();
    assert.ok(before.machines.every((m) => m.release === 'v2'));
    assert.ok(
      !before.machines.some((m) => m.id.startsWith('release_command')),
      'the release command machine destroyed itself',
    );
    const failing = await runway('deploy', '--env', 'test', '--release', 'v-bootfail');
    assert.equal(failing.code, 1, failing.stdout + failing.stderr);
    assert.match(failing.stdout + failing.stderr, /exited with code 1/);
    assert.match(failing.stdout + failing.stderr, /migration failed/);
    const after = await info();
    assert.deepEqual(
      after.machines.map((m) => [m.id, m.pid, m.release]).sort(),
      before.machines.map((m) => [m.id, m.pid, m.release]).sort(),
      'no serving machine changed',
    );
  });

  it("gives machines the environment's secrets from the store; without the secret key the deploy is refused before anything starts", async () => {
    setUp();
    extraEnv = { RUNWAY_SECRET_KEY: randomBytes(32).toString('base64') };
    assert.equal((await runway('releases', 'create', 'v1')).code, 0);
    const set = await runway('secrets', 'set', 'DB_PASSWORD=hunter2', '--env', 'test');
    assert.equal(set.code, 0, set.stdout + set.stderr);
    const key = extraEnv.RUNWAY_SECRET_KEY;
    extraEnv = {};
    const refused = await runway('deploy', '--env', 'test', '--release', 'v1');
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /has 1 secrets its machines need, but they cannot be read/);
    assert.equal((await info()).running, false, 'nothing was started');
    extraEnv = { RUNWAY_SECRET_KEY: key };
    const deployed = await runway('deploy', '--env', 'test', '--release', 'v1');
    assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
    const machines = (await info()).machines;
    assert.equal(machines.length, 4);
    for (const m of machines) {
      const environ = readFileSync(`/proc/${m.pid}/environ`, 'latin1').split('\0');
      assert.ok(environ.includes('DB_PASSWORD=hunter2'), `${m.id} has the secret`);
      assert.ok(!environ.some((e) => e.startsWith('RUNWAY_SECRET_KEY=')), `${m.id} does not get the key`);
    }
    const files = readdirSync(join(dir, '.runway/local/shop-test/machines')).map((f) =>
      readFileSync(join(dir, '.runway/local/shop-test/machines', f), 'utf8'),
    );
    assert.ok(
      files.every((text) => !text.includes('hunter2')),
      'the state files never hold a secret',
    );
  });

  it('`local down --keep-machines` leaves them for the next supervisor; changes to runway.toml reach new processes', async () => {
    setUp();
    await runway('releases', 'create', 'v1');
    assert.equal((await runway('deploy', '--env', 'test', '--release', 'v1')).code, 0);
    const a = await info();
    const kept = await runway('local', 'down', '--env', 'test', '--keep-machines');
    assert.equal(kept.code, 0);
    assert.match(kept.stdout, /keep running/);
    assert.ok(a.machines.every((m) => processStartTime(m.pid!) !== undefined));
    // A different process count in runway.toml: the next deploy plans with it.
    writeFileSync(join(dir, 'runway.toml'), localToml({ web: 2, worker: 1, tag: TAG }));
    const shrink = await runway('deploy', '--env', 'test', '--release', 'v1', '--json');
    assert.equal(shrink.code, 0, shrink.stderr);
    const b = await info();
    assert.equal(b.machines.length, 3);
    assert.ok(
      b.machines.every((m) => a.machines.some((x) => x.id === m.id && x.pid === m.pid)),
      're-adopted, not restarted',
    );
  });
});
