// Control characters in free text: refused where text comes in (CLI and API), escaped wherever text
// goes out to a terminal (entries stored before the check, or from events runway does not refuse).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RealClock } from '../../src/domain/clock.js';
import { checkFreeText, escapeTerminal } from '../../src/domain/free-text.js';
import { appendLedger } from '../../src/ledger/ledger.js';
import { openStore } from '../../src/store/open-store.js';
import { project, smallConfig, type Project } from '../cli/helpers.js';
import { startHarness, type Harness } from '../server/harness.js';

const ESC = '\u001b';

describe('free text', () => {
  it('pure: control characters are found, named and escaped; newlines only where text has lines', () => {
    assert.throws(() => checkFreeText('reason', `ok${ESC}[2J`), /reason contains a control character \(U\+001B\)/);
    assert.throws(() => checkFreeText('reason', 'two\nlines'), /U\+000A/);
    assert.doesNotThrow(() => checkFreeText('notes', 'two\nlines\tand a tab', { multiline: true }));
    assert.throws(() => checkFreeText('notes', 'right-to-left \u202e override', { multiline: true }), /U\+202E/);
    assert.equal(escapeTerminal(`a${ESC}[31mred\rb`), 'a\\x1b[31mred\\x0db');
    assert.equal(escapeTerminal('line\nnext', { multiline: true }), 'line\nnext');
  });
});

describe('free text at the edges', () => {
  let p: Project;
  before(async () => {
    p = project(smallConfig());
    await p.run(['releases', 'create', 'v2']);
  });
  after(() => p.cleanup());

  it('the CLI refuses a reason or an image with control characters (exit 2) and stores nothing', async () => {
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--reason', `fix${ESC}[2Jhidden`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /reason contains a control character \(U\+001B\)/);
    assert.equal(JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout).length, 0);
    const rel = await p.run(['releases', 'create', 'v3', '--image', `shop:v3${ESC}]0;pwned\u0007`]);
    assert.equal(rel.code, 2);
    assert.match(rel.stderr, /--image contains a control character/);
    assert.equal(
      JSON.parse((await p.run(['releases', 'list', '--json'])).stdout).some(
        (x: { version: string }) => x.version === 'v3',
      ),
      false,
    );
  });

  it('the terminal shows stored control characters escaped (audit, deploys show)', async () => {
    const store = await openStore(join(p.dir, '.runway/runway.db'), p.dir);
    try {
      await appendLedger(store, new RealClock(), {
        kind: 'secrets.changed',
        app: 'shop',
        env: 'staging',
        responsible: 'old',
        initiator: 'cli:old',
        trigger: 'cli',
        reason: `before the check${ESC}[2J`,
      });
    } finally {
      await store.close();
    }
    const audit = await p.run(['audit']);
    assert.equal(audit.code, 0);
    assert.ok(!audit.stdout.includes(ESC), 'no raw escape reaches the terminal');
    assert.match(audit.stdout, /before the check\\x1b\[2J/);
  });
});

describe('free text over the API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('reasons, images and notes with control characters are refused with 400; nothing is stored', async () => {
    const deploy = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'qa', reason: `x${ESC}[1A` } });
    assert.equal(deploy.status, 400);
    assert.match(deploy.json.error, /reason contains a control character \(U\+001B\)/);
    const release = await h.call('POST', '/api/releases', {
      token: h.admin,
      body: { version: 'v7', notes: `fine\nbut \u202e reversed` },
    });
    assert.equal(release.status, 400);
    assert.match(release.json.error, /"notes" contains a control character \(U\+202E\)/);
    const ok = await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v8', notes: 'two\nlines' } });
    assert.equal(ok.status, 201);
    assert.equal((await h.store.listDeploys({ app: 'shop' })).length, 0);
    assert.equal(await h.store.getRelease('shop', 'v7'), undefined);
  });
});
