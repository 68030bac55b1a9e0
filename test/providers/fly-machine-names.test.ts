// Machine names make Fly creates idempotent: runway names every machine after its launch, `sim serve`
// refuses a name in use (409) as the spec says names are unique per app, and a create refused for its
// name adopts the launch's machine. Real HTTP against `runway sim serve`, as the other fly tests.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import { machineNameOf, nameTaken } from '../../src/providers/fly/machine-name.js';
import { until } from '../support/wait.js';
import { assertRejects } from './contract-suite.js';
import { closeSharedServer, flyRig, raw } from './fly-harness.js';

after(() => closeSharedServer());

const IMAGE = 'registry.fly.io/app:v1';
const FLY_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

describe('fly machine names', () => {
  it('are valid Fly names, one per launch id, readable, even from long or odd launch ids', () => {
    const ids = [
      'd-20261205-0156-ab12:web:serving:0',
      'd-20261205-0156-ab12:web:serving:1',
      'D:Web_A:green:0',
      'D:web-a:green:0',
      'd:web:a:green:0',
      `${'x'.repeat(200)}:worker:serving:7`,
      '::',
    ];
    const names = ids.map(machineNameOf);
    for (const name of names) {
      assert.match(name, FLY_NAME);
      assert.ok(name.length < 63, `${name} is ${name.length} characters`);
    }
    assert.equal(new Set(names).size, ids.length, 'no two launch ids share a name');
    assert.equal(machineNameOf(ids[0]!), names[0], 'the same launch id gives the same name');
    assert.ok(names[0]!.startsWith('d-20261205-0156-ab12-web-serving-0-'), names[0]);
    // The spec names no status for a name in use: 409, 422, or a 4xx that says so.
    assert.ok(nameTaken(409, 'anything') && nameTaken(422, 'invalid') && nameTaken(400, 'name already exists'));
    assert.ok(!nameTaken(400, 'bad image') && !nameTaken(503, 'name taken') && !nameTaken(undefined, 'name taken'));
  });

  it('sim serve refuses a create whose name a live machine of the app has, with 409, and creates nothing', async () => {
    const rig = await flyRig();
    try {
      const path = `/v1/apps/${rig.app}/machines`;
      const first = await raw<FlyMachine>(rig.server, 'POST', path, {
        body: { name: 'web-1', config: { image: IMAGE } },
      });
      assert.equal(first.status, 200);
      assert.equal(first.body.name, 'web-1');
      const creates = rig.server.backend.stats.creates.length;
      const again = await raw<{ error: string }>(rig.server, 'POST', path, {
        body: { name: 'web-1', config: { image: IMAGE } },
      });
      assert.equal(again.status, 409);
      assert.match(again.body.error, /web-1/);
      assert.equal(rig.server.backend.stats.creates.length, creates, 'nothing was created');
      const listed = await raw<FlyMachine[]>(rig.server, 'GET', path);
      assert.deepEqual(
        listed.body.map((m) => m.name),
        ['web-1'],
      );
      // Unnamed creates still get generated names; a destroyed machine's name is free again.
      const unnamed = await raw<FlyMachine>(rig.server, 'POST', path, { body: { config: { image: IMAGE } } });
      assert.equal(unnamed.status, 200);
      assert.ok(unnamed.body.name && unnamed.body.name !== 'web-1');
      await rig.provider.destroy(rig.scope, first.body.id);
      await until(
        async () => !(await raw<FlyMachine[]>(rig.server, 'GET', path)).body.some((m) => m.id === first.body.id),
        'the destroyed machine is gone',
      );
      const reused = await raw<FlyMachine>(rig.server, 'POST', path, {
        body: { name: 'web-1', config: { image: IMAGE } },
      });
      assert.equal(reused.status, 200);
    } finally {
      await rig.close();
    }
  });

  it('a create refused for its name adopts the machine of its launch, lease included; another holder is a conflict', async () => {
    const rig = await flyRig();
    try {
      const launchId = 'names-test:web:serving:0';
      const path = `/v1/apps/${rig.app}/machines`;
      // An earlier attempt of the launch, made with a lease, whose answer runway never read.
      const lost = await raw<FlyMachine>(rig.server, 'POST', path, {
        body: {
          name: machineNameOf(launchId),
          lease_ttl: 30, // runway's own lease ttl (fly-harness.ts), as its create would have asked
          config: {
            image: IMAGE,
            metadata: { runway_launch: launchId, runway_group: 'web', fly_process_group: 'web' },
          },
        },
      });
      assert.equal(lost.status, 200);
      const spec = { group: 'web', release: 'v1', role: 'serving' as const, cordoned: false, launchId };
      const made = await rig.provider.create(rig.scope, spec);
      assert.equal(made.id, lost.body.id, 'the launch machine was adopted');
      assert.equal(rig.fly.stats.createsRecovered, 1);
      assert.equal((await rig.provider.list(rig.scope)).length, 1, 'no second machine');
      await rig.provider.uncordon(rig.scope, made.id);
      assert.equal(rig.fly.leaseStats.waitedForOthers, 0, 'the lease the lost create was given was taken up');
      assert.equal(rig.fly.leaseStats.adopted, 1, 'the lease of the lost create was taken up');

      const other = 'names-test:web:serving:1';
      const squatter = await raw<FlyMachine>(rig.server, 'POST', path, {
        body: { name: machineNameOf(other), config: { image: IMAGE } },
      });
      assert.equal(squatter.status, 200);
      const error = await assertRejects(rig.provider.create(rig.scope, { ...spec, launchId: other }), 'conflict');
      assert.match(error.message, new RegExp(squatter.body.id));
    } finally {
      await rig.close();
    }
  });
});
