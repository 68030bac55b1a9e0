// `runway demo` as `npm run demo` runs it, without a terminal (CI): it finishes by itself, exits 0,
// and leaves no process and no open port; Ctrl-C in the middle stops everything it started too.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { killTagged, leftovers, portClosed, ROOT } from '../providers/local-fixtures.js';
import { until } from '../support/wait.js';

const TAG = randomUUID();

after(async () => {
  const left = await leftovers(TAG);
  killTagged(TAG);
  assert.deepEqual(left, [], 'the demo leaves no process behind');
});

function demo(args: string[] = []) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'demo', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', RUNWAY_TEST_TAG: TAG },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const proxyPortIn = (out: string) => Number(/served at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);

it(
  'runs to the end without a terminal: v2 deployed under traffic, v3 and v4 rolled back, nothing left running',
  { timeout: 600_000 },
  async () => {
    const run = demo();
    const code = await run.exited;
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /demo finished as expected/);
    assert.match(out, /traffic during the v2 deploy: \d+ requests, 0 failed/);
    assert.match(out, /rolled_back .* v3 \(rolling\)/);
    // v4 passes /up; its real requests fail, and analysis (not a health check) rolls it back.
    assert.match(out, /rolled_back .* v4 \(rolling\)/);
    assert.match(out, /analysis errors ✗ error_rate of v4 is [\d.]+, above max 0\.05 \(v2: 0\)/);
    assert.match(out, /rolling back to v2: analysis "errors" failed/);
    const v4 = /v4 answered (\d+) of them, (\d+) with a 500/.exec(out);
    assert.ok(
      v4 && Number(v4[2]) > 0 && Number(v4[2]) < Number(v4[1]),
      `the demo says how many requests v4 answered and failed: ${v4?.[0]}`,
    );
    assert.match(out, /\d+ processes were running, 0 left/);
    assert.ok(await portClosed(proxyPortIn(out)));
    assert.deepEqual(await leftovers(TAG, 3000), []);
  },
);

it('Ctrl-C in the middle stops every process it started and frees the proxy port', { timeout: 600_000 }, async () => {
  const run = demo();
  await until(() => /traffic: \d+ requests\/s/.test(run.output()), 'the demo sends traffic', 300_000);
  assert.match(run.output(), /traffic: \d+ requests\/s/, 'the fleet is up');
  run.child.kill('SIGINT');
  const code = await run.exited;
  const out = run.output();
  assert.equal(code, 3, out);
  assert.match(out, /stop everything/);
  assert.match(out, /0 left/);
  assert.ok(await portClosed(proxyPortIn(out)));
  assert.deepEqual(await leftovers(TAG, 3000), []);
});
