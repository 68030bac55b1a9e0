// The `local` provider's proxy with real machine processes: routing to healthy, uncordoned machines,
// draining, in-place updates under keep-alive connections, queueing while nothing is routable.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { after, afterEach, describe, it } from 'node:test';
import type { FleetScope, Machine } from '../../src/domain/types.js';
import { LocalProvider } from '../../src/providers/local/local-provider.js';
import { until } from '../support/wait.js';
import { appConfig, expectNoLeftovers, portClosed, taggedProcesses, tempDir } from './local-fixtures.js';
import { alive, get } from './local-net.js';

const TAG = randomUUID();

after(() => expectNoLeftovers(TAG));

describe('local proxy', () => {
  let dir: string;
  let provider: LocalProvider;
  let scope: FleetScope;

  async function fleet(n: number): Promise<Machine[]> {
    dir = tempDir();
    const config = appConfig(dir, { tag: TAG });
    scope = { app: config.app, env: config.env };
    provider = await LocalProvider.open(config);
    const made = [];
    for (let i = 0; i < n; i++)
      made.push(
        await provider.create(scope, {
          group: 'web',
          release: 'v1',
          role: 'serving',
          cordoned: false,
          launchId: `p${i}`,
        }),
      );
    return Promise.all(made.map((m) => provider.waitFor(scope, m.id, { state: 'started', healthy: true }, 15_000)));
  }

  afterEach(async () => {
    await provider.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes only to uncordoned, healthy machines; cordon and uncordon take effect for the very next request', async () => {
    const [a, b, c] = await fleet(3);
    const served = async (n: number) => {
      const ids = new Set<string>();
      for (let i = 0; i < n; i++) {
        const r = await get(provider.proxyUrl);
        assert.equal(r.status, 200);
        ids.add(r.machine!);
      }
      return ids;
    };
    assert.deepEqual([...(await served(15))].sort(), [a!.id, b!.id, c!.id].sort());
    await provider.cordon(scope, a!.id);
    assert.ok(!(await served(15)).has(a!.id), 'a cordoned machine gets nothing');
    const green = await provider.create(scope, {
      group: 'web',
      release: 'v2',
      role: 'green',
      cordoned: true,
      launchId: 'green',
    });
    await provider.waitFor(scope, green.id, { state: 'started', healthy: true }, 15_000);
    assert.ok(!(await served(15)).has(green.id), 'a healthy machine created cordoned gets nothing');
    const broken = await provider.create(scope, {
      group: 'web',
      release: 'v-broken',
      role: 'serving',
      cordoned: false,
      launchId: 'broken',
    });
    await provider.waitFor(scope, broken.id, { state: 'started' }, 15_000);
    await until(
      async () => (await provider.get(scope, broken.id)).health === 'critical',
      'the broken machine failed its checks',
    );
    assert.ok(!(await served(15)).has(broken.id), 'an uncordoned machine that fails its checks gets nothing');
    await provider.uncordon(scope, a!.id);
    assert.ok((await served(15)).has(a!.id), 'uncordoned: back in traffic');
  });

  it('drain waits for the requests in flight on a cordoned machine, which complete', async () => {
    const [a] = await fleet(1);
    const slow = get(provider.proxyUrl, '/slow?ms=800');
    await until(async () => (await provider.proxy.inFlight(a!.id)) === 1, 'the slow request reached the machine');
    assert.equal(await provider.proxy.inFlight(a!.id), 1);
    await provider.cordon(scope, a!.id);
    const t0 = Date.now();
    await provider.drain(scope, a!.id, 5_000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 400, `drain waited for the request (${waited} ms)`);
    assert.equal(await provider.proxy.inFlight(a!.id), 0);
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.equal(answer.machine, a!.id);
    const again = get(provider.proxyUrl, '/slow?ms=100'); // held: no machine in traffic
    await provider.drain(scope, a!.id, 50); // returns on its 50 ms cap although a request is held
    await provider.uncordon(scope, a!.id);
    assert.equal((await again).status, 200, 'a request held while nothing was routable is served once a machine is');
  });

  it('updating a machine in place finishes its requests in flight and keeps client keep-alive connections working', async () => {
    const [a, b] = await fleet(2);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const slow = get(provider.proxyUrl, '/slow?ms=600', agent);
      await until(
        async () => (await provider.proxy.inFlight(a!.id)) + (await provider.proxy.inFlight(b!.id)) > 0,
        'the slow request reached a machine',
      );
      const busy = (await provider.proxy.inFlight(a!.id)) > 0 ? a! : b!;
      const updated = await provider.update(scope, busy.id, { release: 'v2' });
      const results: number[] = [];
      const loop = (async () => {
        for (let i = 0; i < 40; i++) results.push((await get(provider.proxyUrl, '/', agent)).status);
      })();
      const answer = await slow;
      assert.equal(answer.status, 200, 'the request in flight completed on the old process');
      assert.match(answer.body, /"release":"v1"/);
      await provider.waitFor(
        scope,
        busy.id,
        { state: 'started', healthy: true, instanceVersion: updated.instanceVersion },
        15_000,
      );
      await loop;
      assert.deepEqual([...new Set(results)], [200], 'no request failed while the machine restarted');
      const after = JSON.parse((await get(provider.proxyUrl, '/', agent)).body) as { release: string };
      assert.ok(['v1', 'v2'].includes(after.release));
    } finally {
      agent.destroy();
    }
  });

  it('holds requests while no machine is routable, then serves them; 503 after queue_timeout', async () => {
    dir = tempDir();
    const config = appConfig(dir, { tag: TAG, local: { queueTimeoutMs: 400 } });
    scope = { app: config.app, env: config.env };
    provider = await LocalProvider.open(config);
    const t0 = Date.now();
    const refused = await get(provider.proxyUrl);
    assert.equal(refused.status, 503);
    assert.ok(Date.now() - t0 >= 350, 'held for queue_timeout first');
    assert.equal((await provider.proxy.snapshot()).unavailable, 1);
  });

  it('closes its port when the provider shuts down', async () => {
    await fleet(1);
    const port = provider.proxy.port;
    const pids = provider.processes().map((x) => x.pid!);
    await provider.shutdown();
    assert.ok(await portClosed(port));
    assert.ok(pids.every((pid) => !alive(pid)));
    assert.deepEqual(
      taggedProcesses(TAG).filter((pid) => pids.includes(pid)),
      [],
    );
    dir = dir ?? tempDir();
    provider = await LocalProvider.open(appConfig(dir, { tag: TAG })); // for afterEach
  });
});
