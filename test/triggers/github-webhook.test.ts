// Signature verification (GitHub's documented test vector) and the mapping from events to deploy
// requests, on payloads in GitHub's documented shapes.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import {
  mapGithubEvent,
  resolveWebhookSecret,
  signatureFor,
  verifySignature,
  WebhookSecretError,
  type EventMapping,
} from '../../src/triggers/github-webhook.js';
import { botSender, ping, push, releaseId, releasePublished, user, workflowDispatch } from './github-fixtures.js';

const config = parseConfig(
  `
[app]
name = "shop"
[environments.production]
provider = "sim"
trigger = "release"
[environments.staging]
provider = "sim"
trigger = "push:main"
[environments.review]
provider = "sim"
trigger = "push:review/next"
[environments.qa]
provider = "sim"
trigger = "manual"
`,
  '/tmp/runway.toml',
);

function requests(m: EventMapping) {
  assert.equal(m.kind, 'requests', JSON.stringify(m));
  return m.kind === 'requests' ? m.requests : [];
}

describe('X-Hub-Signature-256', () => {
  it("matches GitHub's documented test vector", () => {
    assert.equal(
      signatureFor("It's a Secret to Everybody", 'Hello, World!'),
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
    assert.equal(
      verifySignature(
        "It's a Secret to Everybody",
        Buffer.from('Hello, World!'),
        'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      ),
      true,
    );
  });

  it('refuses a wrong secret, an altered body, a truncated, missing or differently-cased signature', () => {
    const body = Buffer.from('Hello, World!');
    const good = signatureFor("It's a Secret to Everybody", body);
    assert.equal(verifySignature('another secret', body, good), false);
    assert.equal(verifySignature("It's a Secret to Everybody", Buffer.from('Hello, World?'), good), false);
    assert.equal(verifySignature("It's a Secret to Everybody", body, good.slice(0, -1)), false);
    assert.equal(verifySignature("It's a Secret to Everybody", body, undefined), false);
    assert.equal(verifySignature("It's a Secret to Everybody", body, ''), false);
    assert.equal(verifySignature("It's a Secret to Everybody", body, good.replace('sha256=', 'sha1=')), false);
    assert.equal(verifySignature("It's a Secret to Everybody", body, good.toUpperCase()), false);
  });

  it('the secret comes from RUNWAY_GITHUB_WEBHOOK_SECRET, else the configured file; a named file must exist and not be empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-secret-'));
    try {
      const file = join(dir, 'hook');
      writeFileSync(file, 's3cret\n', { mode: 0o644 });
      assert.throws(
        () => resolveWebhookSecret({ github: { webhookSecretFile: file } }, {}),
        (e: unknown) =>
          e instanceof WebhookSecretError && /readable by others \(mode 0644\).*chmod 600/.test(e.message),
      );
      chmodSync(file, 0o600);
      assert.equal(resolveWebhookSecret({ github: { webhookSecretFile: file } }, {}), 's3cret');
      assert.equal(
        resolveWebhookSecret({ github: { webhookSecretFile: file } }, { RUNWAY_GITHUB_WEBHOOK_SECRET: 'env wins' }),
        'env wins',
      );
      assert.equal(resolveWebhookSecret({}, {}), undefined);
      assert.throws(
        () => resolveWebhookSecret({ github: { webhookSecretFile: join(dir, 'nope') } }, {}),
        (e: unknown) => e instanceof WebhookSecretError && /not found/.test(e.message),
      );
      writeFileSync(file, '');
      assert.throws(() => resolveWebhookSecret({ github: { webhookSecretFile: file } }, {}), /is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('[github] webhook_secret_file in runway.toml resolves against the config directory', () => {
    const c = parseConfig(
      '[app]\nname = "x"\n[github]\nwebhook_secret_file = "secrets/hook"\n[secrets]\nkey_file = "k"\n',
      '/srv/app/runway.toml',
    );
    assert.equal(c.github?.webhookSecretFile, '/srv/app/secrets/hook');
    assert.equal(c.secrets?.keyFile, '/srv/app/k');
  });
});

describe('GitHub events -> deploy requests', () => {
  it('release published: the tag to every release environment, the publishing human initiates (not the draft author)', () => {
    const m = mapGithubEvent('release', releasePublished('v1.2.0'), config);
    const [r] = requests(m);
    assert.equal(requests(m).length, 1);
    assert.equal(r!.env, 'production');
    assert.equal(r!.release, 'v1.2.0');
    assert.equal(r!.trigger, 'release');
    assert.deepEqual(r!.initiator, { kind: 'human', name: 'grace' });
    assert.equal(r!.newRelease?.version, 'v1.2.0');
    assert.equal(r!.newRelease?.image, 'shop:v1.2.0');
    assert.equal(r!.newRelease?.createdAtMs, Date.parse('2026-11-02T10:05:00Z'));
    assert.match(r!.newRelease?.notes ?? '', /Add search/);
    assert.equal(r!.context.author, 'github-actions[bot]');
    assert.equal(m.kind === 'requests' && m.eventKey, `release:186853002:${releaseId('v1.2.0')}:published`);
  });

  it('release published by a bot: automation initiates (policy then refuses manual environments)', () => {
    const [r] = requests(mapGithubEvent('release', releasePublished('v1.2.0', botSender), config));
    assert.deepEqual(r!.initiator, { kind: 'automation', name: 'release-drafter[bot]' });
  });

  it('other release actions, drafts, prereleases and odd tags are ignored, saying why', () => {
    assert.deepEqual(mapGithubEvent('release', { ...releasePublished(), action: 'created' }, config), {
      kind: 'ignored',
      why: 'release action "created" is not "published"',
    });
    assert.match(
      (mapGithubEvent('release', releasePublished('v2', undefined, { prerelease: true }), config) as { why: string })
        .why,
      /prerelease/,
    );
    assert.match(
      (mapGithubEvent('release', releasePublished('v2', undefined, { draft: true }), config) as { why: string }).why,
      /draft/,
    );
    assert.match(
      (mapGithubEvent('release', releasePublished('release 2/3'), config) as { why: string }).why,
      /not a runway version/,
    );
  });

  it('push to main: staging, as automation, the pusher kept as context; the commit becomes a release', () => {
    const m = mapGithubEvent('push', push('main'), config);
    const [r] = requests(m);
    assert.equal(requests(m).length, 1);
    assert.equal(r!.env, 'staging');
    assert.equal(r!.trigger, 'push');
    assert.equal(r!.branch, 'main');
    assert.deepEqual(r!.initiator, { kind: 'automation', name: 'github' });
    assert.equal(r!.release, 'sha-6113728f27ae');
    assert.equal(r!.newRelease?.image, 'shop:6113728f27ae82c7b1a177c8d03f9e96e0adf246');
    assert.equal(r!.newRelease?.notes, 'Fix the cart total');
    assert.equal(r!.context.pusher, 'ada');
    assert.equal(r!.context.commit, '6113728f27ae82c7b1a177c8d03f9e96e0adf246');
    assert.equal(
      m.kind === 'requests' && m.eventKey,
      'push:186853002:refs/heads/main:6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    );
  });

  it('push to a branch with slashes maps to its environment; other branches, tags and deletions are ignored', () => {
    assert.equal(requests(mapGithubEvent('push', push('review/next'), config))[0]!.env, 'review');
    assert.match(
      (mapGithubEvent('push', push('feature/x'), config) as { why: string }).why,
      /no environment has trigger = "push:feature\/x"/,
    );
    assert.match(
      (mapGithubEvent('push', { ...push(), ref: 'refs/tags/v1' }, config) as { why: string }).why,
      /not a branch/,
    );
    assert.match(
      (
        mapGithubEvent('push', push('main', '0000000000000000000000000000000000000000', { deleted: true }), config) as {
          why: string;
        }
      ).why,
      /deleted/,
    );
  });

  it('workflow_dispatch "Manual deploy": environment and ref as inputs, the sender initiates; emergency inputs carried', () => {
    const [r] = requests(
      mapGithubEvent(
        'workflow_dispatch',
        workflowDispatch('.github/workflows/runway-manual-deploy.yml', {
          environment: 'qa',
          ref: 'v1.1.0',
          reason: '',
          emergency: 'false',
        }),
        config,
      ),
    );
    assert.equal(r!.env, 'qa');
    assert.equal(r!.release, 'v1.1.0');
    assert.equal(r!.action, 'deploy');
    assert.equal(r!.trigger, 'manual');
    assert.deepEqual(r!.initiator, { kind: 'human', name: 'grace' });
    assert.equal(r!.emergency, false);
    assert.equal(r!.reason, null);
    const [e] = requests(
      mapGithubEvent(
        'workflow_dispatch',
        workflowDispatch('.github/workflows/runway-manual-deploy.yml', {
          environment: 'staging',
          reason: 'main broken',
          emergency: true,
        }),
        config,
      ),
    );
    assert.equal(e!.emergency, true);
    assert.equal(e!.reason, 'main broken');
    assert.equal(e!.release, null);
  });

  it('workflow_dispatch "Manual secrets": applies the staged secrets, sender responsible; apply = false stays staged', () => {
    const [r] = requests(
      mapGithubEvent(
        'workflow_dispatch',
        workflowDispatch(
          '.github/workflows/runway-manual-secrets.yml',
          { environment: 'production', names: 'A,B', apply: 'true' },
          user('bob', 7),
        ),
        config,
      ),
    );
    assert.equal(r!.action, 'apply-secrets');
    assert.equal(r!.trigger, 'secrets');
    assert.deepEqual(r!.initiator, { kind: 'human', name: 'bob' });
    assert.match(
      (
        mapGithubEvent(
          'workflow_dispatch',
          workflowDispatch('.github/workflows/runway-manual-secrets.yml', { environment: 'production', apply: false }),
          config,
        ) as { why: string }
      ).why,
      /stays staged/,
    );
    assert.match(
      (
        mapGithubEvent('workflow_dispatch', workflowDispatch('.github/workflows/other.yml', {}), config) as {
          why: string;
        }
      ).why,
      /without an "environment" input/,
    );
  });

  it('ping is answered; other events are ignored', () => {
    assert.deepEqual(mapGithubEvent('ping', ping(), config), { kind: 'ping', zen: 'Design for failure.' });
    assert.deepEqual(mapGithubEvent('issues', { action: 'opened' }, config), {
      kind: 'ignored',
      why: 'event "issues" is not one runway acts on',
    });
  });
});
