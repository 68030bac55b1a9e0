// POST /webhooks/github over real HTTP: signed fixtures start the right deploys with the right
// responsible party; bad or missing signatures are 401 and change nothing; a redelivery (to this or
// another instance) starts nothing twice; oversized bodies are 413; unknown events 202.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../../src/server/serve.js';
import { signatureFor } from '../../src/triggers/github-webhook.js';
import { botSender, ping, push, releasePublished, workflowDispatch } from '../triggers/github-fixtures.js';
import { startHarness, WEBHOOK_SECRET, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ serve: { maxWebhookBodyBytes: 64 * 1024 } });
});
after(() => h.close());

async function counts() {
  return {
    deploys: (await h.store.listDeploys()).length,
    deliveries: (await h.store.listDeliveries()).length,
    ledger: (await h.store.ledgerHead()).seq,
    releases: (await h.store.listReleases('shop')).length,
  };
}

describe('GitHub webhooks', () => {
  it('ping: 200', async () => {
    const r = await h.hook('ping', ping());
    assert.equal(r.status, 200);
    assert.equal(r.json.zen, 'Design for failure.');
  });

  it('release published (signed): 202 at once, then production deploys the tag with the publisher responsible', async () => {
    const r = await h.hook('release', releasePublished('v1.2.0'), { delivery: 'rel-1' });
    assert.equal(r.status, 202); // accepted, not done: the deploy goes on after the answer
    assert.deepEqual(r.json, { accepted: true, event: 'release', deliveryId: 'rel-1', environments: ['production'] });
    const d = await h.waitDelivery('rel-1');
    assert.equal(d.status, 'done');
    const [o] = d.result.outcomes;
    assert.equal(o.outcome, 'started', JSON.stringify(o));
    assert.equal(o.responsible, 'grace');
    const deploy = await h.waitDeploy(o.deployId);
    assert.deepEqual(
      [deploy.env, deploy.release, deploy.responsible, deploy.initiator, deploy.trigger, deploy.status],
      ['production', 'v1.2.0', 'grace', 'github:grace', 'release', 'succeeded'],
    );
    const release = await h.store.getRelease('shop', 'v1.2.0');
    assert.match(release?.notes ?? '', /Add search/);
    const started_ = (await h.store.listLedger({ env: 'production' })).find(
      (e) => e.kind === 'deploy.started' && e.deployId === deploy.id,
    )!;
    assert.equal(started_.responsible, 'grace');
    assert.equal((started_.data as { context: { author: string } }).context.author, 'github-actions[bot]');
  });

  it('a redelivery (same X-GitHub-Delivery) answers 200 and starts no second deploy', async () => {
    const before_ = await counts();
    const r = await h.hook('release', releasePublished('v1.2.0'), { delivery: 'rel-1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      duplicate: true,
      event: 'release',
      deliveryId: 'rel-1',
      original: { id: 'rel-1', status: 'done' },
    });
    await h.server.webhooks.idle();
    assert.deepEqual(await counts(), before_);
  });

  it('the same release under another delivery id (a workflow forwarding it too) is also a duplicate', async () => {
    const before_ = await counts();
    const r = await h.hook('release', releasePublished('v1.2.0'), { delivery: 'actions-777' });
    assert.equal(r.status, 200);
    assert.equal(r.json.original.id, 'rel-1');
    await h.server.webhooks.idle();
    assert.deepEqual(await counts(), before_);
  });

  it('a redelivery to another server instance on the same store starts nothing either', async () => {
    const other = await startServer({
      config: (await import('../../src/config/load.js')).loadConfig(`${h.dir}/runway.toml`),
      store: h.store,
      port: 0,
      webhookSecret: WEBHOOK_SECRET,
      processEnv: {},
      pollMs: 50,
    });
    try {
      const before_ = await counts();
      const raw = JSON.stringify(releasePublished('v1.2.0'));
      const res = await fetch(`${other.url}/webhooks/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'release',
          'x-github-delivery': 'rel-1',
          'x-hub-signature-256': signatureFor(WEBHOOK_SECRET, raw),
        },
        body: raw,
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { duplicate: boolean }).duplicate, true);
      await other.webhooks.idle();
      assert.deepEqual(await counts(), before_);
    } finally {
      await other.close();
    }
  });

  it('a bad, missing or foreign signature: 401, nothing recorded, nothing deployed', async () => {
    const before_ = await counts();
    const payload = releasePublished('v6.6.6');
    const raw = JSON.stringify(payload);
    for (const signature of [
      null,
      '',
      'sha256=' + '0'.repeat(64),
      signatureFor('another secret', raw),
      signatureFor(WEBHOOK_SECRET, raw + ' '),
      signatureFor(WEBHOOK_SECRET, raw).replace('sha256=', 'sha1='),
    ]) {
      const r = await h.hook('release', payload, { signature, delivery: `forged-${signature?.length ?? 'none'}`, raw });
      assert.equal(r.status, 401, String(signature));
      assert.match(r.json.error, /missing or wrong x-hub-signature-256 signature/);
    }
    // Not even parsed: a body that is not JSON gets 401, not 400.
    assert.equal(
      (await h.hook('release', null, { raw: '{not json', signature: 'sha256=' + 'f'.repeat(64) })).status,
      401,
    );
    await h.server.webhooks.idle();
    assert.deepEqual(await counts(), before_);
    assert.equal(await h.store.getRelease('shop', 'v6.6.6'), undefined);
  });

  it('signed but malformed: 400 for a non-JSON body or missing headers', async () => {
    assert.equal((await h.hook('release', null, { raw: '{not json' })).status, 400);
    const raw = JSON.stringify(ping());
    const res = await fetch(`${h.url}/webhooks/github`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': signatureFor(WEBHOOK_SECRET, raw), 'x-github-delivery': 'x' },
      body: raw,
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /missing x-github-event header/);
  });

  it('an oversized body: 413 by Content-Length and while streaming, nothing recorded', async () => {
    const before_ = await counts();
    const payload = releasePublished('v7.0.0', undefined, { body: 'x'.repeat(70 * 1024) });
    const raw = JSON.stringify(payload);
    const r = await h.hook('release', payload, { raw });
    assert.equal(r.status, 413);
    assert.match(r.json.error, /limit of 65536 bytes|the limit is 65536/);
    // Chunked, without a Content-Length.
    const bytes = new TextEncoder().encode(raw);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
        controller.close();
      },
    });
    const res = await fetch(`${h.url}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'release',
        'x-github-delivery': 'big-2',
        'x-hub-signature-256': signatureFor(WEBHOOK_SECRET, raw),
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.deepEqual(await counts(), before_);
  });

  it('unknown events and actions runway does not act on: 202 ignored, nothing started', async () => {
    const before_ = await counts();
    const issues = await h.hook('issues', { action: 'opened', issue: { number: 1 } });
    assert.deepEqual(
      [issues.status, issues.json.ignored, issues.json.why],
      [202, true, 'event "issues" is not one runway acts on'],
    );
    const created = await h.hook('release', { ...releasePublished('v8'), action: 'created' });
    assert.equal(created.status, 202);
    assert.equal(created.json.ignored, true);
    const feature = await h.hook('push', push('feature/x'));
    assert.equal(feature.status, 202);
    assert.match(feature.json.why, /push:feature\/x/);
    await h.server.webhooks.idle();
    assert.deepEqual(await counts(), before_);
  });

  it('push to main: staging deploys the commit, automation responsible, the pusher kept as context', async () => {
    const r = await h.hook('push', push('main'), { delivery: 'push-1' });
    assert.equal(r.status, 202);
    const d = await h.waitDelivery('push-1');
    const [o] = d.result.outcomes;
    assert.equal(o.outcome, 'started', JSON.stringify(o));
    const deploy = await h.waitDeploy(o.deployId);
    assert.deepEqual(
      [deploy.env, deploy.release, deploy.responsible, deploy.initiator, deploy.trigger],
      ['staging', 'sha-6113728f27ae', 'automation', 'github:push', 'push:main'],
    );
    const entry = (await h.store.listLedger({ env: 'staging' })).find(
      (e) => e.kind === 'deploy.started' && e.deployId === deploy.id,
    )!;
    assert.equal(entry.responsible, 'automation');
    assert.equal((entry.data as { context: { pusher: string } }).context.pusher, 'ada');
    // The same push again (another delivery): no second deploy.
    const again = await h.hook('push', push('main'), { delivery: 'push-2' });
    assert.equal(again.status, 200);
    assert.equal(again.json.duplicate, true);
  });

  it('"Manual deploy" by a human to the automatic environment is refused and recorded; with emergency and a reason it goes', async () => {
    const wf = '.github/workflows/runway-manual-deploy.yml';
    const r = await h.hook(
      'workflow_dispatch',
      workflowDispatch(wf, { environment: 'staging', ref: 'v1.2.0', reason: '', emergency: 'false' }),
      { delivery: 'wd-1' },
    );
    assert.equal(r.status, 202);
    const d = await h.waitDelivery('wd-1');
    assert.equal(d.result.outcomes[0].outcome, 'refused');
    assert.match(d.result.outcomes[0].why, /staging deploys automatically/);
    const refusal = (await h.store.listLedger({ env: 'staging' })).at(-1)!;
    assert.deepEqual(
      [refusal.kind, refusal.responsible, refusal.initiator],
      ['policy.refused', 'grace', 'github:grace'],
    );

    await h.hook(
      'workflow_dispatch',
      workflowDispatch(wf, { environment: 'staging', ref: 'v1.2.0', reason: 'main is broken', emergency: 'true' }),
      { delivery: 'wd-2' },
    );
    const ok = await h.waitDelivery('wd-2');
    const [o] = ok.result.outcomes;
    assert.equal(o.outcome, 'started', JSON.stringify(o));
    assert.equal(o.emergency, true);
    const deploy = await h.waitDeploy(o.deployId);
    assert.deepEqual(
      [deploy.responsible, deploy.emergency, deploy.reason, deploy.trigger],
      ['grace', true, 'main is broken', 'manual'],
    );
  });

  it('a release published by a bot cannot deploy production (a named human is required)', async () => {
    await h.hook('release', releasePublished('v1.3.0', botSender), { delivery: 'rel-bot' });
    const d = await h.waitDelivery('rel-bot');
    assert.equal(d.result.outcomes[0].outcome, 'refused');
    assert.match(d.result.outcomes[0].why, /automation \(release-drafter\[bot\]\) cannot start one/);
    assert.equal((await h.store.listDeploys({ env: 'production' })).filter((x) => x.release === 'v1.3.0').length, 0);
  });

  it('the ledger of all this verifies', async () => {
    const v = await h.call('GET', '/api/ledger/verify', { token: h.admin });
    assert.equal(v.json.ok, true);
  });
});

describe('webhook endpoint configuration', () => {
  it('without a secret the endpoint is off (503) and says how to turn it on', async () => {
    const off = await startHarness({ serve: { webhookSecret: undefined }, env: {} });
    try {
      const r = await off.hook('release', releasePublished('v1.2.0'));
      assert.equal(r.status, 503);
      assert.match(
        r.json.error,
        /endpoint is off: no webhook secret \(set RUNWAY_GITHUB_WEBHOOK_SECRET or \[github\] webhook_secret_file\)/,
      );
      assert.equal((await off.store.listDeliveries()).length, 0);
      assert.ok(off.logs.some((l) => /GitHub webhook endpoint off/.test(l)));
    } finally {
      await off.close();
    }
  });

  it('RUNWAY_GITHUB_WEBHOOK_SECRET turns it on', async () => {
    const on = await startHarness({
      serve: { webhookSecret: undefined },
      env: { RUNWAY_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    try {
      assert.equal((await on.hook('ping', ping())).status, 200);
    } finally {
      await on.close();
    }
  });

  it('deliveries left queued by a stopped instance are processed when one starts', async () => {
    const first = await startHarness();
    try {
      await first.server.close();
      await first.store.recordDelivery({
        id: 'left-behind',
        event: 'push',
        eventKey: 'push:x:refs/heads/main:abc',
        status: 'queued',
        receivedAtMs: Date.now(),
        requests: [
          {
            env: 'staging',
            release: 'sha-abc',
            newRelease: { version: 'sha-abc', image: 'shop:abc', createdAtMs: 1 },
            action: 'deploy',
            trigger: 'push',
            branch: 'main',
            initiator: { kind: 'automation', name: 'github' },
            emergency: false,
            reason: null,
            context: {},
          },
        ],
      });
      const config = (await import('../../src/config/load.js')).loadConfig(`${first.dir}/runway.toml`);
      const second = await startServer({
        config,
        store: first.store,
        port: 0,
        webhookSecret: WEBHOOK_SECRET,
        processEnv: {},
        pollMs: 50,
      });
      try {
        await second.webhooks.idle();
        const d = await first.store.getDelivery('left-behind');
        assert.equal(d?.status, 'done');
        assert.equal((d?.result as { outcomes: { outcome: string }[] }).outcomes[0]!.outcome, 'started');
      } finally {
        await second.close();
      }
    } finally {
      await first.store.close();
    }
  });
});
