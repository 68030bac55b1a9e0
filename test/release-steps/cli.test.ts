// `runway release-step run sidekiq-quiet ...`: the step alone, its --json report and exit codes,
// against the machine's real Redis and Sidekiq doubles.

import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { Fixture, REDIS_URL, aclUser, deadPort, until } from './helpers.js';
import { requireRedis } from '../support/services.js';

before(() => requireRedis());

async function cli(
  args: string[],
  env: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (t) => void (stdout += t), isTTY: false },
    stderr: { write: (t) => void (stderr += t), isTTY: false },
    env: { NO_COLOR: '1', ...env },
    cwd: process.cwd(),
  };
  const code = await runCli(args, io, signal);
  return { code, stdout, stderr };
}

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.close();
});

const run = (...extra: string[]) => [
  'release-step',
  'run',
  'sidekiq-quiet',
  '--redis-url',
  REDIS_URL,
  '--namespace',
  fx.namespace,
  '--poll',
  '100ms',
  ...extra,
];

describe('runway release-step run sidekiq-quiet', () => {
  it('quiets the live processes: exit 0, --json counts', async () => {
    const procs = await Promise.all([fx.start(), fx.start(), fx.start({ embedded: true })]);
    await fx.addDead();
    const r = await cli(run('--timeout', '5s', '--json'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.step, 'sidekiq-quiet');
    assert.equal(out.status, 'succeeded');
    assert.deepEqual([out.found, out.quieted, out.timedOut, out.skipped], [2, 2, 0, 2]);
    assert.equal(out.exitCode, 0);
    assert.equal(out.error, null);
    assert.equal(out.processes.length, 2);
    assert.equal(r.stderr, '', 'nothing on stderr with --json');
    assert.deepEqual(
      procs.map((p) => p.quiet),
      [true, true, false],
    );
  });

  it('prints progress on stderr and the summary on stdout without --json', async () => {
    await fx.start();
    const r = await cli(run('--timeout', '5s'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^quieted 1 of 1 Sidekiq process in .* at redis:\/\/127\.0\.0\.1:6379 \(namespace "runway-test-sq-/,
    );
    assert.match(r.stderr, /sidekiq-quiet: .*1 live Sidekiq process/);
    assert.match(r.stderr, /sidekiq-quiet: sent TSTP to 1 process/);
  });

  it('exit 1 when a process never acknowledges, naming it', async () => {
    const deaf = await fx.start({ ignoreTstp: true });
    const r = await cli(run('--timeout', '1s', '--json'));
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.found, out.quieted, out.timedOut], [1, 0, 1]);
    assert.deepEqual(out.timedOutIdentities, [deaf.identity]);
    assert.equal(out.errorKind, 'timeout');
    assert.ok(out.error.includes(deaf.identity));
    const human = await cli(run('--timeout', '500ms'));
    assert.equal(human.code, 1);
    assert.ok(human.stdout.includes(deaf.identity), human.stdout);
    assert.match(human.stderr, /runway: 1 of 1 Sidekiq process did not report quiet within 500ms/);
  });

  it('--wait-idle waits for busy = 0; a busy one at --idle-timeout exits 1', async () => {
    const p = await fx.start({ busy: 1 });
    const r = await cli(run('--wait-idle', '--idle-timeout', '600ms', '--json'));
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.quieted, out.stillBusy], [1, 1]);
    assert.deepEqual(out.stillBusyIdentities, [p.identity]);
    p.setBusy(0);
    const again = await cli(run('--wait-idle', '--json'));
    assert.equal(again.code, 0, again.stdout);
    assert.equal(JSON.parse(again.stdout).idle, 1);
  });

  it('exit 70 when Redis is unreachable; exit 0 and skipped with --on-unavailable skip', async () => {
    const url = `redis://127.0.0.1:${await deadPort()}`;
    const r = await cli(['release-step', 'run', 'sidekiq-quiet', '--redis-url', url, '--json']);
    assert.equal(r.code, 70);
    const out = JSON.parse(r.stdout);
    assert.equal(out.errorKind, 'unreachable');
    assert.match(out.error, /is unreachable: connection refused/);
    const human = await cli(['release-step', 'run', 'sidekiq-quiet', '--redis-url', url]);
    assert.equal(human.code, 70);
    assert.match(human.stdout + human.stderr, /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable: connection refused/);
    const skip = await cli([
      'release-step',
      'run',
      'sidekiq-quiet',
      '--redis-url',
      url,
      '--on-unavailable',
      'skip',
      '--json',
    ]);
    assert.equal(skip.code, 0);
    const skipped = JSON.parse(skip.stdout);
    assert.equal(skipped.status, 'skipped');
    assert.match(skipped.unavailable, /connection refused/);
  });

  it('exit 2 for a wrong password, without printing it', async () => {
    const user = await aclUser(fx, 'the-right-one', ['~*', '&*', '+@all']);
    const r = await cli([
      'release-step',
      'run',
      'sidekiq-quiet',
      '--redis-url',
      `redis://${user}:not-it@127.0.0.1:6379`,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stdout + r.stderr, /refused the credentials \(WRONGPASS/);
    assert.ok(!(r.stdout + r.stderr).includes('not-it'));
  });

  it('exit 2 for bad input: unknown step, bad durations, timeout above 60 s, no URL', async () => {
    const unknown = await cli(['release-step', 'run', 'sidekiq-quite', '--json']);
    assert.equal(unknown.code, 2);
    assert.match(
      JSON.parse(unknown.stdout).error,
      /unknown release step "sidekiq-quite"; built in: release-command, sidekiq-quiet/,
    );
    const badDuration = await cli(run('--timeout', 'soon'));
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /--timeout: invalid duration "soon"/);
    const tooLong = await cli(run('--timeout', '90s'));
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /--timeout: must be at most 60s/);
    const choice = await cli(run('--on-unavailable', 'maybe'));
    assert.equal(choice.code, 2);
    const noUrl = await cli(['release-step', 'run', 'sidekiq-quiet']);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stdout + noUrl.stderr, /no Redis URL: set REDIS_URL/);
    const badUrl = await cli(['release-step', 'run', 'sidekiq-quiet', '--redis-url', 'localhost:6379']);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--redis-url: .*the scheme must be redis:\/\/ or rediss:\/\//);
  });

  it('takes the URL from $REDIS_URL', async () => {
    await fx.start();
    const r = await cli(
      ['release-step', 'run', 'sidekiq-quiet', '--namespace', fx.namespace, '--poll', '100ms', '--json'],
      { REDIS_URL },
    );
    assert.equal(r.code, 0, r.stdout);
    assert.equal(JSON.parse(r.stdout).quieted, 1);
  });

  it('exit 3 when interrupted', async () => {
    const p = await fx.start({ ignoreTstp: true });
    const controller = new AbortController();
    // Interrupt once the process has read TSTP: the step is then waiting for it to go quiet.
    void until(() => p.received.includes('TSTP'), 'the process read TSTP').then(() => controller.abort('SIGINT'));
    const r = await cli(run('--timeout', '20s'), {}, controller.signal);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /interrupted; processes already sent TSTP still go quiet/);
  });

  it('documents the exit codes in --help', async () => {
    const r = await cli(['release-step', 'run', '--help']);
    assert.equal(r.code, 0);
    for (const text of [
      '--redis-url',
      '--timeout',
      '--wait-idle',
      '--json',
      '--on-unavailable',
      'Exit codes:',
      '  0 ',
      '  1 ',
      '  2 ',
      '  70 ',
    ]) {
      assert.ok(r.stdout.includes(text), `--help mentions ${text}`);
    }
  });
});
