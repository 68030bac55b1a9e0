// Notifications for every deploy event, over real HTTP: a Slack incoming webhook (Slack's message
// format) and a generic JSON webhook signed with HMAC-SHA256, each with its own events and
// environments; deliveries retried with backoff while a receiver fails.

import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OutboxPump } from '../../src/outbox/pump.js';
import { ghProject, PUBLIC_URL, Receiver, type GhProject } from './helpers.js';

const SECRET = 'whsec-test-8c1f';

function integrations(url: string): string {
  return `
[notifications.targets.team-slack]
type = "slack"
url = "${url}/slack"
environments = ["production"]

[notifications.targets.audit]
type = "webhook"
url_env = "AUDIT_URL"
secret_env = "AUDIT_SECRET"
events = ["succeeded", "failed", "rolled_back", "aborted", "emergency", "stragglers"]
`;
}

/** What a receiver does with the documented scheme: HMAC-SHA256 over "<timestamp>.<raw body>". */
function verify(secret: string, timestamp: string, raw: string, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

describe('notifications', () => {
  const receiver = new Receiver();
  let p: GhProject;
  const ids: Record<string, string> = {};
  before(async () => {
    await receiver.listen();
    p = ghProject(integrations(receiver.url), { AUDIT_URL: `${receiver.url}/audit`, AUDIT_SECRET: SECRET });
    for (const v of ['v2', 'v3', 'v-broken']) assert.equal((await p.run(['releases', 'create', v])).code, 0);
    const deploy = async (name: string, args: string[], signal?: AbortSignal) => {
      const r = await p.run([...args, '--json'], {}, signal);
      ids[name] = (JSON.parse(r.stdout) as { deployId: string }).deployId;
      return r.code;
    };
    assert.equal(await deploy('ok', ['deploy', '--env', 'production', '--release', 'v2']), 0);
    assert.equal(await deploy('broken', ['deploy', '--env', 'production', '--release', 'v-broken']), 1);
    // staging is automatic: a human deploys there only by breaking glass. Immediate, halting: stragglers.
    assert.equal(
      await deploy('glass', [
        'deploy',
        '--env',
        'staging',
        '--release',
        'v-broken',
        '--emergency',
        '--reason',
        'hotfix for the checkout',
      ]),
      1,
    );
    const stop = new AbortController();
    stop.abort('operator pressed Ctrl-C');
    assert.equal(await deploy('aborted', ['deploy', '--env', 'production', '--release', 'v3'], stop.signal), 3);
    assert.equal(await deploy('rollback', ['rollback', '--env', 'production', '--to', 'v2']), 0);
  });
  after(async () => {
    await receiver.close();
    p.cleanup();
  });

  it('Slack gets every event of its environment, in order, in Slack’s incoming-webhook format', () => {
    const slack = receiver.at('/slack');
    const events = slack.map((r) => (r.body.text as string).split(':')[0]);
    assert.deepEqual(
      events,
      [
        'deploy started',
        'deploy succeeded',
        'deploy started',
        'rolled back',
        'deploy started',
        'deploy aborted',
        'deploy started',
        'rolled back',
      ],
      'staging is not this target’s',
    );
    for (const r of slack) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(typeof r.body.text, 'string');
      assert.ok(Array.isArray(r.body.blocks) && r.body.blocks.length >= 2);
      const mrkdwn = JSON.stringify(r.body.blocks);
      for (const fact of ['mechanic', 'production', 'grace']) assert.ok(mrkdwn.includes(fact), `${fact} in ${mrkdwn}`);
    }
    const first = slack[0]!;
    assert.match(
      first.body.text as string,
      /^deploy started: mechanic\/production v1 → v2 \(rolling\), responsible: grace https:\/\/runway\.example\.com\/dashboard\/deploys\//,
    );
    assert.ok(
      JSON.stringify(first.body.blocks).includes(`<${PUBLIC_URL}/dashboard/deploys/${ids.ok}|deploy ${ids.ok}>`),
      'links to the deploy page',
    );
    assert.match(
      slack[3]!.body.text as string,
      /^rolled back: mechanic\/production back on v2 \(v-broken failed\) \(rolling\)/,
    );
    assert.match(
      slack[7]!.body.text as string,
      /^rolled back: mechanic\/production v2 \(immediate\), responsible: grace/,
      'runway rollback (the aborted v3 changed no machine)',
    );
  });

  it('the generic webhook gets its events for every environment, signed with HMAC-SHA256 as documented', () => {
    const audit = receiver.at('/audit');
    assert.deepEqual(
      audit.map((r) => `${(r.body.deploy as { env: string }).env} ${r.body.event}`),
      [
        'production succeeded',
        'production rolled_back',
        'staging emergency',
        'staging failed',
        'staging stragglers',
        'production aborted',
        'production rolled_back',
      ],
      '"started" is not among its events',
    );
    for (const r of audit) {
      const ts = r.headers['x-runway-timestamp'] as string;
      assert.match(ts, /^\d{10}$/);
      assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 600, 'a current timestamp (receivers reject old ones)');
      assert.ok(verify(SECRET, ts, r.raw, r.headers['x-runway-signature'] as string), 'signature verifies');
      assert.equal(verify('another-secret', ts, r.raw, r.headers['x-runway-signature'] as string), false);
      assert.equal(r.headers['x-runway-event'], r.body.event);
      assert.equal(r.headers['x-runway-delivery'], r.body.delivery);
      assert.equal(r.body.version, 1);
    }
    const glass = audit.find((r) => r.body.event === 'emergency')!;
    assert.deepEqual(
      { ...(glass.body.deploy as object), id: undefined },
      {
        id: undefined,
        app: 'mechanic',
        env: 'staging',
        release: 'v-broken',
        previousRelease: 'v1',
        strategy: 'immediate',
        status: 'running',
        responsible: 'grace',
        initiator: (glass.body.deploy as { initiator: string }).initiator,
        trigger: (glass.body.deploy as { trigger: string }).trigger,
        emergency: true,
        reason: 'hotfix for the checkout',
        error: null,
        stragglers: 0,
        url: `${PUBLIC_URL}/dashboard/deploys/${ids.glass}`,
      },
    );
    const stragglers = audit.find((r) => r.body.event === 'stragglers')!;
    assert.equal((stragglers.body.deploy as { stragglers: number }).stragglers, 4);
    assert.match(stragglers.body.text as string, /^stragglers left: mechanic\/staging/);
    const aborted = audit.find((r) => r.body.event === 'aborted')!;
    assert.equal((aborted.body.deploy as { id: string }).id, ids.aborted);
  });

  it('a failing receiver is retried with backoff and gets the notification later; deploys do not wait for it', async () => {
    receiver.status = 500;
    const before = receiver.at('/audit').length;
    const r = await p.run(['deploy', '--env', 'production', '--release', 'v3', '--json']);
    assert.equal(r.code, 0, 'the deploy succeeds while the receiver fails');
    const { config, store } = await p.open();
    try {
      const waiting = await store.listOutbox({ channel: 'notify:audit', state: ['pending'] });
      assert.deepEqual(
        waiting.map((w) => w.kind),
        ['succeeded'],
      );
      assert.ok(waiting[0]!.attempts >= 1);
      assert.match(waiting[0]!.lastError ?? '', /HTTP 500/);
      receiver.status = 200;
      const pump = new OutboxPump({
        store,
        config,
        processEnv: { AUDIT_URL: `${receiver.url}/audit`, AUDIT_SECRET: SECRET },
        now: () => Date.now() + 3600_000,
      });
      assert.equal((await pump.flush(30_000)).failedAttempts, 0);
      assert.deepEqual(
        receiver
          .at('/audit')
          .slice(before)
          .map((x) => x.body.event),
        ['succeeded'],
      );
    } finally {
      await store.close();
    }
  });
});
