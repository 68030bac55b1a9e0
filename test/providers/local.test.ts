// The `local` provider in-process: the shared contract suite on real processes, then what only a
// real-process provider has to get right (exits as events, stop signals, environment, state and
// re-adoption, refusing what cannot run; the proxy: local-proxy.test.ts). Every process a case starts carries a tag; the
// suite ends by checking that none is left, and kills leftovers so a failure never leaks.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import type { FleetScope, Machine } from '../../src/domain/types.js';
import type { MachineEvent } from '../../src/providers/contract.js';
import { LocalProvider, type LocalAppConfig } from '../../src/providers/local/local-provider.js';
import { assertRejects, runProviderContract } from './contract-suite.js';
import { until } from '../support/wait.js';
import { appConfig, expectNoLeftovers, localHarness, tempDir } from './local-fixtures.js';
import { alive, freePortPair, get } from './local-net.js';

const TAG = randomUUID();

runProviderContract('local (real processes, in-process)', localHarness(TAG));

after(() => expectNoLeftovers(TAG));

describe('local provider: real processes', () => {
  let dir: string;
  let provider: LocalProvider | undefined;
  let config: LocalAppConfig;
  let scope: FleetScope;
  const extra: (() => Promise<void> | void)[] = [];

  async function open(overrides: Parameters<typeof appConfig>[1]['local'] = {}): Promise<LocalProvider> {
    const made = (dir = tempDir());
    extra.push(() => rmSync(made, { recursive: true, force: true }));
    config = appConfig(dir, { tag: TAG, local: overrides });
    scope = { app: config.app, env: config.env };
    provider = await LocalProvider.open(config);
    return provider;
  }

  async function machine(
    p: LocalProvider,
    group = 'web',
    release = 'v1',
    more: Partial<Parameters<LocalProvider['create']>[1]> = {},
  ): Promise<Machine> {
    const m = await p.create(scope, {
      group,
      release,
      role: 'serving',
      cordoned: false,
      launchId: randomUUID(),
      ...more,
    });
    if (more.command) return m;
    return p.waitFor(scope, m.id, { state: 'started', healthy: true, instanceVersion: m.instanceVersion }, 15_000);
  }

  const pidOf = (p: LocalProvider, id: string) => p.processes().find((x) => x.id === id)?.pid;

  afterEach(async () => {
    await provider?.shutdown();
    provider = undefined;
    for (const f of extra.splice(0)) await f();
  });

  it('runs each machine as its own process with PORT, RUNWAY_* variables, the environment variables, secrets and the release env', async () => {
    const scratch = tempDir();
    extra.push(() => rmSync(scratch, { recursive: true, force: true }));
    const secrets = join(scratch, 'secrets.env');
    writeFileSync(secrets, '# secrets\nDATABASE_URL="postgres://local/db"\nexport API_KEY=k-123\n');
    const p = await open({ secretsFile: secrets });
    const dump = scratch;
    const m = await p.create(scope, {
      group: 'worker',
      release: 'v2',
      role: 'serving',
      cordoned: false,
      launchId: 'env-dump',
      env: { DUMP_DIR: dump },
      command: 'env > "$DUMP_DIR/$RUNWAY_MACHINE_ID.env"; exec sleep 30',
    });
    await p.waitFor(scope, m.id, { state: 'started', healthy: true }, 10_000);
    const file = join(dump, `${m.id}.env`);
    await until(() => existsSync(file), `${file} written`);
    const env = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const info = p.processes().find((x) => x.id === m.id)!;
    assert.equal(env.PORT, String(info.port));
    assert.equal(env.RUNWAY_RELEASE, 'v2');
    assert.equal(env.RUNWAY_MACHINE_ID, m.id);
    assert.equal(env.RUNWAY_PROCESS_GROUP, 'worker');
    assert.equal(env.RUNWAY_APP, config.app);
    assert.equal(env.RUNWAY_ENV, config.env);
    assert.equal(env.LOG_LEVEL, 'debug', 'environment variables');
    assert.equal(env.DATABASE_URL, 'postgres://local/db', 'secrets_file');
    assert.equal(env.API_KEY, 'k-123');
    assert.equal(env.RUNWAY_LOCAL_OWNER_PID, undefined, "runway's own variables stay private");
    const other = await machine(p, 'web', 'v1');
    const otherPort = p.processes().find((x) => x.id === other.id)!.port;
    assert.notEqual(otherPort, info.port, 'every machine has its own port');
    const answer = JSON.parse((await get(`http://127.0.0.1:${otherPort}`)).body) as {
      greeting: string;
      release: string;
    };
    assert.equal(answer.release, 'v1');
  });

  it('sees a machine process killed from outside as an exit at once, and says how it ended', async () => {
    const p = await open();
    const m = await machine(p);
    const events: MachineEvent[] = [];
    p.subscribe(scope, (e) => events.push(e));
    const waiting = p.waitFor(scope, m.id, { state: 'stopped' }, 60_000);
    process.kill(pidOf(p, m.id)!, 'SIGKILL');
    const error = await assertRejects(waiting, 'machine_failed'); // not wait_timeout: ended on the exit
    assert.match(error.message, /killed by SIGKILL/);
    const got = await p.get(scope, m.id);
    assert.equal(got.state, 'failed');
    assert.ok(
      events.some((e) => e.machine.state === 'failed'),
      'the exit is an event',
    );
    assert.equal(p.proxy.routable.length, 0, 'a failed machine leaves the routable set at once');
  });

  it('a machine that crashes on boot fails with its last output in the error', async () => {
    const p = await open();
    const m = await p.create(scope, {
      group: 'web',
      release: 'v-bootfail',
      role: 'serving',
      cordoned: false,
      launchId: 'boot',
    });
    const error = await assertRejects(
      p.waitFor(scope, m.id, { state: 'started', healthy: true }, 15_000),
      'machine_failed',
    );
    assert.match(error.message, /exited with code 1/);
    assert.match(error.message, /crashing on boot/);
    assert.equal((await p.get(scope, m.id)).exitCode, 1);
    assert.ok(
      (await p.logs(scope, m.id)).some((line) => line.includes('crashing on boot')),
      'logs() has its output',
    );
    await p.destroy(scope, m.id);
    await p.waitFor(scope, m.id, { state: 'destroyed' }, 10_000);
    assert.ok((await p.logs(scope, m.id)).length > 0, 'and keeps it after the machine is destroyed');
  });

  it('stops with the configured signal, and SIGKILLs a process that ignores it after the stop timeout', async () => {
    const p = await open({ stopSignal: 'SIGINT' });
    const dump = tempDir();
    extra.push(() => rmSync(dump, { recursive: true, force: true }));
    const polite = await p.create(scope, {
      group: 'worker',
      release: 'v1',
      role: 'serving',
      cordoned: false,
      launchId: 'polite',
      env: { DUMP: join(dump, 'signal') },
      // It says when its handler is in place: a busy machine can take longer to boot node than the
      // provider takes to call the process started, and a SIGINT before the handler just kills it.
      command: `exec node -e "process.on('SIGINT',()=>{require('fs').writeFileSync(process.env.DUMP,'SIGINT');process.exit(0)});require('fs').writeFileSync(process.env.DUMP,'ready');setInterval(()=>{},1000)"`,
    });
    await p.waitFor(scope, polite.id, { state: 'started', healthy: true }, 10_000);
    await until(() => existsSync(join(dump, 'signal')), 'the process to install its SIGINT handler');
    await p.stop(scope, polite.id);
    await p.waitFor(scope, polite.id, { state: 'stopped' }, 10_000);
    assert.equal(readFileSync(join(dump, 'signal'), 'utf8'), 'SIGINT');

    const stubborn = await p.create(scope, {
      group: 'worker',
      release: 'v1',
      role: 'serving',
      cordoned: false,
      launchId: 'stubborn',
      command: "trap '' INT TERM; exec sleep 60",
    });
    await p.waitFor(scope, stubborn.id, { state: 'started', healthy: true }, 10_000);
    const pid = pidOf(p, stubborn.id)!;
    const t0 = Date.now();
    await p.stop(scope, stubborn.id, { timeoutMs: 700 });
    await p.waitFor(scope, stubborn.id, { state: 'stopped' }, 10_000);
    const took = Date.now() - t0;
    // A lower bound only (a busy machine makes it longer, never shorter): SIGKILL came after the timeout.
    assert.ok(took >= 650, `SIGKILL after the stop timeout: stopped in ${took} ms`);
    assert.equal(alive(pid), false, 'the process is gone');
  });

  it('runs a simple command as the machine process itself; a shell command list gets its whole group stopped gracefully', async () => {
    const p = await open();
    const web = await machine(p);
    const cmdline = readFileSync(`/proc/${pidOf(p, web.id)}/cmdline`, 'utf8').split('\0');
    assert.notEqual(cmdline[0], '/bin/sh');
    assert.match(cmdline.join(' '), /server\.js/, 'the pid is node running server.js, not a shell waiting for it');

    const dump = tempDir();
    extra.push(() => rmSync(dump, { recursive: true, force: true }));
    const slowToStop = `node -e "process.on('SIGTERM',()=>setTimeout(()=>{require('fs').writeFileSync(process.env.DUMP,'graceful');process.exit(0)},400));require('fs').writeFileSync(process.env.DUMP+'.ready','');setInterval(()=>{},1000)"`;
    const listed = await p.create(scope, {
      group: 'worker',
      release: 'v1',
      role: 'serving',
      cordoned: false,
      launchId: 'list',
      env: { DUMP: join(dump, 'stopped') },
      command: `echo "a command list"; ${slowToStop}`,
    });
    await p.waitFor(scope, listed.id, { state: 'started', healthy: true }, 10_000);
    await until(() => existsSync(join(dump, 'stopped.ready')), 'node is up inside the shell, its SIGTERM handler set');
    await p.stop(scope, listed.id);
    await p.waitFor(scope, listed.id, { state: 'stopped' }, 10_000);
    assert.equal(
      readFileSync(join(dump, 'stopped'), 'utf8'),
      'graceful',
      'the shell exited at once, its child finished its graceful stop',
    );
  });

  it('refuses a release whose command does not exist, before any machine changes', async () => {
    const p = await open();
    const m = await machine(p);
    const before = await p.list(scope);
    const pid = pidOf(p, m.id);
    const refused = await assertRejects(p.checkRelease(scope, 'v-nocmd'), 'bad_request');
    assert.match(refused.message, /no-such-server.*does not exist/);
    await assertRejects(p.update(scope, m.id, { release: 'v-nocmd' }), 'bad_request');
    await assertRejects(
      p.create(scope, { group: 'web', release: 'v-nocmd', role: 'green', cordoned: true, launchId: 'g' }),
      'bad_request',
    );
    const missing = await assertRejects(p.checkRelease(scope, 'v-unknown'), 'bad_request');
    assert.match(
      missing.message,
      /no command for process group "web"/,
      'a version with no artifact and no [app.processes] command',
    );
    assert.deepEqual(await p.list(scope), before, 'nothing changed');
    assert.equal(pidOf(p, m.id), pid, 'the machine kept its process');
  });

  it('refuses to start when the proxy port is in use, changing no machine; re-adopts the running machines afterwards', async () => {
    const p = await open();
    const m = await machine(p);
    const pid = pidOf(p, m.id)!;
    const saved = readFileSync(join(config.options.stateDir, 'machines', `${m.id}.json`), 'utf8');
    const port = p.proxy.port;
    await p.close(); // the supervisor goes away; its machine keeps running
    provider = undefined;
    const squatter: Server = createServer((_q, s) => s.end('not runway'));
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', () => r()));
    extra.push(() => new Promise<void>((r) => squatter.close(() => r())));
    const again = { ...config, options: { ...config.options, proxyPort: port } };
    await assert.rejects(
      LocalProvider.open(again),
      (e: Error) => /proxy port \d+ on 127.0.0.1 is in use/.test(e.message) && /no machine was changed/.test(e.message),
    );
    assert.ok(alive(pid), 'the machine process was not touched');
    assert.equal(
      readFileSync(join(config.options.stateDir, 'machines', `${m.id}.json`), 'utf8'),
      saved,
      'its state is unchanged',
    );
    provider = await LocalProvider.open(config); // any free port
    assert.equal(pidOf(provider, m.id), pid, 're-adopted');
  });

  it('re-adopts its processes after a restart (same pids, still serving) and sees an adopted process exit', async () => {
    const p = await open();
    const a = await machine(p);
    const b = await machine(p);
    const pids = [pidOf(p, a.id)!, pidOf(p, b.id)!];
    const port = p.proxy.port;
    await p.close();
    provider = undefined;
    assert.ok(pids.every(alive), 'closing the provider leaves machines running');

    const q = (provider = await LocalProvider.open(config));
    assert.equal(q.proxy.port, port, 'the proxy comes back on the port it had');
    assert.deepEqual([pidOf(q, a.id), pidOf(q, b.id)], pids);
    const listed = await q.list(scope);
    assert.deepEqual(listed.map((m) => m.id).sort(), [a.id, b.id].sort());
    assert.ok(listed.every((m) => m.state === 'started' && m.release === 'v1'));
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await get(q.proxyUrl)).machine ?? '');
    assert.deepEqual([...seen].sort(), [a.id, b.id].sort(), 'the new proxy routes to the adopted machines');

    const waiting = q.waitFor(scope, a.id, { state: 'stopped' }, 60_000);
    process.kill(pids[0]!, 'SIGKILL');
    await assertRejects(waiting, 'machine_failed'); // an adopted process's exit is seen (polled), not waited out
    await q.destroy(scope, b.id);
    await q.waitFor(scope, b.id, { state: 'destroyed' }, 10_000);
    assert.equal(alive(pids[1]!), false, 'an adopted process is stopped on destroy');
  });

  it('never signals a process it did not start, even when a state file names its pid', async () => {
    const p = await open();
    const m = await machine(p);
    await p.close();
    provider = undefined;
    // Someone else's process now has a pid our state file names (pid reuse): same pid, another start time.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore', env: { ...process.env, RUNWAY_TEST_TAG: TAG } });
    extra.push(() => void stranger.kill('SIGKILL'));
    await new Promise((r) => stranger.once('spawn', r));
    const file = join(config.options.stateDir, 'machines', `${m.id}.json`);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { proc: { pid: number; startTime: string } };
    const ourPid = saved.proc.pid;
    saved.proc.pid = stranger.pid!;
    writeFileSync(file, JSON.stringify(saved));
    process.kill(ourPid, 'SIGKILL'); // our real process is gone

    const q = (provider = await LocalProvider.open(config));
    const got = await q.get(scope, m.id);
    assert.equal(got.state, 'failed', 'recorded as exited while unwatched');
    assert.equal(pidOf(q, m.id), undefined, 'the stranger was not adopted');
    await q.destroy(scope, m.id);
    await q.waitFor(scope, m.id, { state: 'destroyed' }, 10_000);
    await q.shutdown();
    provider = undefined;
    assert.ok(alive(stranger.pid!), 'the stranger is alive after destroy and shutdown');
    await open(); // for afterEach
  });

  it('boots at most boot_concurrency machines at once; a release that never passes gives its slot back after the grace period', async () => {
    const p = await open({ bootConcurrency: 1 });
    let booting = 0;
    let most = 0;
    const seen = new Map<string, string>();
    p.subscribe(scope, (e) => {
      const before = seen.get(e.machine.id);
      const now = e.machine.state === 'started' && e.machine.health === 'unknown' ? 'booting' : e.machine.state;
      seen.set(e.machine.id, now);
      if (now === 'booting' && before !== 'booting') booting++;
      if (now !== 'booting' && before === 'booting') booting--;
      most = Math.max(most, booting);
    });
    const broken = await p.create(scope, {
      group: 'web',
      release: 'v-broken',
      role: 'serving',
      cordoned: false,
      launchId: 'b',
    });
    const made = [];
    for (let i = 0; i < 3; i++)
      made.push(
        await p.create(scope, { group: 'web', release: 'v1', role: 'serving', cordoned: false, launchId: `m${i}` }),
      );
    await Promise.all(made.map((m) => p.waitFor(scope, m.id, { state: 'started', healthy: true }, 15_000)));
    assert.equal(most, 1, 'one machine booting at a time');
    assert.equal(
      (await p.get(scope, broken.id)).health,
      'critical',
      'the never-healthy one went on failing its checks without blocking the others',
    );
  });

  it('gives machines ports from base_port, and refuses a create when the range is used up', async () => {
    const base = await freePortPair();
    const p = await open({ basePort: base, portCount: 2 });
    const a = await machine(p);
    const b = await machine(p);
    const ports = p
      .processes()
      .map((x) => x.port)
      .sort();
    assert.deepEqual(ports, [base, base + 1].sort(), `${a.id} ${b.id}`);
    const before = await p.list(scope);
    await assertRejects(
      p.create(scope, { group: 'web', release: 'v1', role: 'serving', cordoned: false, launchId: 'third' }),
      'bad_request',
    );
    assert.equal((await p.list(scope)).length, before.length);
  });
});
