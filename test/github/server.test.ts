// `runway server` runs the outbox pump: a deploy started through the API gets its GitHub statuses
// without any CLI; the dashboard's deploy page shows the release's notes and pull requests, and the
// dashboard shows deliveries GitHub did not take.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../server/harness.js';
import { GitHubApiServer } from './github-api-server.js';

const TOKEN = 'ghp_servertoken';
const NOTES = `## Changes

* Faster checkout @ada (#41)
* Fix invoice rounding @grace (#42)
- Bump the <script> dependency (#43)
`;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('runway server and GitHub', () => {
  const gh = new GitHubApiServer({ owner: 'acme', repo: 'shop', tokens: [TOKEN] });
  let h: Harness;
  let cookie = '';
  before(async () => {
    await gh.listen();
    h = await startHarness({
      config: `
[app]
name = "shop"
[app.processes]
web = { count = 3 }
[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
url = "https://shop.example.com"
vars = { DEPLOY_STRATEGY = "rolling" }
[sim]
clock = "virtual"
initial_release = "v1"
[github]
repository = "acme/shop"
api_url = "${gh.url}"
[server]
public_url = "https://runway.example.com"
`,
      env: { RUNWAY_GITHUB_TOKEN: TOKEN },
      serve: { outboxIntervalMs: 25 },
    });
    const login = await fetch(`${h.url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
      body: new URLSearchParams({ token: h.admin, next: '/dashboard' }).toString(),
      redirect: 'manual',
    });
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(cookie, /=/);
  });
  after(async () => {
    await h.close();
    await gh.close();
  });

  const page = async (path: string) => {
    const r = await fetch(h.url + path, { headers: { cookie } });
    assert.equal(r.status, 200, path);
    return r.text();
  };

  it('delivers the statuses of an API deploy from the server process, and the deploy page shows the notes and pull requests', async () => {
    assert.equal(
      (await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v2', notes: NOTES } })).status,
      201,
    );
    const pat = await h.token('pat', 'deployer', { envs: ['production'] });
    const r = await h.call('POST', '/api/deploys', { token: pat, body: { env: 'production', release: 'v2' } });
    assert.equal(r.status, 201, r.text);
    const id = r.json.deploy.id as string;
    assert.equal((await h.waitDeploy(id)).status, 'succeeded');
    const deployment = await until('three statuses', () =>
      gh.deployments[0]?.statuses.length === 3 ? gh.deployments[0] : undefined,
    );
    assert.deepEqual(gh.states(deployment.id), ['queued', 'in_progress', 'success']);
    assert.equal(deployment.statuses[2]!.log_url, `https://runway.example.com/dashboard/deploys/${id}`);
    assert.equal(deployment.statuses[2]!.environment_url, 'https://shop.example.com');
    assert.deepEqual(gh.invalid, []);

    const html = await page(`/dashboard/deploys/${id}`);
    assert.match(html, /id="pull-requests"/);
    assert.ok(html.includes(`href="${gh.url}/acme/shop/pull/41"`), 'links the pull request on the repository');
    assert.match(html, /#41<\/a> Faster checkout <span class="muted">@ada<\/span>/);
    assert.match(html, /#43<\/a> Bump the &lt;script&gt; dependency/, 'notes are text, never markup');
    assert.match(html, /id="deliveries"[^]*3 of 3 delivered/);
  });

  it('while GitHub fails, the deploy still succeeds and the dashboard lists what is not delivered', async () => {
    gh.down = true;
    try {
      assert.equal((await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v3' } })).status, 201);
      const pat = await h.token('pat2', 'deployer', { envs: ['production'] });
      const r = await h.call('POST', '/api/deploys', { token: pat, body: { env: 'production', release: 'v3' } });
      const id = r.json.deploy.id as string;
      assert.equal((await h.waitDeploy(id)).status, 'succeeded');
      await until(
        'a failed attempt',
        async () =>
          ((await h.store.listOutbox({ deployId: id, channel: 'github' }))[0]?.attempts ?? 0) > 0 || undefined,
      );
      const api = await h.call('GET', `/api/outbox?deploy=${id}`, { token: h.admin });
      assert.equal(api.status, 200);
      assert.deepEqual(
        api.json.map((i: { channel: string; kind: string; state: string }) => `${i.channel} ${i.kind} ${i.state}`)[0],
        'github queued pending',
      );
      assert.ok(api.json[0].attempts >= 1 && /503/.test(api.json[0].lastError));
      assert.equal((await h.call('GET', '/api/outbox?state=lost', { token: h.admin })).status, 400);
      const overview = await page('/dashboard');
      assert.match(overview, /id="undelivered"/);
      assert.ok(overview.includes(`href="/dashboard/deploys/${id}"`));
      assert.match(overview, /HTTP 503|Service Unavailable/);
      const deployPage = await page(`/dashboard/deploys/${id}`);
      assert.match(deployPage, /id="deliveries"[^]*not delivered[^]*retrying/);
      assert.match(deployPage, /release v3 has no notes/);
    } finally {
      gh.down = false;
    }
  });
});
