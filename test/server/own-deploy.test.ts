// A server does not take over a deploy it is starting itself. Between recording a deploy (owned by
// this instance) and running it, a request writes the journal and the ledger; on a busy machine the
// takeover check ran in between, claimed the deploy as its own (same owner) and this instance ran it
// twice (found by test:soak: the second run outlived the graceful stop). Here the store holds the
// request at that point until the takeover check has looked at the deploys twice.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/contract.js';
import { startHarness, type Harness } from './harness.js';

/** The server's store, with the request held at its policy journal entry until `looks` takeover checks have run. */
function holdingStore(store: Store, looks: number): { store: Store; held: () => number } {
  let listed = 0;
  let held = 0;
  const waiters: { at: number; resolve: () => void }[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === 'listDeploys') {
        return async (...args: Parameters<Store['listDeploys']>) => {
          const out = await target.listDeploys(...args);
          listed++;
          for (const w of [...waiters]) {
            if (listed < w.at) continue;
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
          return out;
        };
      }
      if (prop === 'appendJournal') {
        return async (...args: Parameters<Store['appendJournal']>) => {
          if (args[0].some((e) => e.kind === 'policy')) {
            held++;
            await new Promise<void>((resolve) => waiters.push({ at: listed + looks, resolve }));
          }
          return target.appendJournal(...args);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, held: () => held };
}

describe('a server starting a deploy', () => {
  let h: Harness;
  let hold: ReturnType<typeof holdingStore> | undefined;

  before(async () => {
    h = await startHarness({
      wrapStore: (store) => {
        hold = holdingStore(store, 2);
        return hold.store;
      },
    });
    assert.equal(
      (await h.call('POST', '/api/releases', { token: h.admin, body: { version: 'v2', notes: 'release v2' } })).status,
      201,
    );
  });
  after(() => h?.close());

  it('does not take it over from itself while the request is still recording it: it runs once', async () => {
    const created = await h.call('POST', '/api/deploys', {
      token: h.admin,
      body: { env: 'production', release: 'v2', reason: 'ship v2' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(hold!.held(), 1, 'the request was held after recording its deploy');
    const id = created.json.deploy.id as string;
    const done = await h.waitDeploy(id);
    assert.equal(done.status, 'succeeded', done.error ?? '');
    const journal = await h.store.listJournal(id);
    assert.deepEqual(
      journal.filter((e) => e.kind === 'taken_over').map((e) => e.message),
      [],
      'not taken over',
    );
    assert.ok(!h.logs.some((l) => l.includes(`taking over deploy ${id}`)), h.logs.join('\n'));
  });
});
