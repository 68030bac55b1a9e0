// GitHub Deployments for runway's deploys, against a test GitHub over real HTTP whose every
// request is validated against GitHub's OpenAPI description (@octokit/openapi).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OutboxPump } from '../../src/outbox/pump.js';
import { GitHubApiServer } from './github-api-server.js';
import { freePort, ghProject, PUBLIC_URL, type GhProject } from './helpers.js';

const TOKEN = 'ghp_runwaytesttoken';
const NOTES = `## What's Changed

* Faster checkout @ada (#41)
* Fix the invoice rounding @grace (#42)
`;

function github(url: string, extra = ''): string {
  return `[github]\nrepository = "acme/mechanic"\napi_url = "${url}"\n${extra}`;
}

async function deploy(
  p: GhProject,
  args: string[],
  env: Record<string, string> = { RUNWAY_GITHUB_TOKEN: TOKEN },
): Promise<{ deployId: string; status: string; code: number; stderr: string }> {
  const r = await p.run([...args, '--json'], env);
  const summary = JSON.parse(r.stdout) as { deployId: string; status: string };
  return { deployId: summary.deployId, status: summary.status, code: r.code, stderr: r.stderr };
}

describe('GitHub Deployments', () => {
  let gh: GitHubApiServer;
  before(async () => {
    gh = new GitHubApiServer({ tokens: [TOKEN] });
    await gh.listen();
  });
  after(() => gh.close());

  it('a release deployed to production makes a GitHub deployment with queued, in_progress and success statuses, all valid per the OpenAPI description', async () => {
    const p = ghProject(github(gh.url));
    try {
      assert.equal((await p.run(['releases', 'create', 'v2', '--notes', NOTES])).code, 0);
      const before = gh.requests.length;
      const d = await deploy(p, ['deploy', '--env', 'production', '--release', 'v2']);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.status, 'succeeded');
      const mine = gh.requests.slice(before);
      assert.deepEqual(gh.invalid, [], 'every request matches the description');
      assert.deepEqual(gh.responseProblems, [], 'the test server answers as documented');
      assert.deepEqual(
        mine.map((r) =>
          `${r.method} ${r.path.replace(/\d+/g, 'N')} ${(r.body as { state?: string }).state ?? ''}`.trim(),
        ),
        [
          'POST /repos/acme/mechanic/deployments',
          'POST /repos/acme/mechanic/deployments/N/statuses queued',
          'POST /repos/acme/mechanic/deployments/N/statuses in_progress',
          'POST /repos/acme/mechanic/deployments/N/statuses success',
        ],
      );
      const created = gh.deployments.at(-1)!;
      assert.equal(created.ref, 'v2');
      assert.equal(created.environment, 'production');
      assert.equal(created.production_environment, true, 'the environment a release deploys to is production');
      assert.equal(created.transient_environment, false);
      assert.deepEqual((created.payload as { runway: { deployId: string } }).runway.deployId, d.deployId);
      assert.deepEqual(gh.states(created.id), ['queued', 'in_progress', 'success']);
      for (const s of created.statuses) {
        assert.equal(s.log_url, `${PUBLIC_URL}/dashboard/deploys/${d.deployId}`);
        assert.equal(s.environment_url, 'https://mechanic.example.com');
        assert.ok(s.description.length > 0 && s.description.length <= 140);
      }
      assert.equal(mine[0]!.auth, `token ${TOKEN}`);
      assert.equal((mine[0]!.body as { auto_merge: boolean }).auto_merge, false);
      assert.deepEqual((mine[0]!.body as { required_contexts: string[] }).required_contexts, []);
      const { store } = await p.open();
      try {
        const rows = await store.listOutbox({ deployId: d.deployId });
        assert.ok(rows.length >= 6 && rows.every((r) => r.state === 'delivered'), 'nothing left undelivered');
      } finally {
        await store.close();
      }
    } finally {
      p.cleanup();
    }
  });

  it('a rollback posts to the earlier release’s deployment again (active) and marks the replaced one inactive', async () => {
    const p = ghProject(github(gh.url));
    try {
      for (const v of ['v2', 'v3']) assert.equal((await p.run(['releases', 'create', v])).code, 0);
      const first = await deploy(p, ['deploy', '--env', 'production', '--release', 'v2']);
      const second = await deploy(p, ['deploy', '--env', 'production', '--release', 'v3']);
      assert.deepEqual([first.status, second.status], ['succeeded', 'succeeded']);
      const v2 = gh.deployments.find(
        (x) => (x.payload as { runway: { deployId: string } }).runway.deployId === first.deployId,
      )!;
      const v3 = gh.deployments.find(
        (x) => (x.payload as { runway: { deployId: string } }).runway.deployId === second.deployId,
      )!;
      assert.deepEqual(gh.states(v2.id), ['queued', 'in_progress', 'success', 'inactive'], 'v3 replaced v2');
      const countBefore = gh.deployments.length;
      const back = await deploy(p, ['rollback', '--env', 'production', '--to', 'v2']);
      assert.equal(back.status, 'succeeded', back.stderr);
      assert.equal(gh.deployments.length, countBefore, 'no new deployment: the rollback re-activates v2’s');
      assert.deepEqual(gh.states(v2.id), [
        'queued',
        'in_progress',
        'success',
        'inactive',
        'queued',
        'in_progress',
        'success',
      ]);
      assert.deepEqual(gh.states(v3.id), ['queued', 'in_progress', 'success', 'inactive']);
      assert.equal(
        v2.statuses.at(-1)!.log_url,
        `${PUBLIC_URL}/dashboard/deploys/${back.deployId}`,
        'the status links to the rollback deploy',
      );
      assert.deepEqual(gh.invalid, []);
      const { store } = await p.open();
      try {
        assert.equal((await store.getGitHubDeployment('mechanic', 'production', 'v2'))!.active, true);
        assert.equal((await store.getGitHubDeployment('mechanic', 'production', 'v3'))!.active, false);
      } finally {
        await store.close();
      }
    } finally {
      p.cleanup();
    }
  });

  it('GitHub down for the whole deploy changes nothing about it; the statuses are delivered, in order, once it answers', async () => {
    const port = await freePort();
    const p = ghProject(github(`http://127.0.0.1:${port}`));
    const late = new GitHubApiServer({ tokens: [TOKEN] });
    try {
      assert.equal((await p.run(['releases', 'create', 'v2'])).code, 0);
      const d = await deploy(p, ['deploy', '--env', 'production', '--release', 'v2']);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.status, 'succeeded', 'the deploy succeeds while GitHub is unreachable');
      const { config, store } = await p.open();
      try {
        const waiting = await store.listOutbox({ channel: 'github', state: ['pending'] });
        assert.deepEqual(
          waiting.map((r) => r.kind),
          ['queued', 'in_progress', 'success'],
          'queued in order, none lost',
        );
        assert.ok(waiting[0]!.attempts >= 1, 'delivery was tried');
        assert.match(waiting[0]!.lastError ?? '', /ECONNREFUSED|fetch failed|connect/i);
        assert.ok(waiting[0]!.nextAttemptAtMs > Date.now() - 1000, 'and backs off before the next try');
        assert.deepEqual(
          waiting.slice(1).map((r) => r.attempts),
          [0, 0],
          'later statuses wait behind the first (order)',
        );
        const deployRecord = await store.getDeploy(d.deployId);
        assert.equal(deployRecord!.status, 'succeeded');

        const listed = await p.run(['outbox', '--json'], { RUNWAY_GITHUB_TOKEN: TOKEN, RUNWAY_OUTBOX_FLUSH_MS: '0' });
        assert.equal(listed.code, 0, 'retrying, none given up');
        const items = (JSON.parse(listed.stdout) as { items: { channel: string; kind: string; state: string }[] })
          .items;
        assert.deepEqual(
          items.map((i) => `${i.channel} ${i.kind} ${i.state}`),
          ['github queued pending', 'github in_progress pending', 'github success pending'],
        );

        // GitHub answers again; the server's pump (here: one with the clock past the backoff) delivers.
        await late.listen(port);
        const pump = new OutboxPump({
          store,
          config,
          processEnv: { RUNWAY_GITHUB_TOKEN: TOKEN },
          now: () => Date.now() + 3600_000,
        });
        const result = await pump.flush(30_000);
        assert.equal(result.failedAttempts, 0);
        assert.equal(late.deployments.length, 1);
        assert.deepEqual(late.states(late.deployments[0]!.id), ['queued', 'in_progress', 'success']);
        assert.deepEqual(late.invalid, []);
        assert.deepEqual(await store.listOutbox({ state: ['pending', 'failed'] }), []);
      } finally {
        await store.close();
      }
    } finally {
      await late.close();
      p.cleanup();
    }
  });

  it('authenticates as a GitHub App installation when no token is set (JWT → installation token)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const appGh = new GitHubApiServer({
      app: {
        appId: '4242',
        installationId: 77,
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    });
    await appGh.listen();
    const p = ghProject(github(appGh.url, 'app_id = 4242\ninstallation_id = 77\nprivate_key_file = "app.pem"'));
    try {
      writeFileSync(join(p.dir, 'app.pem'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
      assert.equal((await p.run(['releases', 'create', 'v2'])).code, 0);
      const d = await deploy(p, ['deploy', '--env', 'production', '--release', 'v2'], {});
      assert.equal(d.status, 'succeeded');
      assert.deepEqual(
        appGh.invalid.map((r) => r.problems),
        [],
      );
      assert.equal(appGh.issuedTokens.length, 1, 'one installation token, reused');
      const repoCalls = appGh.requests.filter((r) => r.path.startsWith('/repos/'));
      assert.equal(repoCalls.length, 4);
      assert.ok(repoCalls.every((r) => r.auth === `token ${appGh.issuedTokens[0]}`));
      assert.deepEqual(appGh.states(appGh.deployments[0]!.id), ['queued', 'in_progress', 'success']);
      assert.deepEqual(appGh.invalid, []);
    } finally {
      await appGh.close();
      p.cleanup();
    }
  });
});
