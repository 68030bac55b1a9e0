// Time is honest (issue 14): a deploy on the sim provider's simulated clock records wall-clock
// instants (created, started, finished lie within the test's own wall-clock interval, though the
// deploy simulates minutes), labels its durations as simulated in every place it shows them (CLI
// summary, `deploys show`, JSON, dashboard page), and its journal's offsets have one format and are
// never negative. Through the CLI and through the control plane's API.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatOffset } from '../../src/domain/clock.js';
import type { DeploySummary } from '../../src/engine/summary.js';
import { deployBody } from '../../src/server/dashboard/deploy-page.js';
import type { Principal } from '../../src/server/auth.js';
import { project, smallConfig, type Project } from '../cli/helpers.js';
import { startHarness, type Harness } from '../server/harness.js';

/** A journal line of `deploys show`: the offset, then the kind. */
const JOURNAL_LINE = /^\s+(\S+) (\S+)/;
const OFFSET = /^\+(\d+ms|\d+\.\ds|\d+s|\d+m\d\ds|\d+h\d\dm)$/;

function assertWithin(label: string, ms: number | null | undefined, from: number, to: number): void {
  assert.equal(typeof ms, 'number', `${label} is recorded`);
  assert.ok(
    ms! >= from && ms! <= to,
    `${label} ${new Date(ms!).toISOString()} lies within the test's wall-clock interval ${new Date(from).toISOString()} – ${new Date(to).toISOString()}`,
  );
}

describe('a sim deploy from the CLI', () => {
  let p: Project;
  before(async () => {
    p = project(smallConfig());
    assert.equal((await p.run(['releases', 'create', 'v2'])).code, 0);
  });
  after(() => p.cleanup());

  it('records wall-clock instants and labels its simulated durations', async () => {
    const from = Date.now();
    const json = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--json']);
    const to = Date.now();
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as DeploySummary;
    assert.equal(summary.clock, 'simulated');
    // The rolling deploy of 8 machines simulates well over the test's wall-clock time.
    assert.ok(summary.finishedAtMs > to - from, `simulated ${summary.finishedAtMs} ms, wall ${to - from} ms`);
    assertWithin('summary.startedAtMs', summary.startedAtMs, from, to);

    const shown = await p.run(['deploys', 'show', summary.deployId, '--json', '--journal']);
    const record = JSON.parse(shown.stdout) as {
      clock: string;
      createdAtMs: number;
      startedAtMs: number;
      finishedAtMs: number;
      summary: DeploySummary;
      journal: { atMs: number }[];
    };
    assert.equal(record.clock, 'simulated');
    assertWithin('createdAtMs', record.createdAtMs, from, to);
    assertWithin('startedAtMs', record.startedAtMs, from, to);
    assertWithin('finishedAtMs', record.finishedAtMs, from, to);
    assert.ok(record.createdAtMs <= record.startedAtMs && record.startedAtMs <= record.finishedAtMs);
    assert.equal(record.summary.clock, 'simulated');
    for (const e of record.journal)
      assert.ok(e.atMs >= record.createdAtMs, `journal entry at ${e.atMs} before creation ${record.createdAtMs}`);

    const human = await p.run(['deploys', 'show', summary.deployId, '--journal']);
    assert.match(human.stdout, /total: \S+ \(simulated\)/);
    assert.match(human.stdout, /offsets from creation, in simulated time while it ran/);
    const lines = human.stdout.split('\n');
    const journal = lines.slice(lines.findIndex((l) => l.includes('journal (')) + 1).filter((l) => l.trim());
    assert.ok(journal.length > 5);
    for (const line of journal) {
      const m = JOURNAL_LINE.exec(line);
      assert.ok(m, line);
      assert.match(m[1]!, OFFSET, `one format, never negative: ${line}`);
    }
  });

  it('says so in the human summary of the deploy', async () => {
    const r = await p.run(['deploy', '--env', 'production', '--release', 'v2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /total: \S+ \(simulated\)/);
  });
});

describe('a sim deploy through the control plane', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    assert.equal((await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v2' } })).status, 201);
  });
  after(() => h.close());

  it('records wall-clock instants; the dashboard page labels the durations simulated', async () => {
    const from = Date.now();
    const r = await h.call('POST', '/api/deploys', {
      token: h.admin,
      body: { env: 'production', release: 'v2', reason: 'time' },
    });
    assert.equal(r.status, 201, r.text);
    const done = await h.waitDeploy(r.json.deploy.id);
    const to = Date.now();
    assertWithin('createdAtMs', done.createdAtMs, from, to);
    assertWithin('startedAtMs', done.startedAtMs, from, to);
    assertWithin('finishedAtMs', done.finishedAtMs, from, to);
    assert.equal((done.summary as DeploySummary).clock, 'simulated');
    assert.equal((await h.call('GET', `/api/deploys/${done.id}`, { token: h.admin })).json.clock, 'simulated');
    const journal = await h.store.listJournal(done.id);
    const viewer = {
      principal: { name: 'root', role: 'admin' } as unknown as Principal,
      csrf: 'x',
      app: 'shop',
      mayActOn: () => false,
    };
    const html = String(
      deployBody(
        { deploy: done, journal, progress: undefined, live: false, nowMs: Date.now(), simulated: true },
        viewer,
      ),
    );
    assert.match(html, /id="simulated">\(simulated\)</);
    assert.match(html, /durations in simulated time/);
    const offsets = [...html.matchAll(/<tr class="j-[^"]+"><td>\d*<\/td><td class="mono small">([^<]*)<\/td>/g)].map(
      (m) => m[1]!,
    );
    assert.ok(offsets.length > 3);
    for (const o of offsets) assert.match(o, OFFSET);
  });
});

describe('journal offsets', () => {
  it('have one format and are never negative', () => {
    assert.equal(formatOffset(1_000, 1_000), '+0ms');
    assert.equal(formatOffset(900, 1_000), '+0ms');
    assert.equal(formatOffset(1_000 + 99_000, 1_000), '+1m39s');
  });
});
