// The shared contract suite through a real supervisor process: what `runway deploy` on a local
// environment talks to (control API, long-poll waits, the event stream).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { getEnvironment, loadConfig } from '../../src/config/load.js';
import { connectSupervisor, stopSupervisor } from '../../src/providers/local/launcher.js';
import { runProviderContract } from './contract-suite.js';
import { killTagged, leftovers, localProject, remoteHarness, supervisorEnv } from './local-fixtures.js';

const TAG = randomUUID();

runProviderContract('local (through its supervisor)', remoteHarness(TAG));

after(async () => {
  const left = await leftovers(TAG);
  killTagged(TAG);
  assert.deepEqual(left, [], 'no supervisor or machine process outlives the suite');
});

describe('the control API answers what it cannot do as JSON with a status', () => {
  it('a wrong token is 401, an unknown route 404, a body of the wrong shape 422 (bad_request)', async () => {
    const { config: file } = localProject({ app: 'remote-errors', tag: TAG });
    const config = loadConfig(file);
    const env = getEnvironment(config, 'test');
    const connection = (await connectSupervisor({ config, env, processEnv: supervisorEnv(TAG) }))!;
    const { controlUrl, token } = connection.info;
    const call = async (path: string, init: RequestInit = {}, bearer = token) => {
      const res = await fetch(`${controlUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      });
      return {
        status: res.status,
        seq: res.headers.get('x-runway-seq'),
        body: (await res.json()) as { error: { kind: string; message: string } },
      };
    };
    try {
      const unauthorized = await call('/v1/machines', {}, 'not-the-token');
      assert.equal(unauthorized.status, 401);
      assert.equal(unauthorized.body.error.kind, 'unauthorized');

      const missing = await call('/v1/nothing-here');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.kind, 'not_found');

      const badShape = await call('/v1/machines', { method: 'POST', body: JSON.stringify({ group: 1 }) });
      assert.equal(badShape.status, 422);
      assert.equal(badShape.body.error.kind, 'bad_request');
      assert.match(badShape.body.error.message, /group/);
      assert.match(badShape.seq ?? '', /^\d+$/, 'every answer carries the event seq');

      const badJson = await call('/v1/machines', { method: 'POST', body: '{' });
      assert.equal(badJson.status, 422);
      assert.match(badJson.body.error.message, /bad JSON/);

      const unknownMachine = await call('/v1/machines/m-none');
      assert.equal(unknownMachine.status, 404);
      assert.equal(unknownMachine.body.error.kind, 'not_found');
    } finally {
      await connection.client.close();
      await stopSupervisor(connection.info.stateDir);
    }
  });
});
