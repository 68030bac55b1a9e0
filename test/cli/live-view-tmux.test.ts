// The deploy's live block in a real terminal: tmux (Debian) at 80 and 120 columns, and resized from
// 120 to 80 mid-deploy. The block must redraw in place: at any moment the screen holds one copy of it,
// and when the deploy ends nothing of it is left behind (a line wider than the terminal would wrap,
// the erase would miss a row, and copies would pile up in the scrollback).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from './helpers.js';
import { until } from '../support/wait.js';

const socket = `runway-test-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'runway-live-'));
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

before(() => {
  if (spawnSync('tmux', ['-V']).error)
    throw new Error(
      'these tests need tmux (Debian: apt-get install -y tmux; scripts/test-services.sh, run by npm test, does this)',
    );
  writeFileSync(
    join(dir, 'runway.toml'),
    `[app]
name = "mechanic"
[app.processes]
web = { count = 90, command = "bin/web" }
worker = { count = 30, command = "bin/worker" }
[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"
[environments.production]
provider = "sim"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "waves" }
[sim]
clock = "scaled"
speed = 15
initial_release = "v1"
`,
  );
});
after(() => {
  tmux('kill-server');
  rmSync(dir, { recursive: true, force: true });
});

/** The first line of the live block: phase, elapsed time, then the wave or "planning". */
const BLOCK = /^(release|deploy|converge|rollback|settle|verify) \S+ sim {2}(waves? |planning)/;

function screen(session: string, history = false): string[] {
  const r = tmux('capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', session);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n');
}

async function deployIn(
  session: string,
  release: string,
  columns: number,
  resizeTo?: number,
): Promise<{ seen: number; history: string[] }> {
  const tsx = import.meta.resolve('tsx');
  const cli = `'${process.execPath}' --import ${tsx} ${join(ROOT, 'src/cli/main.ts')}`;
  const created = spawnSync(
    process.execPath,
    ['--import', tsx, join(ROOT, 'src/cli/main.ts'), 'releases', 'create', release],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(created.status, 0, created.stderr);
  const started = tmux(
    'new-session',
    '-d',
    '-x',
    String(columns),
    '-y',
    '40',
    '-s',
    session,
    `cd ${dir} && ${cli} deploy --env production --release ${release}; echo EXIT=$?; sleep 600`,
  );
  assert.equal(started.status, 0, started.stderr);
  let seen = 0;
  let resized = resizeTo === undefined;
  await until(
    () => {
      const rows = screen(session);
      const copies = rows.filter((r) => BLOCK.test(r)).length;
      assert.ok(copies <= 1, `one live block at a time, saw ${copies}:\n${rows.join('\n')}`);
      for (const r of rows)
        assert.ok(r.length <= (resized ? (resizeTo ?? columns) : columns), `a row wider than the terminal: ${r}`);
      if (copies === 1 && / {2}waves? /.test(rows.find((r) => BLOCK.test(r))!)) {
        seen++;
        if (!resized && seen >= 2) {
          assert.equal(tmux('resize-window', '-t', session, '-x', String(resizeTo), '-y', '40').status, 0);
          resized = true;
        }
      }
      return rows.some((r) => r.startsWith('EXIT='));
    },
    'the deploy ended',
    600_000,
  );
  return { seen, history: screen(session, true) };
}

describe('the live deploy view in tmux', () => {
  for (const [columns, resizeTo] of [[80], [120], [120, 80]] as [number, number?][]) {
    it(`${columns} columns${resizeTo ? `, resized to ${resizeTo} mid-deploy` : ''}: redrawn in place, nothing left behind`, async () => {
      const session = `c${columns}${resizeTo ?? ''}`;
      const { seen, history } = await deployIn(session, `v-${session}`, columns, resizeTo);
      const text = history.join('\n');
      assert.match(text, /EXIT=0/, text);
      assert.ok(seen >= 1, 'the live block was on screen during the deploy');
      // A waves deploy runs its windowed waves as one flow: never "wave 1/11" for it.
      assert.doesNotMatch(text, /wave 1\/\d+ waves/);
      assert.deepEqual(
        history.filter((r) => BLOCK.test(r)),
        [],
        `the block was erased at the end; scrollback:\n${text}`,
      );
      assert.match(text, /times are simulated/);
    });
  }
});
