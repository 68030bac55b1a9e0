// The sidekiq-quiet release step against the machine's real Redis, with doubles of Sidekiq 7
// processes heart-beating as Sidekiq's launcher does (test/release-steps/sidekiq-double.ts).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  SIGNAL_TTL_SECONDS,
  parseSidekiqQuietConfig,
  resolveRedisUrl,
  runSidekiqQuiet,
  sidekiqQuietStep,
  type SidekiqQuietOptions,
} from '../../src/release/steps/sidekiq-quiet.js';
import { BUILTIN_STEPS, createReleaseStep } from '../../src/release/steps/index.js';
import { deleteNamespace, sidekiqIdentity } from './sidekiq-double.js';
import { Fixture, POLL_MS, REDIS_URL, aclUser, beatsPast, deadPort, until } from './helpers.js';
import { requireRedis } from '../support/services.js';

before(() => requireRedis());

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.close();
});

const fast = (extra: SidekiqQuietOptions = {}): SidekiqQuietOptions => ({
  redisUrl: REDIS_URL,
  namespace: fx.namespace,
  timeoutMs: 5_000,
  pollMs: POLL_MS,
  ...extra,
});

describe('sidekiq-quiet: quieting live processes', () => {
  it('quiets every live process with TSTP and reports found/quieted/timedOut/skipped', async () => {
    const procs = await Promise.all([fx.start({ tag: 'mechanic' }), fx.start(), fx.start({ concurrency: 10 })]);
    const report = await sidekiqQuietStep(fast()).run(fx.context());
    assert.equal(report.status, 'succeeded', report.summary);
    assert.equal(report.ok, true);
    assert.equal(report.step, 'sidekiq-quiet');
    assert.equal(report.error, undefined);
    const d = report.details;
    assert.deepEqual([d.found, d.quieted, d.timedOut, d.skipped, d.gone], [3, 3, 0, 0, 0]);
    assert.match(report.summary, /quieted 3 of 3 Sidekiq processes/);
    for (const p of procs) {
      assert.equal(p.quiet, true);
      assert.deepEqual(p.received, ['TSTP'], 'exactly one TSTP per process');
      assert.equal(await fx.admin.hget(fx.key(p.identity), 'quiet'), 'true');
    }
    for (const outcome of d.processes) {
      assert.equal(outcome.state, 'quieted');
      assert.equal(outcome.signalled, true);
      assert.equal(outcome.alreadyQuiet, false);
      assert.ok(outcome.ackMs !== null && outcome.ackMs > 0);
      assert.equal(outcome.hostname, 'worker-1');
    }
    assert.equal(d.processes.find((p) => p.identity === procs[0]!.identity)?.tag, 'mechanic');
    assert.ok(
      fx.lines.some((l) => /quiet: 3\/3/.test(l)),
      fx.lines.join('\n'),
    );
    assert.ok(report.durationMs >= 0);
  });

  it('quiet shows on the beat after the one that read TSTP, as in Sidekiq', async () => {
    const p = await fx.start();
    const report = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(report.status, 'succeeded');
    // Read on one beat, reported on a later one.
    const beatsAtAck = p.beats;
    assert.ok(beatsAtAck >= 3, `at least the first beat, the reading beat and the reporting beat (${beatsAtAck})`);
  });

  it('skips embedded processes and dead identities (no info), sending them nothing', async () => {
    const live = await fx.start();
    const embedded = await fx.start({ embedded: true });
    const dead = await fx.addDead();
    const report = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(report.status, 'succeeded', report.summary);
    const d = report.details;
    assert.deepEqual([d.found, d.quieted, d.skipped], [1, 1, 2]);
    assert.deepEqual(
      d.skippedIdentities.sort((a, b) => a.reason.localeCompare(b.reason)),
      [
        { identity: dead, reason: 'dead' },
        { identity: embedded.identity, reason: 'embedded' },
      ],
    );
    assert.match(report.summary, /skipped 1 embedded, 1 dead/);
    assert.equal(live.quiet, true);
    assert.equal(embedded.quiet, false);
    assert.deepEqual(embedded.received, []);
    assert.equal(await fx.admin.exists(fx.key(`${embedded.identity}-signals`)), 0);
    assert.equal(await fx.admin.exists(fx.key(`${dead}-signals`)), 0);
    assert.equal(await fx.admin.hget(fx.key(embedded.identity), 'quiet'), 'false');
  });

  it('finds nothing to do when no process is live, and succeeds', async () => {
    await fx.addDead();
    const report = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(report.status, 'succeeded');
    assert.equal(report.details.found, 0);
    assert.match(
      report.summary,
      /no live Sidekiq process at redis:\/\/127\.0\.0\.1:6379 \(namespace "runway-test-sq-[0-9a-f]+"\): nothing to quiet \(skipped 0 embedded, 1 dead\)/,
    );
  });

  it('does not signal a process that is already quiet (idempotent re-runs)', async () => {
    const p = await fx.start();
    const first = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(first.details.quieted, 1);
    const second = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(second.status, 'succeeded');
    assert.deepEqual([second.details.found, second.details.quieted], [1, 1]);
    assert.equal(second.details.processes[0]!.alreadyQuiet, true);
    assert.equal(second.details.processes[0]!.signalled, false);
    assert.equal(await fx.admin.exists(fx.key(`${p.identity}-signals`)), 0);
    await beatsPast(p); // it would have read a second TSTP by now
    assert.deepEqual(p.received, ['TSTP']);
    assert.match(second.summary, /1 already quiet/);
  });

  it('processes started after the quiet are new identities, not quiet; a second run quiets them', async () => {
    const old = await fx.start();
    const first = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(first.details.quieted, 1);
    const fresh = await fx.start(); // e.g. the new release's worker, or a restarted one
    await beatsPast(fresh);
    assert.notEqual(fresh.identity, old.identity);
    assert.equal(fresh.quiet, false);
    assert.equal(await fx.admin.hget(fx.key(fresh.identity), 'quiet'), 'false');
    const second = await runSidekiqQuiet(fx.context(), fast());
    assert.deepEqual([second.details.found, second.details.quieted], [2, 2]);
    assert.equal(fresh.quiet, true);
  });

  it('counts a process that stops while we wait as gone, not timed out', async () => {
    const p = await fx.start({ ignoreTstp: true });
    const run = runSidekiqQuiet(fx.context(), fast({ timeoutMs: 30_000 }));
    await until(() => p.received.includes('TSTP'), 'the process read TSTP (the step now waits for quiet)');
    await p.stop(); // Sidekiq's clean shutdown: SREM processes
    const report = await run;
    assert.equal(report.status, 'succeeded', report.summary);
    assert.deepEqual(
      [report.details.found, report.details.quieted, report.details.timedOut, report.details.gone],
      [1, 0, 0, 1],
    );
    assert.equal(report.details.processes[0]!.state, 'gone');
    assert.match(report.details.processes[0]!.reason ?? '', /left the processes set/);
    assert.match(report.summary, /1 stopped while waiting/);
  });

  it('without a namespace, finding none in "processes" but a namespaced set: fails naming the namespace to set', async () => {
    // A database nothing else uses, so the only namespaced set there is this test's.
    let db = 0;
    for (let i = 14; i >= 1; i--) {
      const probe = new Redis(`${REDIS_URL}/${i}`);
      const size = await probe.dbsize();
      probe.disconnect();
      if (size === 0) {
        db = i;
        break;
      }
    }
    assert.ok(db > 0, 'an empty Redis database');
    const url = `${REDIS_URL}/${db}`;
    const admin = new Redis(url);
    const p = await fx.start({ url });
    try {
      const report = await runSidekiqQuiet(fx.context(), { redisUrl: url, timeoutMs: 5_000, pollMs: POLL_MS });
      assert.equal(report.status, 'failed', report.summary);
      assert.equal(report.error?.kind, 'bad_input');
      assert.match(
        report.error!.message,
        new RegExp(
          `no Sidekiq process in "processes" at redis://127\\.0\\.0\\.1:6379/${db}, but namespaced process sets exist: "${fx.namespace}:processes" \\(1 member\\)`,
        ),
      );
      assert.match(report.error!.message, new RegExp(`--namespace ${fx.namespace}`));
      assert.match(report.error!.message, /nothing was signalled/);
      assert.deepEqual(p.received, [], 'nothing was signalled');
      // With the namespace it finds and quiets the process.
      const named = await runSidekiqQuiet(fx.context(), {
        redisUrl: url,
        namespace: fx.namespace,
        timeoutMs: 5_000,
        pollMs: POLL_MS,
      });
      assert.equal(named.status, 'succeeded', named.summary);
      assert.equal(named.details.quieted, 1);
    } finally {
      await p.stop();
      await deleteNamespace(admin, fx.namespace);
      admin.disconnect();
    }
  });

  it("works without a namespace, on the URL's database index", async () => {
    // A database whose `processes` key is free (other suites may use Redis too).
    let db = 0;
    for (let i = 15; i >= 1; i--) {
      const probe = new Redis(`${REDIS_URL}/${i}`);
      const taken = await probe.exists('processes');
      probe.disconnect();
      if (!taken) {
        db = i;
        break;
      }
    }
    assert.ok(db > 0, 'a database without a processes key');
    const url = `${REDIS_URL}/${db}`;
    const admin = new Redis(url);
    const identity = sidekiqIdentity('nons');
    const double = await (
      await import('./sidekiq-double.js')
    ).SidekiqProcessDouble.start(url, identity, { beatMs: 250 });
    try {
      const report = await runSidekiqQuiet(fx.context(), { redisUrl: url, timeoutMs: 5_000, pollMs: POLL_MS });
      assert.equal(report.status, 'succeeded', report.summary);
      assert.ok(report.details.found >= 1);
      assert.ok(report.details.processes.some((p) => p.identity === identity && p.state === 'quieted'));
      assert.equal(double.quiet, true);
      assert.equal(report.details.redis, `${REDIS_URL}/${db}`);
    } finally {
      await double.stop();
      await admin.unlink(identity, `${identity}-signals`, `${identity}:work`);
      if ((await admin.scard('processes')) === 0) await admin.unlink('processes');
      admin.disconnect();
    }
  });
});

describe('sidekiq-quiet: processes that never acknowledge', () => {
  it('a process that reads TSTP but never reports quiet times out, named, with why', async () => {
    const good = await fx.start();
    const deaf = await fx.start({ ignoreTstp: true, hostname: 'stubborn' });
    const report = await runSidekiqQuiet(fx.context(), fast({ timeoutMs: 1_500 }));
    assert.equal(report.status, 'failed');
    assert.equal(report.ok, false);
    assert.equal(report.error?.kind, 'timeout');
    const d = report.details;
    assert.deepEqual([d.found, d.quieted, d.timedOut], [2, 1, 1]);
    assert.deepEqual(d.timedOutIdentities, [deaf.identity]);
    assert.ok(report.summary.includes(deaf.identity), report.summary);
    assert.ok(report.error!.message.includes(deaf.identity));
    assert.match(report.error!.message, /did not report quiet within 1\.5s/);
    assert.match(report.error!.message, /read TSTP but still reports quiet = "false".*ignores TSTP/);
    assert.deepEqual(deaf.received, ['TSTP']);
    assert.equal(good.quiet, true);
    assert.equal(d.processes.find((p) => p.identity === deaf.identity)?.state, 'timed_out');
  });

  it('a hung process leaves TSTP unread; the signal list expires in 60 s', async () => {
    const hung = await fx.start();
    await hung.freeze(); // its hash (with info) lives on for up to 60 s: it looks alive
    const report = await runSidekiqQuiet(fx.context(), fast({ timeoutMs: 1_200 }));
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'timeout');
    assert.deepEqual(report.details.timedOutIdentities, [hung.identity]);
    assert.match(
      report.error!.message,
      /no heartbeat since TSTP was sent.*TSTP is still unread: the process looks hung/,
    );
    const list = fx.key(`${hung.identity}-signals`);
    assert.deepEqual(await fx.admin.lrange(list, 0, -1), ['TSTP']);
    const ttl = await fx.admin.ttl(list);
    assert.ok(ttl > SIGNAL_TTL_SECONDS - 10 && ttl <= SIGNAL_TTL_SECONDS, `TTL ${ttl}`);
  });

  it('signals exactly as Sidekiq: LPUSH TSTP then EXPIRE 60 in one MULTI/EXEC', async () => {
    const hung = await fx.start();
    await hung.freeze();
    const monitor = new Redis(REDIS_URL);
    const seen: { command: string; source: string }[] = [];
    const m = await monitor.monitor();
    m.on(
      'monitor',
      (_time: string, args: string[], source: string) =>
        void seen.push({ command: args.join(' ').toLowerCase(), source }),
    );
    try {
      await runSidekiqQuiet(fx.context(), fast({ timeoutMs: 300 }));
      const lpushed = `lpush ${fx.key(`${hung.identity}-signals`).toLowerCase()} tstp`;
      await until(() => {
        const source = seen.find((e) => e.command === lpushed)?.source;
        return seen.some((e) => e.source === source && e.command === 'exec');
      }, 'MONITOR reported the MULTI/EXEC');
    } finally {
      m.disconnect();
      monitor.disconnect();
    }
    const list = fx.key(`${hung.identity}-signals`).toLowerCase();
    const lpush = seen.find((e) => e.command === `lpush ${list} tstp`);
    assert.ok(lpush, 'LPUSH seen');
    // The step's own connection, in order (other suites may use Redis at the same time).
    const own = seen.filter((e) => e.source === lpush.source).map((e) => e.command);
    const i = own.indexOf(`lpush ${list} tstp`);
    assert.deepEqual(
      own.slice(i - 1, i + 3),
      ['multi', `lpush ${list} tstp`, `expire ${list} 60`, 'exec'],
      own.join('\n'),
    );
  });
});

describe('sidekiq-quiet: waiting for idle', () => {
  it('--wait-idle waits until busy = "0"', async () => {
    const p = await fx.start({ busy: 2 });
    let finishedAt = 0;
    let idleAt = 0;
    const run = runSidekiqQuiet(fx.context(), fast({ waitIdle: true, idleTimeoutMs: 10_000 })).then((r) => {
      finishedAt = Date.now();
      return r;
    });
    await until(() => p.quiet, 'the process went quiet');
    await beatsPast(p, 3); // it went on reporting busy = 2 meanwhile
    assert.equal(finishedAt, 0, 'still waiting while jobs run');
    p.setBusy(0);
    idleAt = Date.now();
    const report = await run;
    assert.equal(report.status, 'succeeded', report.summary);
    assert.ok(finishedAt >= idleAt);
    assert.deepEqual([report.details.quieted, report.details.idle, report.details.stillBusy], [1, 1, 0]);
    assert.equal(report.details.processes[0]!.idle, true);
    assert.equal(report.details.processes[0]!.busy, 0);
    assert.match(report.summary, /all idle/);
  });

  it('a quiet process still busy at the idle timeout fails the step, named with its job count', async () => {
    const p = await fx.start({ busy: 3 });
    const report = await runSidekiqQuiet(fx.context(), fast({ waitIdle: true, idleTimeoutMs: 800 }));
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'timeout');
    assert.deepEqual(
      [report.details.quieted, report.details.timedOut, report.details.idle, report.details.stillBusy],
      [1, 0, 0, 1],
    );
    assert.deepEqual(report.details.stillBusyIdentities, [p.identity]);
    assert.ok(report.error!.message.includes(`${p.identity} (busy 3)`), report.error!.message);
  });

  it('without --wait-idle it does not wait for busy processes', async () => {
    await fx.start({ busy: 4 });
    const report = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(report.status, 'succeeded');
    assert.equal(report.details.processes[0]!.busy, 4);
    assert.equal(report.details.processes[0]!.idle, null);
  });
});

describe('sidekiq-quiet: Redis faults', () => {
  it('unreachable Redis fails with a specific message (on_unavailable = "fail", the default)', async () => {
    const port = await deadPort();
    const report = await runSidekiqQuiet(fx.context(), { redisUrl: `redis://127.0.0.1:${port}/0` });
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'unreachable');
    assert.match(
      report.error!.message,
      new RegExp(
        `Redis at redis://127\\.0\\.0\\.1:${port}/0 is unreachable: connection refused: nothing is listening there \\(.*ECONNREFUSED.*\\); nothing was signalled`,
      ),
    );
    assert.match(report.error!.message, /on_unavailable = "fail"/);
  });

  it('unreachable Redis is skipped with on_unavailable = "skip"', async () => {
    const port = await deadPort();
    const report = await runSidekiqQuiet(fx.context(), {
      redisUrl: `redis://127.0.0.1:${port}`,
      onUnavailable: 'skip',
    });
    assert.equal(report.status, 'skipped');
    assert.equal(report.ok, true);
    assert.equal(report.error, undefined);
    assert.match(report.details.unavailable ?? '', /connection refused/);
    assert.deepEqual([report.details.found, report.details.quieted], [0, 0]);
    assert.match(report.summary, /^skipped: .*on_unavailable = "skip": no Sidekiq process was quieted/);
  });

  it('a wrong password fails with a clear message that hides the password, even with "skip"', async () => {
    const user = await aclUser(fx, 'right-horse-battery', ['~*', '&*', '+@all']);
    for (const onUnavailable of ['fail', 'skip'] as const) {
      const report = await runSidekiqQuiet(fx.context(), {
        redisUrl: `redis://${user}:wrong-staple@127.0.0.1:6379`,
        onUnavailable,
      });
      assert.equal(report.status, 'failed');
      assert.equal(report.error?.kind, 'auth');
      assert.match(
        report.error!.message,
        new RegExp(`Redis at redis://${user}:\\*\\*\\*@127\\.0\\.0\\.1:6379 refused the credentials \\(WRONGPASS`),
      );
      assert.match(report.error!.message, /check the user name and password/);
      assert.ok(!JSON.stringify(report).includes('wrong-staple'), 'the password is never reported');
    }
    // And the right one works.
    await fx.start();
    const ok = await runSidekiqQuiet(fx.context(), {
      ...fast(),
      redisUrl: `redis://${user}:right-horse-battery@127.0.0.1:6379`,
    });
    assert.equal(ok.status, 'succeeded', ok.summary);
    assert.equal(ok.details.quieted, 1);
  });

  it('a Redis user that may read but not write fails naming the missing permission; nothing is signalled', async () => {
    const user = await aclUser(fx, 'pw', ['~*', '+@read', '+ping']);
    const p = await fx.start();
    const report = await runSidekiqQuiet(fx.context(), { ...fast(), redisUrl: `redis://${user}:pw@127.0.0.1:6379` });
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'auth');
    assert.match(
      report.error!.message,
      /the Redis user of .* may not run (MULTI|EXEC|LPUSH).*NOPERM.*nothing was signalled/,
    );
    assert.equal(await fx.admin.exists(fx.key(`${p.identity}-signals`)), 0);
    assert.equal(report.details.processes[0]!.state, 'not_signalled');
  });

  it('a Redis user with exactly the documented permissions can run the step (docs/release-steps.md)', async () => {
    const user = await aclUser(fx, 'pw', [
      `~${fx.namespace}:*`,
      '+sscan',
      '+sismember',
      '+hmget',
      '+lrange',
      '+multi',
      '+exec',
      '+lpush',
      '+expire',
      '+ping',
    ]);
    const p = await fx.start();
    const hung = await fx.start();
    await hung.freeze();
    const report = await runSidekiqQuiet(fx.context(), {
      ...fast({ timeoutMs: 1_500 }),
      redisUrl: `redis://${user}:pw@127.0.0.1:6379`,
    });
    assert.equal(report.details.quieted, 1, report.summary);
    assert.equal(p.quiet, true);
    // The diagnosis of the hung one (LRANGE) worked too.
    assert.match(report.error?.message ?? '', /TSTP is still unread/);
  });

  it('a database index out of range is bad input, and nothing is written to database 0', async () => {
    // ioredis reports a failed SELECT only as an event and carries on in database 0, where this
    // process lives: it must not be signalled.
    const p = await fx.start();
    const report = await runSidekiqQuiet(fx.context(), { redisUrl: `${REDIS_URL}/99`, namespace: fx.namespace });
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'bad_input');
    assert.match(
      report.error!.message,
      /has no such database \(ERR DB index is out of range\): fix the \/DB index in the URL; nothing was signalled/,
    );
    assert.equal(await fx.admin.exists(fx.key(`${p.identity}-signals`)), 0);
    assert.deepEqual(p.received, []);
  });

  it('a namespace whose `processes` is not a set is bad input (wrong Redis, database or namespace)', async () => {
    await fx.admin.set(fx.key('processes'), 'not a set');
    const report = await runSidekiqQuiet(fx.context(), fast());
    assert.equal(report.error?.kind, 'bad_input');
    assert.match(
      report.error!.message,
      /holds a key of another type where Sidekiq keeps its processes \(WRONGTYPE.*is this Sidekiq's Redis, database and namespace\?/,
    );
  });

  it('a server that is not Redis is named as such', async () => {
    const server = createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const report = await runSidekiqQuiet(fx.context(), {
        redisUrl: `redis://127.0.0.1:${port}`,
        connectTimeoutMs: 2000,
      });
      assert.equal(report.status, 'failed');
      assert.equal(report.error?.kind, 'unreachable');
      assert.match(
        report.error!.message,
        new RegExp(
          `the server at redis://127\\.0\\.0\\.1:${port} does not speak the Redis protocol \\(Unknown RESP type 72 "H"\\): is the host/port right\\?`,
        ),
      );
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('aborting stops the wait and rejects with the reason; what was sent stays sent', async () => {
    const p = await fx.start({ ignoreTstp: true });
    const controller = new AbortController();
    const run = runSidekiqQuiet(fx.context({}, controller.signal), fast({ timeoutMs: 20_000 }));
    await until(() => p.received.includes('TSTP'), 'the process read TSTP (the step now waits for quiet)');
    controller.abort(new Error('deploy aborted'));
    await assert.rejects(run, /deploy aborted/);
    assert.ok(
      fx.lines.some((l) => /aborted: 1 process had been sent TSTP/.test(l)),
      fx.lines.join('\n'),
    );
    assert.deepEqual(p.received, ['TSTP']);
  });
});

describe('sidekiq-quiet: options and the Redis URL', () => {
  it('rejects a timeout above the 60 s signal expiry, and other bad options, before connecting', async () => {
    const report = await runSidekiqQuiet(fx.context(), {
      redisUrl: 'redis://127.0.0.1:1',
      timeoutMs: 90_000,
      pollMs: 0,
      namespace: 'app:',
      onUnavailable: 'maybe' as 'skip',
    });
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.kind, 'bad_input');
    const m = report.error!.message;
    assert.match(m, /timeout: must be at most 60s, got 1m30s: Sidekiq drops an unread quiet signal after 60 s/);
    assert.match(m, /poll_interval: must be a positive duration/);
    assert.match(m, /namespace: give it without the trailing colon \("app"\)/);
    assert.match(m, /on_unavailable: must be "fail" or "skip"/);
  });

  it('rejects URLs that are not redis:// or rediss://', async () => {
    const report = await runSidekiqQuiet(fx.context(), { redisUrl: 'http://127.0.0.1:6379' });
    assert.equal(report.error?.kind, 'bad_input');
    assert.match(report.error!.message, /the scheme must be redis:\/\/ or rediss:\/\/ \(TLS\), not http:/);
    const report2 = await runSidekiqQuiet(fx.context({ REDIS_URL: 'localhost' }), {});
    assert.equal(report2.error?.kind, 'bad_input');
    assert.match(report2.error!.message, /\$REDIS_URL: "localhost" is not a URL/);
  });

  it('reads the URL from the environment variables: REDIS_URL, REDIS_PROVIDER, redis_url_var', async () => {
    assert.deepEqual(resolveRedisUrl({ REDIS_URL: 'redis://a' }, {}), { url: 'redis://a', source: '$REDIS_URL' });
    assert.deepEqual(resolveRedisUrl({ REDIS_URL: 'redis://a', REDIS_PROVIDER: 'MY_URL', MY_URL: 'redis://b' }, {}), {
      url: 'redis://b',
      source: '$MY_URL (named by REDIS_PROVIDER)',
    });
    assert.match(
      (resolveRedisUrl({ REDIS_PROVIDER: 'redis://x' }, {}) as { problem: string }).problem,
      /NAME of the variable/,
    );
    assert.deepEqual(resolveRedisUrl({ REDIS_URL: 'redis://a', SQ: 'redis://c' }, { redisUrlVar: 'SQ' }), {
      url: 'redis://c',
      source: '$SQ',
    });
    assert.match((resolveRedisUrl({}, { redisUrlVar: 'SQ' }) as { problem: string }).problem, /SQ, which is not set/);
    assert.deepEqual(resolveRedisUrl({ REDIS_URL: 'redis://a' }, { redisUrl: 'redis://d' }), {
      url: 'redis://d',
      source: 'the redis_url option',
    });
    const none = await runSidekiqQuiet(fx.context(), {});
    assert.equal(none.error?.kind, 'bad_input');
    assert.match(none.error!.message, /no Redis URL: set REDIS_URL/);

    await fx.start();
    const viaVars = await runSidekiqQuiet(fx.context({ REDIS_PROVIDER: 'SIDEKIQ_REDIS', SIDEKIQ_REDIS: REDIS_URL }), {
      namespace: fx.namespace,
      timeoutMs: 5_000,
      pollMs: POLL_MS,
    });
    assert.equal(viaVars.status, 'succeeded', viaVars.summary);
    assert.equal(viaVars.details.quieted, 1);
  });

  it('parses a runway.toml step table, naming bad keys', () => {
    const good = parseSidekiqQuietConfig({
      namespace: 'myapp',
      timeout: '20s',
      wait_idle: true,
      idle_timeout: '2m',
      poll_interval: '500ms',
      on_unavailable: 'skip',
      redis_url_var: 'SIDEKIQ_REDIS_URL',
    });
    assert.deepEqual(good.problems, []);
    assert.deepEqual(good.options, {
      namespace: 'myapp',
      timeoutMs: 20_000,
      waitIdle: true,
      idleTimeoutMs: 120_000,
      pollMs: 500,
      onUnavailable: 'skip',
      redisUrlVar: 'SIDEKIQ_REDIS_URL',
    });
    const bad = parseSidekiqQuietConfig({ timeout: '2m', wait_idle: 'yes', colour: 'blue', idle_timeout: 'soon' });
    assert.deepEqual(bad.problems.map((p) => p.key).sort(), ['colour', 'idle_timeout', 'timeout', 'wait_idle']);
    assert.match(bad.problems.find((p) => p.key === 'colour')!.message, /unknown key; sidekiq-quiet takes redis_url, /);
  });

  it('is registered as a built-in step', async () => {
    assert.ok(BUILTIN_STEPS['sidekiq-quiet']);
    const created = createReleaseStep('sidekiq-quiet', {
      namespace: fx.namespace,
      timeout: '5s',
      poll_interval: '100ms',
    });
    assert.ok(!('problems' in created));
    await fx.start();
    const report = await created.run(fx.context({ REDIS_URL }));
    assert.equal(report.status, 'succeeded');
    const unknown = createReleaseStep('sidekiq-qiuet', {});
    assert.ok('problems' in unknown);
    assert.match(unknown.problems[0]!.message, /unknown release step "sidekiq-qiuet"; built in: sidekiq-quiet/);
  });
});
