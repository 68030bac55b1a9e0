// Machine names make Fly creates idempotent: runway names every create (one name per incarnation of a
// launch, the same in every process of a deploy), `sim serve` refuses a name ever used in the app (409)
// — the spec only says names are unique, so the sim takes the strict reading — lists destroyed
// machines when asked (include_deleted), and keeps names, destroyed machines and its own launch
// numbering across a restart from --state. Real HTTP against `runway sim serve`, as the other fly tests.
// Creates across runway processes: fly-resumed-creates.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ScaledClock } from '../../src/domain/clock.js';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import { LaunchNames, machineNameOf, nameTaken } from '../../src/providers/fly/machine-name.js';
import { SimDestroyedMachines } from '../../src/providers/sim/serve/destroyed-machines.js';
import { startSimServer } from '../../src/providers/sim/serve/sim-server.js';
import { until } from '../support/wait.js';
import { closeSharedServer, flyRig, raw, SPEED, TOKEN } from './fly-harness.js';

after(() => closeSharedServer());

const IMAGE = 'registry.fly.io/app:v1';
const FLY_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const launch = (id: string) => ({
  config: { image: IMAGE, metadata: { runway_launch: id, runway_group: 'web', fly_process_group: 'web' } },
});

describe('fly machine names', () => {
  it('are valid Fly names, one per launch id and salt, readable, even from long or odd launch ids', () => {
    const ids = [
      'd-20261205-0156-ab12:web:serving:0',
      'd-20261205-0156-ab12:web:serving:1',
      'D:Web_A:green:0',
      'D:web-a:green:0',
      'd:web:a:green:0',
      `${'x'.repeat(200)}:worker:serving:7`,
      '::',
    ];
    const names = ids.map((id) => machineNameOf(id, 'p1.1'));
    for (const name of names) {
      assert.match(name, FLY_NAME);
      assert.ok(name.length < 63, `${name} is ${name.length} characters`);
    }
    assert.equal(new Set(names).size, ids.length, 'no two launch ids share a name');
    assert.equal(machineNameOf(ids[0]!, 'p1.1'), names[0], 'the same launch id and salt give the same name');
    assert.notEqual(machineNameOf(ids[0]!, 'p1.2'), names[0], 'another incarnation gets another name');
    assert.ok(names[0]!.startsWith('d-20261205-0156-ab12-web-serving-0-'), names[0]);
    // The spec names no status for a name in use: 409, 422 or a 4xx that says so.
    assert.ok(
      nameTaken(409, 'anything') && nameTaken(422, 'name already exists') && nameTaken(400, 'name already exists'),
    );
    assert.ok(!nameTaken(422, 'invalid image') && !nameTaken(503, 'name taken') && !nameTaken(undefined, 'name taken'));
  });

  it("are the same in every process of a deploy, one per incarnation; a create with no deploy id gets its process's", () => {
    const launch = 'd1:web:green:0';
    const one = new LaunchNames(launch, 'd1', 'salt-of-process-1');
    const other = new LaunchNames(launch, 'd1', 'salt-of-process-2');
    assert.deepEqual(
      [0, 1, 2].map((k) => one.nameOf(k)),
      [0, 1, 2].map((k) => other.nameOf(k)),
    );
    assert.equal(new Set([0, 1, 2].map((k) => one.nameOf(k))).size, 3);
    assert.equal(one.incarnationOf(other.nameOf(2)), 2);
    assert.equal(one.incarnationOf(new LaunchNames(launch, 'd2', 'salt-of-process-1').nameOf(0)), undefined);
    const noDeploy = (salt: string) => new LaunchNames(launch, undefined, salt).nameOf(0);
    assert.notEqual(noDeploy('salt-of-process-1'), noDeploy('salt-of-process-2'));
    assert.notEqual(noDeploy('d1'), one.nameOf(0));
  });

  it('sim serve refuses a name used in the app, live or destroyed, with 409, and creates nothing', async () => {
    const rig = await flyRig();
    try {
      const path = `/v1/apps/${rig.app}/machines`;
      const first = await raw<FlyMachine>(rig.server, 'POST', path, { body: { name: 'web-1', ...launch('a') } });
      assert.equal(first.status, 200);
      assert.equal(first.body.name, 'web-1');
      const creates = rig.server.backend.stats.creates.length;
      const again = await raw<{ error: string }>(rig.server, 'POST', path, { body: { name: 'web-1', ...launch('b') } });
      assert.equal(again.status, 409);
      assert.match(again.body.error, /web-1/);
      assert.equal(rig.server.backend.stats.creates.length, creates, 'nothing was created');
      // Unnamed creates still get generated names.
      const unnamed = await raw<FlyMachine>(rig.server, 'POST', path, { body: launch('c') });
      assert.equal(unnamed.status, 200);
      assert.ok(unnamed.body.name && unnamed.body.name !== 'web-1');
      // Fly does not say when a destroyed machine's name is free: the sim never frees it.
      await rig.provider.destroy(rig.scope, first.body.id);
      await until(
        async () => !(await raw<FlyMachine[]>(rig.server, 'GET', path)).body.some((m) => m.id === first.body.id),
        'the destroyed machine is gone',
      );
      const reused = await raw<FlyMachine>(rig.server, 'POST', path, { body: { name: 'web-1', ...launch('a') } });
      assert.equal(reused.status, 409);
    } finally {
      await rig.close();
    }
  });

  it('sim serve lists destroyed machines, as they were, only with include_deleted=true', async () => {
    const rig = await flyRig();
    try {
      const path = `/v1/apps/${rig.app}/machines`;
      const kept = await raw<FlyMachine>(rig.server, 'POST', path, { body: { name: 'kept', ...launch('k') } });
      const gone = await raw<FlyMachine>(rig.server, 'POST', path, {
        body: { name: 'gone', region: 'ams', ...launch('g') },
      });
      await rig.provider.destroy(rig.scope, gone.body.id);
      const list = async (query: string) => (await raw<FlyMachine[]>(rig.server, 'GET', path + query)).body;
      await until(async () => (await list('')).length === 1, 'the destroyed machine is no longer listed');
      assert.deepEqual(
        (await list('?include_deleted=false')).map((m) => m.id),
        [kept.body.id],
      );
      const all = await list('?include_deleted=true');
      assert.deepEqual(
        all.map((m) => [m.id, m.name, m.state === 'destroyed']),
        [
          [kept.body.id, 'kept', false],
          [gone.body.id, 'gone', true],
        ],
      );
      const destroyed = all[1]!;
      assert.equal(destroyed.region, gone.body.region);
      assert.deepEqual(destroyed.config, gone.body.config, 'its config and metadata as it had them');
      assert.equal(destroyed.created_at, gone.body.created_at);
      assert.deepEqual(destroyed.checks, []);
      // With the other filter of the spec's Machines_list.
      assert.notEqual(kept.body.region, 'ams');
      assert.deepEqual(
        (await list('?include_deleted=true&region=ams')).map((m) => m.id),
        [gone.body.id],
      );
      // A destroyed machine is not there to be read, only listed.
      assert.equal((await raw(rig.server, 'GET', `${path}/${gone.body.id}`)).status, 404);
    } finally {
      await rig.close();
    }
  });

  it('sim serve lists the last destroyed machines of each app, no more', () => {
    const destroyed = new SimDestroyedMachines(2);
    const machine = (id: string, app = 'a') => ({
      id,
      app,
      env: 'fly',
      group: 'web',
      release: 'v1',
      instanceVersion: 'iv1',
      role: 'serving' as const,
      state: 'stopped' as const,
      health: 'unknown' as const,
      cordoned: false,
      createdAtMs: 0,
      updatedAtMs: 0,
    });
    const extra = (name: string) => ({ name, region: 'sim', config: { image: IMAGE }, bornAtMs: 5 });
    for (const id of ['m1', 'm2', 'm3']) destroyed.add(machine(id), extra(id));
    destroyed.add(machine('m4', 'b'), extra('m4'));
    assert.deepEqual(
      destroyed.list('a').map((m) => [m.id, m.name, m.state]),
      [
        ['m2', 'm2', 'destroyed'],
        ['m3', 'm3', 'destroyed'],
      ],
    );
    assert.deepEqual(
      destroyed.list('b').map((m) => m.id),
      ['m4'],
    );
  });

  it('a launch made again after its machine was destroyed gets a new name and one new machine, not a 409', async () => {
    const rig = await flyRig();
    try {
      const spec = {
        group: 'web',
        release: 'v1',
        role: 'green' as const,
        cordoned: true,
        launchId: 'again:web:green:0',
      };
      const made = await rig.provider.create(rig.scope, spec);
      await rig.provider.destroy(rig.scope, made.id);
      await until(async () => (await rig.provider.list(rig.scope)).length === 0, 'the machine is gone');
      const remade = await rig.provider.create(rig.scope, spec);
      assert.notEqual(remade.id, made.id);
      const names = (await raw<FlyMachine[]>(rig.server, 'GET', `/v1/apps/${rig.app}/machines`)).body.map(
        (m) => m.name,
      );
      assert.equal(names.length, 1);
      const creates = rig.server.backend.stats.creates.filter((c) => c.launchId === spec.launchId);
      assert.deepEqual(
        creates.map((c) => [c.machineId, c.duplicateOf]),
        [
          [made.id, null],
          [remade.id, null],
        ],
        'two machines, each made while the launch had no other',
      );
    } finally {
      await rig.close();
    }
  });

  it('a create re-sent while its first copy is still being applied is refused, waits for that copy and adopts it', async () => {
    // Its own, slower server: at 25x a loaded machine's scheduling lag alone is simulated seconds.
    const speed = 4;
    const server = await startSimServer({ clock: new ScaledClock(speed), token: TOKEN, sim: { seed: 4 } });
    // The first attempt takes its name on arrival and makes its machine 20 s later; the client gives
    // up at 4 s, looks for one grace, sends again: refused (409) until the first copy is made.
    const rig = await flyRig({ server, speed, requestTimeoutMs: 4_000, consistencyGraceMs: 1_000 });
    try {
      server.backend.setFaults({
        createDelayMs: 20_000,
        createDelayCount: 1,
        createLandsLate: true,
        createNameFirst: true,
      });
      const spec = {
        group: 'web',
        release: 'v1',
        role: 'green' as const,
        cordoned: true,
        launchId: 'slow:web:green:0',
      };
      const made = await rig.provider.create(rig.scope, spec);
      assert.ok((server.backend.stats.byStatus[409] ?? 0) >= 1, 'the re-sent create was refused for its name');
      assert.equal(rig.fly.stats.createsRecovered, 1, 'the machine of the first copy was adopted');
      assert.deepEqual(
        server.backend.stats.creates.map((c) => [c.machineId, c.duplicateOf]),
        [[made.id, null]],
        'one machine made for the launch',
      );
      await rig.provider.uncordon(rig.scope, made.id);
      assert.equal(rig.fly.leaseStats.adopted, 1, 'the lease the first copy was given was taken up');
    } finally {
      await rig.close();
      await server.close();
    }
  });

  it('sim serve restarted from --state keeps names taken, lists destroyed machines, makes a new machine for a new create', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-names-'));
    const statePath = join(dir, 'fleet.json');
    const start = () => startSimServer({ clock: new ScaledClock(SPEED), token: TOKEN, statePath, sim: { seed: 5 } });
    let server = await start();
    try {
      server.backend.createApp('names-app');
      const path = '/v1/apps/names-app/machines';
      const first = await raw<FlyMachine>(server, 'POST', path, { body: { name: 'green-a', ...launch('A') } });
      assert.equal(first.status, 200);
      const gone = await raw<FlyMachine>(server, 'POST', path, { body: { name: 'green-gone', ...launch('G') } });
      assert.equal((await raw(server, 'DELETE', `${path}/${gone.body.id}?force=true`)).status, 200);
      await until(
        async () => (await raw<FlyMachine[]>(server, 'GET', path)).body.every((m) => m.id !== gone.body.id),
        'the machine is destroyed',
      );
      await server.close();
      server = await start();
      // Before the fix the sim numbered its own launch ids from 1 again, answered this create with the
      // machine of launch A and relabelled it as B's: A lost its machine and a re-plan made it twice.
      const second = await raw<FlyMachine>(server, 'POST', path, { body: { name: 'green-b', ...launch('B') } });
      assert.equal(second.status, 200);
      assert.notEqual(second.body.id, first.body.id, 'a new machine');
      const listed = (await raw<FlyMachine[]>(server, 'GET', path)).body;
      assert.deepEqual(
        listed.map((m) => [m.id, m.config?.metadata?.runway_launch]).sort(),
        [
          [first.body.id, 'A'],
          [second.body.id, 'B'],
        ].sort(),
      );
      const again = await raw(server, 'POST', path, { body: { name: 'green-a', ...launch('A') } });
      assert.equal(again.status, 409, 'the name is still taken after the restart');
      const withDestroyed = (await raw<FlyMachine[]>(server, 'GET', `${path}?include_deleted=true`)).body;
      assert.deepEqual(
        withDestroyed
          .filter((m) => m.state === 'destroyed')
          .map((m) => [m.id, m.name, m.config?.metadata?.runway_launch]),
        [[gone.body.id, 'green-gone', 'G']],
        'the destroyed machine is listed as before the restart',
      );
      const reused = await raw(server, 'POST', path, { body: { name: 'green-gone', ...launch('G') } });
      assert.equal(reused.status, 409, "the destroyed machine's name is still taken after the restart");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
