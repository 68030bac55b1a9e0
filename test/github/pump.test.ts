// The outbox pump on its own, over a real SQLite store: history is not replayed, and the pump
// retires lifecycle rows when nothing is configured.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { OutboxPump } from '../../src/outbox/pump.js';
import { openStore } from '../../src/store/open-store.js';
import { freePort } from './helpers.js';

const CONFIG = `[app]
name = "mechanic"
[environments.production]
provider = "sim"
trigger = "release"
`;

async function withDeploy(body: (store: Awaited<ReturnType<typeof openStore>>) => Promise<void>) {
  const store = await openStore(':memory:', '/tmp');
  try {
    await store.createDeploy({
      id: 'd1',
      app: 'mechanic',
      env: 'production',
      release: 'v2',
      previousRelease: 'v1',
      strategy: 'rolling',
      initiator: 'grace',
      responsible: 'grace',
      trigger: 'release',
      reason: null,
      plan: null,
      createdAtMs: Date.now(),
    });
    await store.updateDeploy('d1', { status: 'running' });
    await body(store);
  } finally {
    await store.close();
  }
}

describe('outbox pump', () => {
  it('retires lifecycle rows older than the give-up age without telling anyone', () =>
    withDeploy(async (store) => {
      // An unreachable GitHub: any delivery attempt would be recorded as a failure.
      const config = parseConfig(
        `${CONFIG}[github]\nrepository = "acme/mechanic"\napi_url = "http://127.0.0.1:9"\n`,
        '/tmp/runway.toml',
      );
      const pump = new OutboxPump({
        store,
        config,
        processEnv: { RUNWAY_GITHUB_TOKEN: 't' },
        now: () => Date.now() + 25 * 3600_000,
      });
      const r = await pump.tick();
      assert.deepEqual(r, { delivered: 0, failedAttempts: 0, waiting: 0 });
      const rows = await store.listOutbox();
      assert.deepEqual(
        rows.map((x) => [x.channel, x.kind, x.state]),
        [
          ['lifecycle', 'pending', 'delivered'],
          ['lifecycle', 'running', 'delivered'],
        ],
      );
    }));

  it('without GitHub or notification targets it only retires lifecycle rows', () =>
    withDeploy(async (store) => {
      const pump = new OutboxPump({ store, config: parseConfig(CONFIG, '/tmp/runway.toml') });
      assert.equal(pump.enabled, false);
      await pump.tick();
      assert.deepEqual(await store.listOutbox({ state: ['pending'] }), []);
      assert.equal((await store.listOutbox()).length, 2);
    }));

  it('gives up at once on a refusal for good and goes on with the channel', () =>
    withDeploy(async (store) => {
      const config = parseConfig(
        `${CONFIG}[notifications.targets.gone]\ntype = "slack"\nurl = "http://127.0.0.1:${await freePort()}/x"\n`,
        '/tmp/runway.toml',
      );
      // The target disappears from the configuration while deliveries for it are queued.
      const pump = new OutboxPump({ store, config });
      await pump.tick();
      const [tried] = await store.listOutbox({ channel: 'notify:gone' });
      assert.deepEqual([tried?.state, tried?.attempts], ['pending', 1], 'connection refused: retried later');
      assert.match(tried?.lastError ?? '', /^gone: ECONNREFUSED/);
      assert.doesNotMatch(tried?.lastError ?? '', /127\.0\.0\.1/, 'webhook URLs are secrets: not in the stored error');
      const without = new OutboxPump({
        store,
        config: parseConfig(CONFIG, '/tmp/runway.toml'),
        now: () => Date.now() + 3600_000,
      });
      const r = await without.tick();
      assert.equal(r.failedAttempts, 1);
      const [row] = await store.listOutbox({ channel: 'notify:gone' });
      assert.equal(row?.state, 'failed');
      assert.match(row?.lastError ?? '', /no notification target "gone"/);
    }));
});
