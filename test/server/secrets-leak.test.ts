// No secret value in any output: a run that sets secrets every way there is (CLI inline, from the
// environment, from a file; API single and batch), fails on purpose with values in the request,
// applies them with a deploy, and reads everything back (CLI text and --json, audit, deploys, the
// API) — then searches every captured stdout/stderr, server log line, response body, ledger and
// journal entry, and the raw store files, for each value.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { loadSecretKey } from '../../src/secrets/key.js';
import { secretsForEnvironment } from '../../src/secrets/secrets.js';
import { SECRET_KEY, startHarness, type Harness } from './harness.js';

const tag = () => randomBytes(6).toString('hex');
const VALUES = {
  inline: `leakcheck-inline-${tag()}`,
  fromEnv: `leakcheck-env-${tag()}`,
  fromFile: `leakcheck-file-${tag()}`,
  api: `leakcheck-api-${tag()}`,
  batch: `leakcheck-batch-${tag()}`,
  refused: `leakcheck-refused-${tag()}`,
  production: `leakcheck-prod-${tag()}`,
};

let h: Harness;
const outputs: string[] = [];

async function cli(args: string[], env: NodeJS.ProcessEnv = { RUNWAY_SECRET_KEY: SECRET_KEY }) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (t) => void (stdout += t), isTTY: false },
    stderr: { write: (t) => void (stderr += t), isTTY: false },
    env: { RUNWAY_USER: 'tester', NO_COLOR: '1', ...env },
    cwd: h.dir,
  };
  const code = await runCli(['--config', join(h.dir, 'runway.toml'), ...args], io);
  outputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

before(async () => {
  h = await startHarness();
});
after(() => h.close());

describe('secret values never appear in any output', () => {
  it('set, fail, apply and read back every way; then search everything', async () => {
    // CLI: inline, from the environment, from a file.
    writeFileSync(join(h.dir, 'tls.pem'), VALUES.fromFile);
    let r = await cli(
      [
        'secrets',
        'set',
        '--env',
        'qa',
        `INLINE_SECRET=${VALUES.inline}`,
        'ENV_SECRET',
        '--file',
        'FILE_SECRET=tls.pem',
        '--reason',
        'initial',
      ],
      {
        RUNWAY_SECRET_KEY: SECRET_KEY,
        ENV_SECRET: VALUES.fromEnv,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /staged INLINE_SECRET, ENV_SECRET, FILE_SECRET for qa \(secrets version 1\)/);
    r = await cli(['secrets', 'set', '--env', 'qa', `INLINE_SECRET=${VALUES.inline}`, '--json']);
    assert.deepEqual(JSON.parse(r.stdout).changed, []);
    r = await cli(['secrets', 'list', '--env', 'qa']);
    assert.match(r.stdout, /INLINE_SECRET\s+v1\s+hmac-sha256:[0-9a-f]{16}/);
    await cli(['secrets', 'list', '--env', 'qa', '--json']);

    // API: single and batch; a viewer lists.
    let a = await h.call('PUT', '/api/environments/qa/secrets/API_SECRET', {
      token: h.admin,
      body: { value: VALUES.api },
    });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.changed, ['API_SECRET']);
    a = await h.call('POST', '/api/environments/qa/secrets', {
      token: h.admin,
      body: { set: { BATCH_SECRET: VALUES.batch }, unset: ['INLINE_SECRET'], reason: 'rotate' },
    });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.changed.sort(), ['BATCH_SECRET', 'INLINE_SECRET']);
    const viewer = await h.token('vic', 'viewer');
    const listed = await h.call('GET', '/api/environments/qa/secrets', { token: viewer });
    assert.deepEqual(
      (listed.json.secrets as { name: string }[]).map((s) => s.name),
      ['API_SECRET', 'BATCH_SECRET', 'ENV_SECRET', 'FILE_SECRET'],
    );
    assert.equal(listed.json.stagedVersion, 3);

    // Refusals with a value in the request.
    assert.equal(
      (await h.call('PUT', '/api/environments/qa/secrets/1BAD', { token: h.admin, body: { value: VALUES.refused } }))
        .status,
      400,
    );
    assert.equal(
      (
        await h.call('PUT', '/api/environments/qa/secrets/OK', {
          token: h.admin,
          body: `{"value": "${VALUES.refused}"`,
        })
      ).status,
      400,
    );
    assert.equal(
      (await h.call('PUT', '/api/environments/qa/secrets/OK', { token: viewer, body: { value: VALUES.refused } }))
        .status,
      403,
    );
    assert.equal(
      (
        await h.call('POST', '/api/environments/qa/secrets', {
          token: h.admin,
          body: { set: { OK: VALUES.refused }, unset: ['OK'] },
        })
      ).status,
      400,
    );
    const ci = await h.token('ci', 'deployer', { automation: true });
    assert.equal(
      (await h.call('PUT', '/api/environments/qa/secrets/OK', { token: ci, body: { value: VALUES.refused } })).status,
      403,
    );
    r = await cli(['secrets', 'set', '--env', 'qa', `1BAD=${VALUES.refused}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad secret name "1BAD"/);
    r = await cli(['secrets', 'set', '--env', 'qa', `OK=${VALUES.refused}`], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no secret key: set RUNWAY_SECRET_KEY/);
    r = await cli(['secrets', 'set', '--env', 'qa', `OK=${VALUES.refused}`], { RUNWAY_SECRET_KEY: 'too-short' });
    assert.equal(r.code, 2);

    // Production: deploy, stage a secret, apply it with a deploy (the deploy carries the version).
    await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v2' } });
    const first = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'production', release: 'v2' } });
    await h.waitDeploy(first.json.deploy.id);
    a = await h.call('PUT', '/api/environments/production/secrets/DATABASE_URL', {
      token: h.admin,
      body: { value: VALUES.production, reason: 'new db' },
    });
    assert.equal(a.json.stagedVersion, 1);
    assert.equal(a.json.appliedVersion, null);
    const apply = await h.call('POST', '/api/environments/production/secrets/apply', {
      token: h.admin,
      body: { reason: 'use the new db' },
    });
    assert.equal(apply.status, 201, apply.text);
    assert.equal(apply.json.release, 'v2');
    const reapplied = await h.waitDeploy(apply.json.deployId);
    assert.equal(reapplied.status, 'succeeded');
    assert.equal(reapplied.secretsVersion, 1);
    assert.equal(reapplied.trigger, 'secrets');
    // v2 already runs everywhere: no machine was replaced, so nothing was applied — and it says so.
    assert.match(apply.json.warning, /v2 already runs on every machine of production, so this deploy replaces none/);
    let prodList = await h.call('GET', '/api/environments/production/secrets', { token: viewer });
    assert.deepEqual(
      [prodList.json.stagedVersion, prodList.json.appliedVersion, prodList.json.pending],
      [1, null, true],
    );
    // A deploy that replaces every machine applies it.
    await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v3' } });
    const next = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'production', release: 'v3' } });
    const applied = await h.waitDeploy(next.json.deploy.id);
    assert.equal(applied.secretsVersion, 1);
    prodList = await h.call('GET', '/api/environments/production/secrets', { token: viewer });
    assert.deepEqual(
      [prodList.json.stagedVersion, prodList.json.appliedVersion, prodList.json.appliedDeployId, prodList.json.pending],
      [1, 1, applied.id, false],
    );
    const ends = (await h.store.listLedger({ env: 'production' }))
      .filter((e) => e.kind === 'deploy.finished')
      .map((e) => (e.data as { secrets?: unknown }).secrets);
    assert.deepEqual(ends.slice(-2), [
      { version: 1, applied: false },
      { version: 1, applied: true },
    ]);
    // Applying in the automatic environment is refused: staged secrets wait for its next automatic deploy.
    const autoApply = await h.call('POST', '/api/environments/staging/secrets/apply', { token: h.admin, body: {} });
    assert.equal(autoApply.status, 403);
    assert.match(autoApply.json.wouldBeAllowed[0], /carrying the staged secrets/);

    // Read everything back.
    for (const args of [
      ['audit'],
      ['audit', '--json'],
      ['audit', '--verify'],
      ['audit', '--env', 'qa', '--json', '--verify'],
      ['deploys', 'list', '--json'],
      ['deploys', 'show', applied.id, '--json', '--journal'],
      ['deploys', 'show', applied.id, '--journal'],
      ['secrets', 'list', '--env', 'production', '--json'],
    ]) {
      const out = await cli(args);
      assert.equal(out.code, 0, `${args.join(' ')}: ${out.stderr}`);
    }
    for (const path of [
      '/api/ledger',
      '/api/deploys',
      `/api/deploys/${applied.id}?journal=1`,
      '/api/environments',
      '/api/environments/qa/secrets',
      '/api/environments/production/secrets',
    ]) {
      assert.equal((await h.call('GET', path, { token: viewer })).status, 200, path);
    }

    // Positive controls: the values are stored (encrypted), the names are in the outputs.
    const key = loadSecretKey({ env: { RUNWAY_SECRET_KEY: SECRET_KEY } });
    assert.deepEqual(await secretsForEnvironment(h.store, 'shop', 'qa', key), {
      API_SECRET: VALUES.api,
      BATCH_SECRET: VALUES.batch,
      ENV_SECRET: VALUES.fromEnv,
      FILE_SECRET: VALUES.fromFile,
    });
    assert.deepEqual(await secretsForEnvironment(h.store, 'shop', 'production', key), {
      DATABASE_URL: VALUES.production,
    });

    const ledger = JSON.stringify(await h.store.listLedger());
    const journals = JSON.stringify(
      await Promise.all((await h.store.listDeploys()).map((d) => h.store.listJournal(d.id))),
    );
    const storeFiles = readdirSync(join(h.dir, '.runway')).map((f) =>
      readFileSync(join(h.dir, '.runway', f)).toString('latin1'),
    );
    const sources: Record<string, string> = {
      'CLI stdout/stderr': outputs.join('\n'),
      'server log': h.logs.join('\n'),
      'API responses': h.bodies.join('\n'),
      ledger,
      journals,
      'store files': storeFiles.join('\n'),
    };
    for (const name of ['API_SECRET', 'BATCH_SECRET', 'DATABASE_URL', 'INLINE_SECRET', 'ENV_SECRET', 'FILE_SECRET']) {
      assert.ok(
        sources['CLI stdout/stderr']!.includes(name) || sources['API responses']!.includes(name),
        `${name} shows up somewhere (the search is not vacuous)`,
      );
      assert.ok(ledger.includes(name), `${name} is in the ledger`);
    }
    assert.ok(
      storeFiles.length >= 1 && storeFiles.some((f) => f.includes('hmac-sha256:')),
      'the store files were read',
    );
    for (const [source, text] of Object.entries(sources)) {
      for (const [label, value] of Object.entries(VALUES)) {
        assert.equal(text.includes(value), false, `the ${label} secret value appears in ${source}`);
      }
    }
  });
});
