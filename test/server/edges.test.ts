// The server's edges (issue 13): revoked tokens end their event streams and dashboard sessions,
// webhooks of other repositories are ignored, deployer tokens need environments, and refusals of
// automation tokens on secrets are in the ledger.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RealClock } from '../../src/domain/clock.js';
import { revokeApiToken } from '../../src/server/auth.js';
import { push } from '../triggers/github-fixtures.js';
import { CONTROL_CONFIG, startHarness, type Harness } from './harness.js';

/** Follow an event stream: every `event:` name in order, until the stream ends. */
function follow(url: string, headers: Record<string, string>) {
  const seen: string[] = [];
  let wake = () => {};
  const opened = fetch(url, { headers });
  const done = (async () => {
    const res = await opened;
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      // Complete messages only; the rest waits for the next chunk.
      const messages = text.split('\n\n');
      text = messages.pop()!;
      for (const message of messages) {
        const name = /^event: (\S+)$/m.exec(message)?.[1];
        if (name) seen.push(name);
      }
      wake();
    }
    return seen;
  })();
  const until = async (name: string) => {
    while (!seen.includes(name)) {
      await Promise.race([new Promise<void>((r) => (wake = r)), done]);
      if (!seen.includes(name) && (await Promise.race([done.then(() => true), Promise.resolve(false)])))
        throw new Error(`stream ended without ${name}: ${seen.join(', ')}`);
    }
  };
  return { seen, until, done };
}

describe('revoking a token', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const tokenId = (token: string) => `tok_${token.split('_')[1]}`;

  it('through this server: its open event stream ends with `revoked`, then closes', async () => {
    const viewer = await h.token('vera', 'viewer');
    const stream = follow(`${h.url}/api/overview/events`, { authorization: `Bearer ${viewer}` });
    await stream.until('overview');
    assert.equal(h.server.streams.size, 1);
    const r = await h.call('DELETE', `/api/tokens/${tokenId(viewer)}`, { token: h.admin });
    assert.equal(r.status, 200);
    // The stream's own end (not a client timeout): the last event is `revoked`, then it closes.
    const seen = await stream.done;
    assert.equal(seen.at(-1), 'revoked');
    assert.equal(h.server.streams.size, 0);
    assert.equal((await h.call('GET', '/api/whoami', { token: viewer })).status, 401);
  });

  it("elsewhere (another instance, `runway token revoke`): the stream ends at the server's next sweep", async () => {
    const viewer = await h.token('val', 'viewer');
    const stream = follow(`${h.url}/api/overview/events`, { authorization: `Bearer ${viewer}` });
    await stream.until('overview');
    // Straight in the store: this server is not told, it finds out by its bounded sweep (500 ms).
    assert.equal(await revokeApiToken(h.store, new RealClock(), tokenId(viewer), 'root', 'shop'), true);
    const seen = await stream.done;
    assert.equal(seen.at(-1), 'revoked');
  });

  it('ends its dashboard sessions at once: the cookie opens nothing, its streams end', async () => {
    const viewer = await h.token('vic', 'viewer');
    const login = await fetch(`${h.url}/dashboard/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
      body: new URLSearchParams({ token: viewer }).toString(),
    });
    const session = /^runway_session=(rws_[^;]+);/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(session, 'signed in');
    // The whole secret (rwt_<id>_<secret>; base64url may hold '_' itself, so not split('_')[2], which
    // could be a fragment of a character or two that a random cookie holds by chance).
    const secret = viewer.slice(viewer.indexOf('_', 'rwt_'.length) + 1);
    assert.equal(secret.length, 43);
    assert.ok(!session.includes(secret), 'the cookie is not the token');
    const cookie = { cookie: `runway_session=${session}` };
    assert.equal((await fetch(`${h.url}/api/whoami`, { headers: cookie })).status, 200);
    const stream = follow(`${h.url}/api/overview/events`, cookie);
    await stream.until('overview');
    assert.equal((await h.call('DELETE', `/api/tokens/${tokenId(viewer)}`, { token: h.admin })).status, 200);
    assert.equal((await stream.done).at(-1), 'revoked');
    assert.equal((await fetch(`${h.url}/api/whoami`, { headers: cookie })).status, 401);
    assert.equal((await fetch(`${h.url}/dashboard`, { headers: cookie, redirect: 'manual' })).status, 303);
    const stored = await h.store.getSession((await import('../../src/server/browser-session.js')).sessionHash(session));
    assert.ok(stored?.endedAtMs, 'the session ended on the server');
  });
});

describe('tokens and secrets refusals', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a deployer token with an empty environment list is refused at creation (it is not "every environment")', async () => {
    const r = await h.call('POST', '/api/tokens', {
      token: h.admin,
      body: { name: 'nobody', role: 'deployer', envs: [] },
    });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /empty environment list/);
    assert.equal((await h.store.listTokens()).filter((t) => t.name === 'nobody').length, 0);
  });

  it('an automation token changing secrets is refused (403) and the refusal is in the ledger', async () => {
    const ci = await h.token('ci', 'deployer', { envs: ['staging'], automation: true });
    const r = await h.call('PUT', '/api/environments/staging/secrets/API_KEY', { token: ci, body: { value: 'x' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'policy');
    const [refusal] = (await h.store.listLedger({ env: 'staging' })).filter((e) => e.kind === 'policy.refused');
    assert.deepEqual(
      [refusal?.responsible, refusal?.initiator, (refusal?.data as { action: string }).action],
      ['ci', 'token:ci', 'change-secrets'],
    );
    assert.equal((await h.store.listSecrets('shop', 'staging')).length, 0);
  });
});

describe('webhooks: the repository is checked', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: CONTROL_CONFIG + '\n[github]\nrepository = "octo-org/shop"\n' });
  });
  after(() => h.close());

  it("another repository's push to main is answered 202, ignored and logged; this repository's deploys", async () => {
    const other = push('main', 'c0ffee0000000000000000000000000000000001', {
      repository: { id: 99, name: 'other', full_name: 'octo-org/other' },
    });
    const r = await h.hook('push', other, { delivery: 'other-repo' });
    assert.equal(r.status, 202);
    assert.equal(r.json.ignored, true);
    assert.match(r.json.why, /repository octo-org\/other, not octo-org\/shop/);
    assert.ok(
      h.logs.some((l) =>
        l.startsWith('github delivery other-repo (push) ignored: the event is about repository octo-org/other'),
      ),
    );
    assert.equal(await h.store.getDelivery('other-repo'), undefined);
    assert.equal((await h.store.listDeploys({ app: 'shop' })).length, 0);
    const ours = await h.hook('push', push('main'), { delivery: 'our-repo' });
    assert.equal(ours.status, 202);
    assert.equal(ours.json.accepted, true);
    const d = await h.waitDelivery('our-repo');
    assert.equal(d.result.outcomes[0].outcome, 'started');
  });
});
