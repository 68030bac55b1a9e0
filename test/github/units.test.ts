// The pure parts of the GitHub integration: configuration (errors name file:line: key), what a
// deploy status owes GitHub and each notification target, message words, backoff, and the pull
// requests release notes name.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { GitHubStatusPayload } from '../../src/github/deployments/payload.js';
import type { NotificationPayload } from '../../src/notifications/payload.js';
import { deliveriesFor, githubState, notificationEvents } from '../../src/outbox/plan.js';
import { backoffMs } from '../../src/outbox/pump.js';
import { slackMessage, summaryLine, webhookDocument } from '../../src/notifications/format.js';
import { signature } from '../../src/notifications/send.js';
import { pullRequestsInNotes, repositoryWebUrl } from '../../src/server/dashboard/delivery-view.js';
import type { DeployRecord } from '../../src/store/contract.js';
import { configError } from '../config/helpers.js';

const APP = `[app]
name = "mechanic"
[environments.production]
provider = "sim"
trigger = "release"
url = "https://mechanic.example.com"
[environments.staging]
provider = "sim"
trigger = "push:main"
`;

function deploy(over: Partial<DeployRecord> = {}): DeployRecord {
  return {
    id: 'dep_1',
    app: 'mechanic',
    env: 'production',
    release: 'v2',
    previousRelease: 'v1',
    strategy: 'rolling',
    status: 'running',
    initiator: 'cli:grace',
    responsible: 'grace',
    trigger: 'release',
    reason: null,
    plan: null,
    summary: null,
    error: null,
    createdAtMs: 1,
    startedAtMs: 2,
    dispatchedAtMs: null,
    convergedAtMs: null,
    finishedAtMs: null,
    owner: null,
    heartbeatAtMs: null,
    abortRequestedAtMs: null,
    abortRequestedBy: null,
    ...over,
  };
}

describe('configuration', () => {
  it('reads [github], [server] and [notifications.targets.*] with their defaults', () => {
    const c = parseConfig(
      `${APP}[github]\nrepository = "acme/mechanic"\n[server]\npublic_url = "https://runway.example.com/"\n[notifications.targets.team]\ntype = "slack"\nurl_env = "SLACK_URL"\n[notifications.targets.audit]\ntype = "webhook"\nurl = "https://audit.example.com/hook"\nsecret_file = "audit.key"\nevents = ["failed", "emergency"]\nenvironments = ["production"]\n`,
      '/srv/runway.toml',
    );
    assert.deepEqual(c.github, {
      repository: 'acme/mechanic',
      deployments: true,
      productionEnvironments: ['production'],
    });
    assert.equal(c.publicUrl, 'https://runway.example.com');
    assert.equal(c.environments.production!.url, 'https://mechanic.example.com');
    assert.deepEqual(c.notifications, [
      {
        name: 'team',
        type: 'slack',
        urlEnv: 'SLACK_URL',
        events: ['started', 'succeeded', 'failed', 'rolled_back', 'aborted', 'emergency', 'stragglers'],
        environments: null,
      },
      {
        name: 'audit',
        type: 'webhook',
        url: 'https://audit.example.com/hook',
        secretFile: '/srv/audit.key',
        events: ['failed', 'emergency'],
        environments: ['production'],
      },
    ]);
  });

  it('names file:line: key for bad integration settings', () => {
    const cases: [string, string, number, RegExp][] = [
      ['[github]\nrepository = "acme"\n', 'github.repository', 11, /owner\/name/],
      [
        '[github]\nrepository = "acme/m"\napp_id = 5\n',
        'github.installation_id',
        10,
        /needs app_id, installation_id and private_key_file/,
      ],
      [
        '[github]\nrepository = "acme/m"\nproduction_environments = ["prod"]\n',
        'github.production_environments',
        12,
        /unknown environment "prod"/,
      ],
      ['[server]\npublic_url = "runway.example.com"\n', 'server.public_url', 11, /http/],
      [
        '[notifications.targets.t]\ntype = "slack"\n',
        'notifications.targets.t.url',
        10,
        /exactly one of url and url_env/,
      ],
      [
        '[notifications.targets.t]\ntype = "webhook"\nurl = "https://x.example.com"\n',
        'notifications.targets.t.secret_file',
        10,
        /signed/,
      ],
      [
        '[notifications.targets.t]\ntype = "slack"\nurl = "https://x.example.com"\nevents = ["deployed"]\n',
        'notifications.targets.t.events[0]',
        13,
        /started/,
      ],
      [
        '[notifications.targets.t]\ntype = "slack"\nurl = "https://x.example.com"\nenvironments = ["qa"]\n',
        'notifications.targets.t.environments',
        13,
        /unknown environment "qa"/,
      ],
      [
        '[notifications.targets.t]\ntype = "email"\nurl = "https://x.example.com"\n',
        'notifications.targets.t.type',
        11,
        /slack|webhook/,
      ],
    ];
    for (const [toml, key, line, message] of cases) {
      const err = configError(() => parseConfig(`${APP}${toml}`, 'runway.toml'));
      assert.equal(err.key, key, toml);
      assert.equal(err.line, line, `${key} line`);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(`runway.toml:${line}: ${key}`), err.message);
    }
  });
});

describe('what a deploy status owes GitHub and notification targets', () => {
  it('maps statuses to GitHub states', () => {
    assert.deepEqual(
      (
        [
          'pending',
          'running',
          'succeeded',
          'failed',
          'halted',
          'release_command_failed',
          'rolled_back',
          'aborted',
        ] as const
      ).map(githubState),
      ['queued', 'in_progress', 'success', 'failure', 'failure', 'failure', 'failure', 'error'],
    );
  });

  it('names the events: emergency first, a successful rollback as rolled back, stragglers after the end', () => {
    assert.deepEqual(notificationEvents('pending', deploy()), []);
    assert.deepEqual(notificationEvents('running', deploy({ emergency: true })), ['emergency', 'started']);
    assert.deepEqual(notificationEvents('succeeded', deploy()), ['succeeded']);
    assert.deepEqual(notificationEvents('succeeded', deploy({ trigger: 'rollback' })), ['rolled_back']);
    assert.deepEqual(notificationEvents('failed', deploy({ summary: { machines: { stragglers: 3 } } })), [
      'failed',
      'stragglers',
    ]);
    assert.deepEqual(notificationEvents('aborted', deploy()), ['aborted']);
    assert.deepEqual(notificationEvents('rolled_back', deploy()), ['rolled_back']);
  });

  it('fans a lifecycle row out to GitHub and the targets that want the event and environment', () => {
    const config = parseConfig(
      `${APP}[github]\nrepository = "acme/mechanic"\n[server]\npublic_url = "https://runway.example.com"\n[notifications.targets.prod]\ntype = "slack"\nurl = "https://hooks.example.com/a"\nenvironments = ["production"]\n[notifications.targets.failures]\ntype = "webhook"\nurl = "https://hooks.example.com/b"\nsecret_env = "S"\nevents = ["failed"]\n`,
      'runway.toml',
    );
    const running = deliveriesFor({ kind: 'running', createdAtMs: 5 }, deploy(), config, 9);
    assert.deepEqual(
      running.map((r) => `${r.channel} ${r.kind}`),
      ['github in_progress', 'notify:prod started'],
    );
    const gh = running[0]!.payload as GitHubStatusPayload;
    assert.equal(gh.logUrl, 'https://runway.example.com/dashboard/deploys/dep_1');
    assert.equal(gh.environmentUrl, 'https://mechanic.example.com');
    assert.equal(gh.productionEnvironment, true);
    assert.equal(gh.ref, 'v2');
    const staging = deliveriesFor(
      { kind: 'failed', createdAtMs: 5 },
      deploy({ env: 'staging', error: 'x'.repeat(300) }),
      config,
      9,
    );
    assert.deepEqual(
      staging.map((r) => `${r.channel} ${r.kind}`),
      ['github failure', 'notify:failures failed'],
    );
    const stagingGh = staging[0]!.payload as GitHubStatusPayload;
    assert.equal(stagingGh.productionEnvironment, false);
    assert.equal(stagingGh.environmentUrl, undefined, 'no url configured for staging');
    assert.ok(stagingGh.description.length <= 140, 'GitHub limits descriptions to 140 characters');
    const noGitHub = parseConfig(`${APP}[github]\nrepository = "acme/mechanic"\ndeployments = false\n`, 'runway.toml');
    assert.deepEqual(deliveriesFor({ kind: 'running', createdAtMs: 5 }, deploy(), noGitHub, 9), []);
  });
});

describe('messages', () => {
  const n: NotificationPayload = {
    event: 'started',
    deployId: 'dep_1',
    app: 'mechanic',
    env: 'production',
    release: 'v2',
    previousRelease: 'v1',
    strategy: 'waves',
    status: 'running',
    responsible: 'automation',
    initiator: 'github:push',
    trigger: 'push',
    emergency: false,
    reason: null,
    error: null,
    stragglers: 0,
    url: null,
    atMs: 0,
  };

  it('names app, environment, release, strategy and who is responsible (automation says which)', () => {
    assert.equal(
      summaryLine(n),
      'deploy started: mechanic/production v1 → v2 (waves), responsible: automation (github:push)',
    );
    const slack = slackMessage({
      ...n,
      event: 'failed',
      error: 'machine <web-1> & friends failed',
      url: 'https://r.example.com/dashboard/deploys/dep_1',
    });
    assert.match(slack.text, /^deploy failed: .* — machine <web-1> & friends failed https:\/\/r\.example\.com/);
    const blocks = JSON.stringify(slack.blocks);
    assert.ok(blocks.includes('machine &lt;web-1&gt; &amp; friends failed'), 'Slack control characters escaped');
    assert.ok(blocks.includes('<https://r.example.com/dashboard/deploys/dep_1|deploy dep_1>'));
    assert.deepEqual(webhookDocument(n, 'dep_1.7').deploy, {
      id: 'dep_1',
      app: 'mechanic',
      env: 'production',
      release: 'v2',
      previousRelease: 'v1',
      strategy: 'waves',
      status: 'running',
      responsible: 'automation',
      initiator: 'github:push',
      trigger: 'push',
      emergency: false,
      reason: null,
      error: null,
      stragglers: 0,
      url: null,
    });
  });

  it('signs "<timestamp>.<body>" with HMAC-SHA256 (a known vector)', () => {
    // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
    assert.equal(
      signature('key', '1700000000', '{"a":1}'),
      'sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03',
    );
  });
});

describe('backoff and release notes', () => {
  it('doubles from the base up to the cap, with at most 20% jitter', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((a) => backoffMs(a, 2000, 60_000, () => 0.5)),
      [2000, 4000, 8000, 16000, 60000],
    );
    assert.equal(
      backoffMs(1, 2000, 60_000, () => 0),
      1600,
    );
    assert.equal(
      backoffMs(20, 2000, 60_000, () => 1),
      72_000,
    );
  });

  it('finds the pull requests Release Drafter lists, once each', () => {
    const notes = `## 🚀 Features\n\n* Faster checkout @ada (#41)\n* Bot bump @dependabot[bot] (#44)\n\n## 🐛 Fixes\n\n- Rounding fix, see #42 and #41\nPlain text mentioning #99 is not a change line\n`;
    assert.deepEqual(pullRequestsInNotes(notes), [
      { number: 41, title: 'Faster checkout', author: 'ada' },
      { number: 44, title: 'Bot bump', author: 'dependabot[bot]' },
      { number: 42, title: 'Rounding fix, see and', author: null },
    ]);
    assert.equal(repositoryWebUrl({ repository: 'acme/m' }), 'https://github.com/acme/m');
    assert.equal(
      repositoryWebUrl({ repository: 'acme/m', apiUrl: 'https://ghe.example.com/api/v3' }),
      'https://ghe.example.com/acme/m',
    );
    assert.equal(repositoryWebUrl(undefined), null);
  });
});
