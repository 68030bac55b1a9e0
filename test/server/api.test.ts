// The control plane's JSON API over real HTTP: tokens and roles (401 without a token, 403 for a
// viewer's actions), deploys through the policy (refusals say why, emergencies are flagged), abort,
// promote, rollback, tokens, ledger, and the error statuses.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ serve: { maxBodyBytes: 4096 } });
  for (const v of ['v2', 'v3'])
    assert.equal(
      (await h.call('POST', '/api/releases', { token: h.admin, body: { version: v, notes: `release ${v}` } })).status,
      201,
    );
});
after(() => h.close());

async function ledgerKinds(env?: string): Promise<string[]> {
  const r = await h.call('GET', `/api/ledger${env ? `?env=${env}` : ''}`, { token: h.admin });
  return (r.json as { kind: string }[]).map((e) => e.kind);
}

describe('authentication and roles', () => {
  it('401 JSON without a token, with a malformed, unknown or revoked one', async () => {
    for (const path of ['/api/environments', '/api/deploys', '/api/ledger', '/api/tokens', '/api/nope']) {
      const r = await h.call('GET', path);
      assert.equal(r.status, 401, path);
      assert.match(r.json.error, /authentication required/);
    }
    assert.equal((await h.call('GET', '/api/deploys', { token: 'not-a-token' })).status, 401);
    const unknown = `rwt_${'0'.repeat(12)}_${'A'.repeat(43)}`;
    assert.match((await h.call('GET', '/api/deploys', { token: unknown })).json.error, /invalid or revoked token/);
    // A real id with the wrong secret.
    const real = await h.token('eve', 'viewer');
    const forged = real.slice(0, -4) + (real.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await h.call('GET', '/api/deploys', { token: forged })).status, 401);
    assert.equal((await h.call('POST', '/api/deploys', { body: { env: 'qa' } })).status, 401);
  });

  it('a viewer reads everything and may act on nothing (403, saying what would do)', async () => {
    const viewer = await h.token('vera', 'viewer');
    for (const path of [
      '/api/environments',
      '/api/environments/production',
      '/api/releases',
      '/api/deploys',
      '/api/ledger',
      '/api/ledger/verify',
      '/api/environments/production/secrets',
      '/api/deliveries',
      '/api/whoami',
    ]) {
      assert.equal((await h.call('GET', path, { token: viewer })).status, 200, path);
    }
    const deploy = await h.call('POST', '/api/deploys', { token: viewer, body: { env: 'production', release: 'v2' } });
    assert.equal(deploy.status, 403);
    assert.equal(deploy.json.code, 'role');
    assert.match(
      deploy.json.error,
      /vera's token \(viewer\) may not act on production; a deployer token for production or an admin token may/,
    );
    for (const [method, path] of [
      ['POST', '/api/releases'],
      ['POST', '/api/environments/production/rollback'],
      ['PUT', '/api/environments/production/secrets/A'],
      ['POST', '/api/environments/production/secrets/apply'],
      ['GET', '/api/tokens'],
      ['POST', '/api/tokens'],
    ] as const) {
      const r = await h.call(method, path, {
        token: viewer,
        ...(method === 'GET' ? {} : { body: { version: 'v9', value: 'x', name: 'x', role: 'admin' } }),
      });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(typeof r.json.error, 'string');
    }
    assert.equal((await h.store.listDeploys({ env: 'production' })).length, 0);
    assert.equal(await h.store.getRelease('shop', 'v9'), undefined);
  });

  it('a deployer acts only on its environments', async () => {
    const dora = await h.token('dora', 'deployer', { envs: ['qa'] });
    const r = await h.call('POST', '/api/deploys', { token: dora, body: { env: 'production', release: 'v2' } });
    assert.equal(r.status, 403);
    assert.match(r.json.error, /dora's token \(deployer of qa\) may not act on production/);
    const who = await h.call('GET', '/api/whoami', { token: dora });
    assert.deepEqual(
      { ...who.json, tokenId: undefined },
      { name: 'dora', role: 'deployer', envs: ['qa'], automation: false, tokenId: undefined },
    );
  });
});

describe('deploys through the policy', () => {
  it('a named human deploys production: responsible, in the journal and the ledger, to the end', async () => {
    const pat = await h.token('pat', 'deployer', { envs: ['production'] });
    const r = await h.call('POST', '/api/deploys', {
      token: pat,
      body: { env: 'production', release: 'v2', reason: 'weekly release' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.deploy.responsible, 'pat');
    assert.equal(r.json.deploy.initiator, 'token:pat');
    assert.equal(r.json.deploy.trigger, 'manual');
    assert.equal(r.json.deploy.plan, undefined);
    assert.equal(r.json.policy.emergency, false);
    const done = await h.waitDeploy(r.json.deploy.id);
    assert.equal(done.status, 'succeeded');
    const show = await h.call('GET', `/api/deploys/${done.id}?journal=1`, { token: pat });
    assert.equal(show.json.journal[0].kind, 'policy');
    assert.match(show.json.journal[0].message, /production is deployed by named humans; pat is responsible/);
    const entries = (await h.call('GET', '/api/ledger?env=production', { token: pat })).json as {
      kind: string;
      deployId: string;
      responsible: string;
      data: { status?: string };
    }[];
    const mine = entries.filter((e) => e.deployId === done.id);
    assert.deepEqual(
      mine.map((e) => [e.kind, e.responsible]),
      [
        ['deploy.started', 'pat'],
        ['deploy.finished', 'pat'],
      ],
    );
    assert.equal(mine[1]!.data.status, 'succeeded');
    const env = await h.call('GET', '/api/environments/production', { token: pat });
    assert.equal(env.json.currentRelease, 'v2');
    assert.deepEqual(env.json.policy, { trigger: 'release', initiation: 'manual', allowCli: false });
  });

  it('a human in the automatic environment is refused (403 policy: why and what would be allowed), recorded, nothing deployed', async () => {
    const r = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'staging', release: 'v2' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'policy');
    assert.match(r.json.why, /staging deploys automatically \(on a push to main\)/);
    assert.ok(r.json.wouldBeAllowed.some((w: string) => /a push to main/.test(w)));
    assert.ok(r.json.wouldBeAllowed.some((w: string) => /"emergency": true with a "reason"/.test(w)));
    assert.match(r.json.error, /^refused by policy \(staging\)/);
    assert.equal((await h.store.listDeploys({ env: 'staging' })).length, 0);
    const [refusal] = (await h.call('GET', '/api/ledger?env=staging', { token: h.admin })).json.filter(
      (e: { kind: string }) => e.kind === 'policy.refused',
    );
    assert.equal(refusal.responsible, 'root');
    assert.equal(refusal.initiator, 'token:root');
    assert.match(refusal.data.why, /deploys automatically/);
  });

  it('break glass: emergency with a reason deploys staging, the human responsible, flagged on the deploy and in the ledger', async () => {
    const noReason = await h.call('POST', '/api/deploys', {
      token: h.admin,
      body: { env: 'staging', release: 'v2', emergency: true },
    });
    assert.equal(noReason.status, 403);
    assert.match(noReason.json.why, /needs a reason/);
    const r = await h.call('POST', '/api/deploys', {
      token: h.admin,
      body: { env: 'staging', release: 'v2', emergency: true, reason: 'main is broken, hotfix' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.deploy.emergency, true);
    assert.equal(r.json.deploy.responsible, 'root');
    assert.match(r.json.policy.note, /^EMERGENCY: root broke glass on staging/);
    await h.waitDeploy(r.json.deploy.id);
    const entries = (await h.call('GET', '/api/ledger?env=staging', { token: h.admin })).json as {
      kind: string;
      emergency: boolean;
      reason: string;
    }[];
    const kinds = entries.map((e) => e.kind);
    assert.deepEqual(kinds.slice(-3), ['emergency.used', 'deploy.started', 'deploy.finished']);
    for (const e of entries.slice(-3)) {
      assert.equal(e.emergency, true, e.kind);
      assert.equal(e.reason, 'main is broken, hotfix');
    }
    assert.ok(h.logs.some((l) => /EMERGENCY: root broke glass on staging/.test(l)));
  });

  it('an automation token is automation: refused in a manual environment unless it names the person it acts for', async () => {
    const ci = await h.token('github-actions', 'deployer', { automation: true });
    const refused = await h.call('POST', '/api/deploys', { token: ci, body: { env: 'production', release: 'v3' } });
    assert.equal(refused.status, 403);
    assert.match(
      refused.json.why,
      /production needs a named human responsible for each deploy; automation \(github-actions\) cannot start one/,
    );
    const r = await h.call('POST', '/api/deploys', {
      token: ci,
      body: { env: 'production', release: 'v3' },
      headers: { 'x-runway-on-behalf-of': 'grace' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.deploy.responsible, 'grace');
    assert.equal(r.json.deploy.initiator, 'token:github-actions for grace');
    await h.waitDeploy(r.json.deploy.id);
    const person = await h.call('POST', '/api/deploys', {
      token: h.admin,
      body: { env: 'production' },
      headers: { 'x-runway-on-behalf-of': 'grace' },
    });
    assert.equal(person.status, 403);
    assert.match(person.json.error, /for automation tokens; root's token acts as root/);
  });

  it('rollback: the previous good release with the rollback strategy, through the policy', async () => {
    const r = await h.call('POST', '/api/environments/production/rollback', {
      token: h.admin,
      body: { reason: 'v3 is slow' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.deploy.release, 'v2');
    assert.equal(r.json.deploy.trigger, 'rollback');
    assert.equal(r.json.deploy.strategy, 'immediate');
    assert.equal((await h.waitDeploy(r.json.deploy.id)).status, 'succeeded');
    assert.ok((await ledgerKinds('production')).includes('rollback.started'));
    const staging = await h.call('POST', '/api/environments/staging/rollback', { token: h.admin, body: {} });
    assert.equal(staging.status, 403);
    assert.equal(staging.json.code, 'policy');
  });

  it('promote and abort a bluegreen deploy paused before cutover; both in the ledger', async () => {
    const first = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'qa', release: 'v2' } });
    assert.equal(first.status, 201, first.text);
    const promoted = await h.call('POST', `/api/deploys/${first.json.deploy.id}/promote`, {
      token: h.admin,
      body: { reason: 'greens look good' },
    });
    assert.equal(promoted.status, 200, promoted.text);
    assert.equal((await h.waitDeploy(first.json.deploy.id)).status, 'succeeded');

    const second = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'qa', release: 'v3' } });
    assert.equal(second.status, 201);
    const aborted = await h.call('POST', `/api/deploys/${second.json.deploy.id}/abort`, {
      token: h.admin,
      body: { reason: 'wrong release' },
    });
    assert.equal(aborted.status, 200, aborted.text);
    assert.equal(aborted.json.abortRequestedBy, 'root');
    assert.equal((await h.waitDeploy(second.json.deploy.id)).status, 'aborted');
    const again = await h.call('POST', `/api/deploys/${second.json.deploy.id}/abort`, { token: h.admin });
    assert.equal(again.status, 409);
    assert.match(again.json.error, /already ended \(aborted\)/);
    const kinds = await ledgerKinds('qa');
    for (const k of ['deploy.promoted', 'deploy.abort_requested', 'deploy.aborted'])
      assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`);
  });
});

describe('errors are JSON with a status', () => {
  it('400 bad JSON, missing or wrong fields; 404 unknown env, release, deploy, route; 413 too large; 422 unplannable; 409 locked', async () => {
    const t = h.admin;
    const badJson = await h.call('POST', '/api/deploys', { token: t, body: '{"env": ' });
    assert.deepEqual([badJson.status, badJson.json], [400, { error: 'request body is not valid JSON' }]);
    assert.equal((await h.call('POST', '/api/deploys', { token: t, body: '[1]' })).status, 400);
    assert.match((await h.call('POST', '/api/deploys', { token: t, body: {} })).json.error, /"env" is required/);
    assert.match(
      (await h.call('POST', '/api/deploys', { token: t, body: { env: 'qa', strategy: 'yolo' } })).json.error,
      /unknown strategy "yolo"/,
    );
    assert.equal(
      (await h.call('POST', '/api/deploys', { token: t, body: { env: 'qa', emergency: 'yes' } })).status,
      400,
    );
    assert.equal((await h.call('GET', '/api/deploys?limit=-1', { token: t })).status, 400);
    assert.equal((await h.call('GET', '/api/deploys?status=done', { token: t })).status, 400);

    const unknownEnv = await h.call('POST', '/api/deploys', { token: t, body: { env: 'moon' } });
    assert.equal(unknownEnv.status, 404);
    assert.match(unknownEnv.json.error, /unknown environment "moon" \(known: production, staging, qa\)/);
    assert.equal((await h.call('GET', '/api/environments/moon', { token: t })).status, 404);
    const unknownRelease = await h.call('POST', '/api/deploys', {
      token: t,
      body: { env: 'production', release: 'v404' },
    });
    assert.equal(unknownRelease.status, 404);
    assert.match(unknownRelease.json.error, /^release v404 does not exist for shop \(known: /);
    assert.equal((await h.call('GET', '/api/deploys/dep_nope', { token: t })).status, 404);
    assert.equal((await h.call('POST', '/api/deploys/dep_nope/abort', { token: t })).status, 404);
    assert.equal((await h.call('GET', '/api/releases/v404', { token: t })).status, 404);
    const route = await h.call('GET', '/api/nope', { token: t });
    assert.deepEqual([route.status, route.json.error], [404, 'no route GET /api/nope']);
    assert.equal((await h.call('GET', '/nope')).status, 404);

    const big = await h.call('POST', '/api/deploys', { token: t, body: { env: 'qa', reason: 'x'.repeat(5000) } });
    assert.equal(big.status, 413);
    assert.match(big.json.error, /limit is 4096/);

    const plan = await h.call('POST', '/api/deploys', {
      token: t,
      body: { env: 'qa', release: 'v2', strategy: 'waves' },
    });
    assert.equal(plan.status, 422);
    assert.match(plan.json.error, /max_surge = 0 together with max_unavailable = 0/);

    await h.store.acquireLock(
      { app: 'shop', env: 'production', holder: 'someone-else', reason: 'maintenance', pid: null, host: 'elsewhere' },
      Date.now(),
      60_000,
    );
    try {
      const storedBefore = (await h.store.listDeploys({ app: 'shop', env: 'production' })).length;
      const locked = await h.call('POST', '/api/deploys', { token: t, body: { env: 'production', release: 'v3' } });
      assert.equal(locked.status, 409);
      assert.match(locked.json.error, /locked by someone-else \(maintenance\)/);
      // Locked out: no deploy stored (deploy health counts deploys that ran), only the ledger entry.
      assert.equal((await h.store.listDeploys({ app: 'shop', env: 'production' })).length, storedBefore);
      const last = (await h.store.listLedger()).at(-1)!;
      assert.deepEqual(
        [last.kind, last.env, (last.data as { holder: string }).holder],
        ['deploy.locked_out', 'production', 'someone-else'],
      );
    } finally {
      await h.store.releaseLock('shop', 'production', 'someone-else');
    }

    const dup = await h.call('POST', '/api/releases', { token: t, body: { version: 'v2' } });
    assert.equal(dup.status, 409);
    assert.equal((await h.call('POST', '/api/releases', { token: t, body: { version: 'bad version' } })).status, 400);
  });
});

describe('the ledger records lock takeovers', () => {
  it('a deploy that takes over a stale environment lock says so', async () => {
    await h.store.acquireLock(
      { app: 'shop', env: 'production', holder: 'dep_dead', reason: 'deploy v1', pid: null, host: 'gone-host' },
      Date.now() - 120_000,
      30_000,
    );
    const r = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'production', release: 'v3' } });
    assert.equal(r.status, 201, r.text);
    await h.waitDeploy(r.json.deploy.id);
    const entries = (await h.call('GET', '/api/ledger?env=production', { token: h.admin })).json as {
      kind: string;
      deployId: string;
      data: { previousHolder?: string };
    }[];
    const takeover = entries.find((e) => e.kind === 'lock.taken_over' && e.deployId === r.json.deploy.id);
    assert.equal(takeover?.data.previousHolder, 'dep_dead');
  });
});

describe('tokens over the API (admin)', () => {
  it('create shows the token once; list never shows a token or hash; revoke turns it into 401', async () => {
    const created = await h.call('POST', '/api/tokens', {
      token: h.admin,
      body: { name: 'sam', role: 'deployer', envs: ['qa'] },
    });
    assert.equal(created.status, 201, created.text);
    const token = created.json.token as string;
    assert.match(token, /^rwt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.json.tokenHash, undefined);
    assert.equal((await h.call('GET', '/api/whoami', { token })).json.name, 'sam');
    const list = await h.call('GET', '/api/tokens', { token: h.admin });
    assert.equal(list.text.includes(token), false);
    assert.equal(list.text.includes('tokenHash'), false);
    assert.ok((list.json as { name: string }[]).some((t) => t.name === 'sam'));
    const stored = await h.store.getToken(created.json.id);
    assert.match(stored!.tokenHash, /^[0-9a-f]{64}$/);
    assert.equal(JSON.stringify(stored).includes(token), false);
    assert.equal((await h.call('GET', '/api/tokens', { token })).status, 403);
    assert.equal(
      (await h.call('POST', '/api/tokens', { token: h.admin, body: { name: 'x', role: 'root' } })).status,
      400,
    );
    assert.equal(
      (await h.call('POST', '/api/tokens', { token: h.admin, body: { name: 'x', role: 'viewer', envs: ['qa'] } }))
        .status,
      400,
    );
    assert.equal(
      (await h.call('POST', '/api/tokens', { token: h.admin, body: { name: 'x', role: 'deployer', envs: ['moon'] } }))
        .status,
      400,
    );
    const revoked = await h.call('DELETE', `/api/tokens/${created.json.id}`, { token: h.admin });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.json.revokedAtMs > 0);
    assert.equal((await h.call('GET', '/api/whoami', { token })).status, 401);
    assert.equal((await h.call('DELETE', `/api/tokens/${created.json.id}`, { token: h.admin })).status, 409);
    assert.equal((await h.call('DELETE', '/api/tokens/tok_nope', { token: h.admin })).status, 404);
    const kinds = await ledgerKinds();
    assert.ok(kinds.includes('token.created') && kinds.includes('token.revoked'));
  });

  it('the whole ledger written by this run verifies', async () => {
    const v = await h.call('GET', '/api/ledger/verify', { token: h.admin });
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    assert.ok(v.json.entries > 10);
  });
});
