// A create in flight when its runway process dies, and the resumed deploy's create of the same launch:
// two FlyProvider instances stand for the two processes (each its own random salt, no shared memory).
// Machine names come from the deploy, the launch and its incarnation, so both send the same name and
// Fly (here `runway sim serve`, over real HTTP) refuses whichever copy it applies second: one machine.
// And a launch made again after its machine was destroyed, by a process that never saw that machine,
// walks to the launch's next name (include_deleted shows who holds this one) instead of a conflict.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ScaledClock } from '../../src/domain/clock.js';
import type { MachineSpec } from '../../src/providers/contract.js';
import type { FlyMachine } from '../../src/providers/fly/fly-types.js';
import { LaunchNames } from '../../src/providers/fly/machine-name.js';
import { startSimServer, type SimServer } from '../../src/providers/sim/serve/sim-server.js';
import { until } from '../support/wait.js';
import { assertRejects } from './contract-suite.js';
import { closeSharedServer, flyRig, raw, TOKEN, type FlyRig } from './fly-harness.js';

after(() => closeSharedServer());

const CREATE_ROUTE = 'POST /v1/apps/:app/machines';

function greenOf(deployId: string): MachineSpec {
  return { group: 'web', release: 'v1', role: 'green', cordoned: true, deployId, launchId: `${deployId}:web:green:0` };
}

/** Machine `launchId` has had, as Fly lists them with include_deleted (destroyed ones too). */
async function machinesOf(rig: FlyRig, launchId: string, speed?: number): Promise<FlyMachine[]> {
  const listed = await raw<FlyMachine[]>(rig.server, 'GET', `/v1/apps/${rig.app}/machines?include_deleted=true`, {
    speed,
  });
  return listed.body.filter((m) => m.config?.metadata?.runway_launch === launchId);
}

/**
 * Its own, slower server (at 25x a loaded machine's scheduling lag alone is simulated seconds), and two
 * processes of one deploy on one app: `dead`, whose create the test lets time out, and `resumed`.
 */
async function twoProcesses(seed: number) {
  const speed = 4;
  const server: SimServer = await startSimServer({ clock: new ScaledClock(speed), token: TOKEN, sim: { seed } });
  const options = { server, speed, requestTimeoutMs: 4_000, consistencyGraceMs: 1_000 };
  const dead = await flyRig(options);
  const resumed = await flyRig({ ...options, createApp: false });
  return {
    server,
    speed,
    dead,
    resumed,
    async close() {
      await dead.close();
      await resumed.close();
      await server.close();
    },
  };
}

describe('fly creates across runway processes', () => {
  it("a dead process's create applied after the resumed deploy made the launch's machine is refused: one machine", async () => {
    const t = await twoProcesses(11);
    try {
      // The dead process's create is applied 20 s after it arrives; its client gives up at 4 s.
      t.server.backend.setFaults({ createDelayMs: 20_000, createDelayCount: 1, createLandsLate: true });
      const spec = greenOf('d-20261206-0930-dead');
      // One attempt, no retry: the process is killed with the create in the API's hands.
      await assertRejects(t.dead.fly.create(t.dead.scope, spec), 'timeout');
      const made = await t.resumed.provider.create(t.dead.scope, spec);
      await until(
        () => t.server.backend.stats.byRoute[CREATE_ROUTE] === 2,
        "the dead process's late create was answered",
      );
      assert.equal(t.server.backend.stats.byStatus[409], 1, 'the late copy was refused for its name');
      assert.deepEqual(
        t.server.backend.stats.creates.map((c) => [c.machineId, c.launchId]),
        [[made.id, spec.launchId]],
        'one machine made for the launch',
      );
      assert.deepEqual(
        (await machinesOf(t.dead, spec.launchId, t.speed)).map((m) => [m.id, m.name]),
        [[made.id, new LaunchNames(spec.launchId, spec.deployId, 'any').nameOf(0)]],
        'the machine carries the name both processes sent',
      );
      // Had the dead process lived to send its create again, it would have got the same machine.
      assert.equal((await t.dead.fly.create(t.dead.scope, spec)).id, made.id);
    } finally {
      await t.close();
    }
  });

  it("the resumed deploy's create refused while the dead process's copy is being applied adopts that copy's machine", async () => {
    const t = await twoProcesses(12);
    try {
      // The dead process's create takes its name on arrival and makes its machine 20 s later.
      t.server.backend.setFaults({
        createDelayMs: 20_000,
        createDelayCount: 1,
        createLandsLate: true,
        createNameFirst: true,
      });
      const spec = greenOf('d-20261206-0931-late');
      await assertRejects(t.dead.fly.create(t.dead.scope, spec), 'timeout');
      // Refused (409), listed, waited for, sent again… until the dead process's copy is made, then adopted.
      const made = await t.resumed.provider.create(t.dead.scope, spec);
      assert.ok((t.server.backend.stats.byStatus[409] ?? 0) >= 1, "the resumed process's create was refused");
      assert.equal(t.resumed.fly.stats.createsRecovered, 1, "the dead process's machine was adopted");
      assert.deepEqual(
        t.server.backend.stats.creates.map((c) => [c.machineId, c.launchId]),
        [[made.id, spec.launchId]],
        'one machine made for the launch',
      );
      // The lease the dead process's create was given went with the machine: taken up, not waited out.
      await t.resumed.provider.uncordon(t.dead.scope, made.id);
      assert.equal(t.resumed.fly.leaseStats.adopted, 1);
    } finally {
      await t.close();
    }
  });

  it('a launch made again by a process that never saw its destroyed machine gets the next name, not a conflict', async () => {
    const first = await flyRig();
    const fresh = await flyRig({ createApp: false });
    try {
      const spec = greenOf('d-20261206-0932-again');
      const names = new LaunchNames(spec.launchId, spec.deployId, 'any');
      const made = await first.provider.create(first.scope, spec);
      await first.provider.destroy(first.scope, made.id);
      await until(async () => (await first.provider.list(first.scope)).length === 0, 'the machine is gone');
      // A re-plan hands the launch id out again; the process creating it knows nothing of its first machine.
      const refusedBefore = first.server.backend.stats.byStatus[409] ?? 0;
      const remade = await fresh.provider.create(first.scope, spec);
      assert.notEqual(remade.id, made.id);
      assert.equal(
        (first.server.backend.stats.byStatus[409] ?? 0) - refusedBefore,
        1,
        'refused once for the first name, then sent under the next',
      );
      // The process that did see it starts from the name after it: no refusal.
      await fresh.provider.destroy(first.scope, remade.id);
      await until(async () => (await fresh.provider.list(first.scope)).length === 0, 'the second machine is gone');
      const third = await fresh.provider.create(first.scope, spec);
      assert.equal((first.server.backend.stats.byStatus[409] ?? 0) - refusedBefore, 1, 'no refusal this time');
      assert.deepEqual(
        (await machinesOf(first, spec.launchId)).map((m) => [m.id, m.name, m.state]),
        [
          [third.id, names.nameOf(2), third.state],
          [made.id, names.nameOf(0), 'destroyed'],
          [remade.id, names.nameOf(1), 'destroyed'],
        ],
      );
      assert.deepEqual(
        first.server.backend.stats.creates.filter((c) => c.launchId === spec.launchId).map((c) => c.duplicateOf),
        [null, null, null],
        'three machines, each made while the launch had no other',
      );
    } finally {
      await first.close();
      await fresh.close();
    }
  });
});
