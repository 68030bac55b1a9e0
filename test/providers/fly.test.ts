// Size: ~700 lines: one suite over one rig (sim serve on loopback), one `describe` per Fly behaviour below.
// The fly provider over real HTTP against `runway sim serve`'s server on 127.0.0.1: the shared
// provider contract, then what only Fly has — leases, eventual consistency, idempotent creates after
// a timeout, 429s, the token, adoption of a fleet flyctl deployed, and the configs runway sends.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { ScaledClock } from '../../src/domain/clock.js';
import { ProviderError } from '../../src/providers/contract.js';
import { FlyApiClient } from '../../src/providers/fly/api-client.js';
import type { FlyLease, FlyMachine } from '../../src/providers/fly/fly-types.js';
import { mapHealth, parseImageRef, releaseOf } from '../../src/providers/fly/machine-mapping.js';
import { openFlySession } from '../../src/providers/fly/session.js';
import { FlyToken, readFlyToken } from '../../src/providers/fly/token.js';
import { ProviderSetupError } from '../../src/providers/session.js';
import { startSimServer } from '../../src/providers/sim/serve/sim-server.js';
import { StoreError } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';
import { assertRejects, runProviderContract } from './contract-suite.js';
import { until } from '../support/wait.js';
import { closeSharedServer, flyHarness, flyRig, raw, sharedServer, SPEED, TOKEN } from './fly-harness.js';

after(() => closeSharedServer());

runProviderContract('fly → sim serve (HTTP)', flyHarness());

const healthyOn = (m: { release: string; instanceVersion: string }) => ({
  state: 'started' as const,
  release: m.release,
  instanceVersion: m.instanceVersion,
  healthy: true,
});
let launches = 0;
const spec = (
  over: Partial<{
    release: string;
    role: 'serving' | 'green' | 'release-command';
    cordoned: boolean;
    image: string;
  }> = {},
) => ({
  group: 'web',
  release: 'v1',
  role: 'serving' as const,
  cordoned: false,
  launchId: `fly-test:${++launches}`,
  ...over,
});

describe('fly provider: leases', () => {
  it('a lease a killed runway run of the same environment left on this host is cleared, not waited out; one from another host is waited for', async () => {
    const own = (pid: number, host: string, app: string) => `runway ${app} pid ${pid}@${host} own123`;
    const rig = await flyRig({ leaseWaitMs: 3_000, leaseDescription: own(process.pid, hostname(), 'shop/staging') });
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 2 }], release: 'v1' });
      const [m, other] = await rig.provider.list(rig.scope);
      assert.ok(m && other);
      const dead = spawnSync(process.execPath, ['-e', '']).pid!;
      const take = async (id: string, description: string) => {
        const r = await raw<FlyLease>(rig.server, 'POST', `/v1/apps/${rig.app}/machines/${id}/lease`, {
          body: { ttl: 3600, description },
        });
        assert.equal(r.status, 200);
      };
      await take(m.id, own(dead, hostname(), 'shop/staging').replace('own123', 'k1ll3d'));
      await take(other.id, own(dead, 'another-host', 'shop/staging').replace('own123', 'elsew1'));
      await rig.provider.uncordon(rig.scope, m.id);
      assert.equal(rig.fly.leaseStats.waitedForOthers, 0, "the dead run's lease was not waited for");
      assert.equal(rig.fly.leaseStats.cleared, 1);
      await assertRejects(rig.provider.uncordon(rig.scope, other.id), 'conflict');
      // (Not waitedForOthers: on a loaded machine lease_wait, 120 ms real, can pass before the first sleep.)
      assert.equal(rig.fly.leaseStats.cleared, 1, 'a run on another host cannot be judged: not cleared');
    } finally {
      await rig.close();
    }
  });

  it("the lease Fly handed a killed run of the same deploy with a machine it created is cleared; another deploy's is waited for", async () => {
    const rig = await flyRig({ leaseWaitMs: 3_000 });
    try {
      // What a killed run left: machines it created with lease_ttl, whose answers (and nonces) died with it.
      const createdFor = async (deployId: string) => {
        const metadata = { runway_group: 'web', runway_release: 'v2', runway_created_for: deployId };
        const r = await raw<FlyMachine>(rig.server, 'POST', `/v1/apps/${rig.app}/machines`, {
          body: { config: { image: `registry.fly.io/${rig.app}:v2`, metadata }, lease_ttl: 3600 },
        });
        assert.equal(r.status, 200);
        assert.ok(r.body.nonce, 'the create handed out a lease');
        return r.body.id;
      };
      const ours = await createdFor('dep-7');
      const theirs = await createdFor('dep-6');
      rig.provider.workingFor!('dep-7');
      await rig.provider.uncordon(rig.scope, ours);
      assert.equal(rig.fly.leaseStats.waitedForOthers, 0, "the deploy's own create lease was not waited for");
      assert.equal(rig.fly.leaseStats.cleared, 1);
      await assertRejects(rig.provider.uncordon(rig.scope, theirs), 'conflict');
      assert.equal(rig.fly.leaseStats.cleared, 1, "another deploy's machine: its lease is not cleared");
      // runway's own creates say which deploy made the machine (an update does not change it).
      const made = await rig.provider.create(rig.scope, { ...spec(), deployId: 'dep-7' });
      await rig.provider.update(rig.scope, made.id, { release: 'v2', deployId: 'dep-8' });
      const { body } = await raw<FlyMachine>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${made.id}`);
      assert.equal(body.config?.metadata?.runway_created_for, 'dep-7');
      assert.equal(body.config?.metadata?.runway_deploy, 'dep-8');
    } finally {
      await rig.close();
    }
  });

  it('holds a lease while it works on a machine, refreshes it past its TTL, releases it when idle and on close', async () => {
    // 60 simulated seconds, 2.4 real ones at speed 25: the server lets a lease lapse on its own clock, and a
    // 4 s TTL (160 real ms) was lost whenever a busy machine held up a refresh that long (found by test:soak).
    const rig = await flyRig({ leaseTtlMs: 60_000 });
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 2 }], release: 'v1' });
      const [m, other] = await rig.provider.list(rig.scope);
      assert.ok(m && other);
      const updated = await rig.provider.update(rig.scope, m.id, { release: 'v-broken' });
      // The lease is looked at while a wait (on a release that never passes checks) keeps the machine
      // in use, until the test ends it: the lease of an idle machine goes after a refresh period or two.
      const waiting = new AbortController();
      const wait = rig.provider.waitFor(rig.scope, m.id, healthyOn(updated), 3_600_000, waiting.signal);
      const lease = await raw<FlyLease>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m.id}/lease`);
      assert.equal(lease.status, 200);
      assert.match(lease.body.data!.description ?? '', /^runway session/);
      // Past its TTL (a refresh every third of one): the lease survives (refreshed), under the same nonce.
      for (const cap = rig.clock.now() + 3_600_000; rig.fly.leaseStats.refreshed < 4;) {
        assert.ok(rig.clock.now() < cap, `refreshed ${rig.fly.leaseStats.refreshed} times in a simulated hour`);
        await rig.clock.sleep(1_000);
      }
      const during = await raw<FlyLease>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m.id}/lease`);
      assert.equal(during.status, 200, 'still leased after its TTL');
      assert.equal(during.body.data!.nonce, lease.body.data!.nonce, 'the same lease, refreshed');
      waiting.abort(new Error('the test is done waiting'));
      await assert.rejects(wait, /the test is done waiting/);
      // Idle now: released after a refresh period or two, while the provider stays open (the cap is for a hang).
      const idleSince = rig.clock.now();
      while ((await raw(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m.id}/lease`)).status !== 404) {
        assert.ok(rig.clock.now() - idleSince < 3_600_000, 'the idle lease is still held after a simulated hour');
        await rig.clock.sleep(1_000);
      }
      assert.equal(rig.fly.leases.size, 0);
      assert.ok(rig.fly.leaseStats.released >= 1);
      // A change on the other machine, then close: nothing may stay leased.
      await rig.provider.cordon(rig.scope, other.id);
      assert.equal((await raw(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${other.id}/lease`)).status, 200);
      await rig.close();
      assert.equal(
        (await raw(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${other.id}/lease`)).status,
        404,
        'released on close',
      );
    } finally {
      await rig.close();
    }
  });

  it('waits for a lease held by someone else (409 held by) until it lapses, then changes the machine', async () => {
    const rig = await flyRig({ leaseWaitMs: 20_000 });
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await rig.provider.list(rig.scope);
      const foreign = await raw<FlyLease>(rig.server, 'POST', `/v1/apps/${rig.app}/machines/${m!.id}/lease?ttl=5`, {
        body: { description: 'flyctl deploy' },
      });
      assert.equal(foreign.status, 200, '200, as the spec declares for Machines_create_lease');
      const t0 = rig.clock.now();
      const updated = await rig.provider.update(rig.scope, m!.id, { release: 'v2' });
      const waited = rig.clock.now() - t0;
      assert.equal(updated.release, 'v2');
      assert.ok(waited >= 3_500, `waited for the foreign lease to lapse (${waited} ms of its 5 s)`);
      assert.ok(waited < 19_000, `but not for the whole lease_wait (${waited} ms)`);
      assert.equal(rig.fly.leaseStats.waitedForOthers, 1);
      assert.equal(rig.fly.leaseStats.cleared, 0, 'a foreign lease is never cleared without force');
    } finally {
      await rig.close();
    }
  });

  it('fails with a conflict naming the holder when the lease outlasts lease_wait, changing nothing; force clears it', async () => {
    const rig = await flyRig({ leaseWaitMs: 1_500 });
    const forced = await flyRig({ forceLeases: true, createApp: false });
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await rig.provider.list(rig.scope);
      await raw(rig.server, 'POST', `/v1/apps/${rig.app}/machines/${m!.id}/lease?ttl=300`, {
        body: { description: 'a human with flyctl' },
      });
      const t0 = rig.clock.now();
      const error = await assertRejects(rig.provider.update(rig.scope, m!.id, { release: 'v2' }), 'conflict');
      assert.ok(rig.clock.now() - t0 >= 1_500, 'it waited lease_wait before giving up');
      assert.match(error.message, new RegExp(`machine ${m!.id} is leased by .*a human with flyctl`));
      assert.match(error.message, /waited \d+\.\d s for it \(lease_wait 1\.5 s\)/);
      assert.equal((await rig.provider.get(rig.scope, m!.id)).release, 'v1', 'nothing changed');

      // The same machine through a provider that may clear foreign leases.
      const updated = await forced.provider.update(rig.scope, m!.id, { release: 'v2' });
      assert.equal(updated.release, 'v2');
      assert.equal(forced.fly.leaseStats.cleared, 1);
    } finally {
      await rig.close();
      await forced.close();
    }
  });

  it('re-takes a lease it lost (cleared behind its back) once, and the change goes through', async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await rig.provider.list(rig.scope);
      await rig.provider.cordon(rig.scope, m!.id);
      const lease = await raw<FlyLease>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m!.id}/lease`);
      // Someone runs `fly machine leases clear`.
      assert.equal(
        (
          await raw(rig.server, 'DELETE', `/v1/apps/${rig.app}/machines/${m!.id}/lease`, {
            nonce: lease.body.data!.nonce,
          })
        ).status,
        200,
      );
      const back = await rig.provider.uncordon(rig.scope, m!.id);
      assert.equal(back.cordoned, false);
      assert.equal(
        (await raw<FlyMachine>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m!.id}`)).body.cordoned,
        false,
      );
      assert.ok(rig.fly.leaseStats.lost >= 1);
    } finally {
      await rig.close();
    }
  });
});

describe('fly provider: API behaviour', () => {
  it('absorbs the 404s of a just-created machine (eventual consistency), and only those', async () => {
    const server = await sharedServer();
    // Simulated time (SPEED times the wall clock): the window must outlast the wall time between a create
    // and the next call even on a loaded machine (2 s, i.e. 80 real ms, did not; found by test:soak), and
    // the grace must outlast the window: 2 minutes = 4.8 real s, and 10 minutes.
    server.backend.setFaults({ eventualConsistencyMs: 120_000 });
    const rig = await flyRig({ consistencyGraceMs: 600_000 });
    const impatient = await flyRig({ consistencyGraceMs: 0, createApp: false });
    try {
      const created = await rig.provider.create(rig.scope, spec());
      const ready = await rig.provider.waitFor(rig.scope, created.id, healthyOn(created), 3_600_000);
      assert.equal(ready.id, created.id);
      assert.ok(rig.fly.stats.notFoundAbsorbed > 0, 'some 404s were absorbed');

      const other = await impatient.provider.create(rig.scope, spec());
      await assertRejects(impatient.provider.get(rig.scope, other.id), 'not_found');
      // A machine that never existed is not absorbed, even with a grace period.
      await assertRejects(rig.provider.get(rig.scope, '0000000000dead'), 'not_found');
    } finally {
      server.backend.setFaults({ eventualConsistencyMs: 0 });
      await rig.close();
      await impatient.close();
    }
  });

  it('a create whose answer timed out is not repeated: the retry finds the machine by its launch id', async () => {
    const server = await sharedServer();
    const rig = await flyRig({ requestTimeoutMs: 2_000 });
    try {
      server.backend.setFaults({ createDelayMs: 6_000, createDelayCount: 1 });
      const s = spec();
      const made = await rig.provider.create(rig.scope, s);
      assert.equal(made.launchId, s.launchId);
      assert.ok(rig.provider.stats.retriesByKind.timeout >= 1, 'the first attempt timed out and was retried');
      assert.equal(rig.fly.stats.createsRecovered, 1, 'the retry found the machine the first attempt made');
      const all = await rig.provider.list(rig.scope);
      assert.equal(all.filter((m) => m.launchId === s.launchId).length, 1, 'exactly one machine for the launch');
      assert.equal(all.length, 1);
      // The lost answer carried the lease the create handed out (lease_ttl): the re-read takes it up,
      // so the machine's first change does not wait for runway's own lease to run out (lease_wait).
      await rig.provider.uncordon(rig.scope, made.id);
      assert.equal(rig.fly.leaseStats.waitedForOthers, 0, 'no wait for the lease the lost create was given');
      assert.equal(rig.fly.leaseStats.adopted, 1, 'the lease of the lost create was taken up');
    } finally {
      server.backend.setFaults({ createDelayCount: 0 });
      await rig.close();
    }
  });

  it('a create the API applies after runway sent it again is refused for its name: one machine for the launch', async () => {
    // Its own, slower server: at 25x a loaded machine's scheduling lag alone is simulated seconds.
    const speed = 4;
    const server = await startSimServer({ clock: new ScaledClock(speed), token: TOKEN, sim: { seed: 3 } });
    // Looked for after the timeout and one grace (~5 s), then sent again; the lost attempt lands at 20 s.
    // Before machine names: two machines.
    const rig = await flyRig({ server, speed, requestTimeoutMs: 4_000, consistencyGraceMs: 1_000 });
    try {
      server.backend.setFaults({ createDelayMs: 20_000, createDelayCount: 1, createLandsLate: true });
      const s = spec();
      const made = await rig.provider.create(rig.scope, s);
      assert.ok(rig.provider.stats.retriesByKind.timeout >= 1, 'the first attempt timed out and was retried');
      assert.equal(rig.fly.stats.createsRecovered, 0, 'the re-sent create made the machine');
      await until(() => (server.backend.stats.byStatus[409] ?? 0) >= 1, 'the late create was refused (409)');
      const all = await rig.provider.list(rig.scope);
      assert.deepEqual(
        all.map((m) => [m.id, m.launchId]),
        [[made.id, s.launchId]],
        'exactly one machine for the launch',
      );
      assert.equal(server.backend.stats.creates.length, 1, 'the late create made nothing');
    } finally {
      await rig.close();
      await server.close();
    }
  });

  it('honours 429s: an unthrottled burst is refused and retried after Retry-After; throttled, the same burst waits instead', async () => {
    // Its own, slower server: at 25x a few ms of scheduling jitter are a simulated second, and this
    // test counts refusals that depend on when requests arrive.
    const speed = 4;
    const server = await startSimServer({
      clock: new ScaledClock(speed),
      token: TOKEN,
      sim: { seed: 2, rateLimits: true },
    });
    const burst = async (throttle: boolean) => {
      const rig = await flyRig({ server, speed, ...(throttle ? {} : { resilient: { limits: false } }) });
      try {
        const t0 = rig.clock.now();
        const made = await Promise.all(Array.from({ length: 6 }, () => rig.provider.create(rig.scope, spec())));
        const elapsed = rig.clock.now() - t0;
        assert.equal(new Set(made.map((m) => m.id)).size, 6, 'six machines, each made once');
        assert.equal((await rig.provider.list(rig.scope)).length, 6);
        // Creates: 1/s per app, burst 3 → the 6th cannot be made before ~3 s, refused or not.
        assert.ok(elapsed >= 2_500, `6 creates took ${elapsed} ms of simulated time`);
        return {
          refused: rig.client.stats.rateLimited,
          retried: rig.provider.stats.retriesByKind.rate_limited,
          throttled: rig.provider.stats.throttled,
        };
      } finally {
        await rig.close();
      }
    };
    try {
      const unthrottled = await burst(false);
      assert.ok(
        unthrottled.refused >= 3 && unthrottled.retried === unthrottled.refused,
        `refused ${unthrottled.refused}, retried ${unthrottled.retried}`,
      );
      assert.ok((server.backend.stats.byStatus['429'] ?? 0) >= 3, 'the server answered 429');
      const throttled = await burst(true);
      assert.ok(throttled.throttled >= 3, `the client waited for its own tokens (${throttled.throttled} times)`);
      // Client and server count on two clocks across a network, so a request that arrives a few ms early
      // may still be refused; never one refusal per request beyond the burst, as without throttling.
      assert.ok(
        throttled.refused < unthrottled.refused,
        `throttled ${throttled.refused} 429s, unthrottled ${unthrottled.refused}`,
      );
    } finally {
      await server.close();
    }
  });

  it('adopts a fleet deployed by flyctl (only fly_* metadata), and leaves it readable by flyctl', async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 2 }], release: 'v7', style: 'flyctl' });
      rig.server.backend.seed(rig.app, {
        groups: [{ name: 'worker', count: 1 }],
        release: 'v7',
        style: 'flyctl',
        image: 'registry.fly.io/legacy:latest',
      });
      const fleet = await rig.provider.list(rig.scope);
      assert.equal(fleet.length, 3);
      for (const m of fleet) {
        assert.equal(m.release, 'v7', 'release from the image tag, or fly_release_version when the tag says nothing');
        assert.equal(m.role, 'serving');
        assert.equal(m.launchId, undefined);
      }
      assert.deepEqual(fleet.map((m) => m.group).sort(), ['web', 'web', 'worker']);
      const web = fleet.find((m) => m.group === 'web')!;
      const updated = await rig.provider.update(rig.scope, web.id, {
        release: 'v8',
        image: 'registry.fly.io/legacy:v8',
        role: 'serving',
        deployId: 'dep_1',
      });
      await rig.provider.waitFor(rig.scope, web.id, healthyOn(updated), 60_000);
      const { body } = await raw<FlyMachine>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${web.id}`);
      const md = body.config!.metadata!;
      assert.equal(body.config!.image, 'registry.fly.io/legacy:v8');
      assert.equal(md.runway_release, 'v8');
      assert.equal(md.runway_group, 'web');
      assert.equal(md.runway_deploy, 'dep_1');
      // flyctl's own keys survive, so `fly status` still groups and lists the machine.
      assert.equal(md.fly_process_group, 'web');
      assert.equal(md.fly_platform_version, 'v2');
      assert.equal(md.fly_release_id, 'rel_v7');
      assert.deepEqual(
        body.config!.services,
        (
          await raw<FlyMachine>(
            rig.server,
            'GET',
            `/v1/apps/${rig.app}/machines/${fleet.find((m) => m.id !== web.id && m.group === 'web')!.id}`,
          )
        ).body.config!.services,
        'services kept through the update',
      );
    } finally {
      await rig.close();
    }
  });

  it('does not believe runway_release once someone changed the image outside runway', async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await rig.provider.list(rig.scope);
      const { body } = await raw<FlyMachine>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${m!.id}`);
      // `fly machine update --image …:v9`: the config changes, runway's metadata stays.
      const changed = await raw(rig.server, 'POST', `/v1/apps/${rig.app}/machines/${m!.id}`, {
        body: { config: { ...body.config, image: 'registry.fly.io/x:v9' } },
      });
      assert.equal(changed.status, 200);
      assert.equal((await rig.provider.get(rig.scope, m!.id)).release, 'v9');
    } finally {
      await rig.close();
    }
  });

  it('sends what each role needs: the release image, greens without traffic, release commands run once', async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      await rig.provider.list(rig.scope); // runway has seen a web machine: new ones copy its config
      const green = await rig.provider.create(
        rig.scope,
        spec({ release: 'v2', role: 'green', cordoned: true, image: 'ghcr.io/acme/shop@sha256:abc' }),
      );
      const g = (await raw<FlyMachine>(rig.server, 'GET', `/v1/apps/${rig.app}/machines/${green.id}`)).body;
      assert.equal(g.config!.image, 'ghcr.io/acme/shop@sha256:abc');
      assert.equal(g.cordoned, true, 'created with skip_service_registration');
      assert.equal(g.config!.metadata!.runway_role, 'green');
      assert.equal(g.config!.metadata!.runway_release, 'v2');
      assert.ok(
        Array.isArray(g.config!.services) && g.config!.services.length > 0,
        "the green has its group's services, registered on uncordon",
      );
      assert.equal(green.release, 'v2');

      const rc = await rig.provider.create(rig.scope, {
        ...spec({ release: 'v2', role: 'release-command', cordoned: true }),
        env: { RAILS_ENV: 'production' },
        command: 'bin/rails db:migrate',
      });
      const list = (await raw<FlyMachine[]>(rig.server, 'GET', `/v1/apps/${rig.app}/machines`)).body;
      const r = list.find((fm) => fm.id === rc.id);
      assert.ok(r, 'the release command machine is there until it has run');
      assert.equal(r.config!.auto_destroy, true);
      assert.deepEqual(r.config!.restart, { policy: 'no' });
      assert.equal(r.config!.env!.RELEASE_COMMAND, '1');
      assert.equal(r.config!.env!.RAILS_ENV, 'production');
      assert.deepEqual(r.config!.init!.cmd, ['bin/rails', 'db:migrate']);
      assert.equal(r.config!.services, undefined, 'no services');
      assert.equal(r.config!.checks, undefined, 'no checks: it runs once');
      assert.deepEqual(r.config!.guest, g.config!.guest, "a serving machine's size: it runs the app's code");
      assert.equal(r.config!.metadata!.fly_process_group, 'fly_app_release_command', 'flyctl sees a release command');
      assert.equal(rc.role, 'release-command');
      const done = await rig.provider.waitFor(rig.scope, rc.id, { state: 'destroyed' }, 60_000);
      assert.equal(done.state, 'destroyed');

      // A release command that fails: the wait fails fast, and its exit code comes from Fly's exit event.
      const bad = await rig.provider.create(rig.scope, {
        ...spec({ release: 'v-bootfail', role: 'release-command', cordoned: true }),
        command: 'bin/migrate',
      });
      await assertRejects(rig.provider.waitFor(rig.scope, bad.id, { state: 'destroyed' }, 60_000), 'machine_failed');
      const failed = await rig.provider.get(rig.scope, bad.id);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.exitCode, 1);
    } finally {
      await rig.close();
    }
  });

  it('observes changes as events (Fly pushes none)', async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await rig.provider.list(rig.scope);
      const types: string[] = [];
      const off = rig.provider.subscribe!(rig.scope, (e) => types.push(`${e.type}:${e.machine.state}`));
      const updated = await rig.provider.update(rig.scope, m!.id, { release: 'v2' });
      await rig.provider.waitFor(rig.scope, m!.id, healthyOn(updated), 60_000);
      off();
      assert.ok(types.includes('updated:stopping'), types.join(' '));
      assert.ok(
        types.some((t) => t.startsWith('health:started') || t === 'state:started'),
        types.join(' '),
      );
    } finally {
      await rig.close();
    }
  });
});

describe('fly provider: the token and setup errors', () => {
  const SECRET = 'fo1_very-secret-token-value-0042';

  it('never shows the token: not in 401s, network errors, JSON or inspect', async () => {
    const rig = await flyRig({ token: SECRET });
    try {
      const e401 = await assertRejects(rig.provider.list(rig.scope), 'unauthorized');
      assert.equal(e401.details.status, 401);
      assert.match(e401.message, /401/);
      assert.ok(
        !e401.message.includes(SECRET) && !JSON.stringify(e401).includes(SECRET) && !inspect(e401).includes(SECRET),
      );
      assert.equal(rig.provider.stats.retries, 0, 'a 401 is not retried');
    } finally {
      await rig.close();
    }
    const clock = new ScaledClock(SPEED);
    const token = new FlyToken(SECRET);
    const dead = new FlyApiClient({ baseUrl: 'http://127.0.0.1:9', token, clock, timeoutMs: 5_000 });
    const unreachable = await dead
      .send({ method: 'GET', path: `/v1/apps/${SECRET}/machines`, what: `list ${SECRET}`, label: 'list' })
      .then(
        () => assert.fail('expected a network error'),
        (e: unknown) => e,
      );
    assert.ok(unreachable instanceof ProviderError && unreachable.kind === 'unavailable', String(unreachable));
    assert.match(unreachable.message, /cannot reach the Machines API at http:\/\/127\.0\.0\.1:9/);
    assert.ok(!unreachable.message.includes(SECRET), unreachable.message);
    await dead.close();
    assert.ok(
      !JSON.stringify({ token }).includes(SECRET) &&
        !inspect(token).includes(SECRET) &&
        !String(token).includes(SECRET),
    );
  });

  async function open(source: string, env: NodeJS.ProcessEnv) {
    const config = parseConfig(source, '/tmp/runway-fly-test/runway.toml');
    const store = await openStore(':memory:', '/tmp');
    try {
      return await openFlySession({ config, env: config.environments.staging!, store, processEnv: env });
    } finally {
      await store.close();
    }
  }

  const toml = (url: string, extra = '') =>
    `[app]\nname = "shop"\n[environments.staging]\nprovider = "fly"\n[environments.staging.fly]\napi_url = "${url}"\ntime_scale = ${SPEED}\n${extra}`;

  it('a refused token is one clear setup error (exit 2), without the token', async () => {
    const server = await sharedServer();
    server.backend.ensureApp('shop-staging');
    const error = await open(toml(server.url), { FLY_API_TOKEN: SECRET }).then(
      () => assert.fail('expected a setup error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProviderSetupError, String(error));
    assert.match(
      error.message,
      /refused the token \(401\).*FLY_API_TOKEN or \[environments\.staging\.fly\] token_file/,
    );
    assert.ok(!error.message.includes(SECRET));
  });

  it('an unknown app is a setup error naming it; a missing token says where to put one', async () => {
    const server = await sharedServer();
    const unknown = await open(toml(server.url, 'app = "no-such-app"'), { FLY_API_TOKEN: TOKEN }).catch(
      (e: unknown) => e,
    );
    assert.ok(unknown instanceof ProviderSetupError);
    assert.match(unknown.message, /Fly app "no-such-app" does not exist at http:\/\/127\.0\.0\.1:\d+/);
    const missing = await open(toml(server.url), {}).catch((e: unknown) => e);
    assert.ok(missing instanceof ProviderSetupError);
    assert.match(missing.message, /no Fly API token: set FLY_API_TOKEN or \[environments\.staging\.fly\] token_file/);
  });

  it('opens a working session with the token from token_file, on the default app name', async () => {
    const server = await sharedServer();
    server.backend.ensureApp('shop-staging');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'runway-fly-token-'));
    writeFileSync(join(dir, 'fly-token'), `${TOKEN}\n`);
    assert.equal(
      readFlyToken({ tokenFile: 'fly-token', dir, processEnv: {} }).redact(`x ${TOKEN} y`),
      'x [redacted] y',
    );
    const config = parseConfig(toml(server.url, 'token_file = "fly-token"'), join(dir, 'runway.toml'));
    const store = await openStore(':memory:', dir);
    const session = await openFlySession({
      config,
      env: config.environments.staging!,
      store,
      processEnv: { FLY_API_TOKEN: 'ignored-wrong' },
    });
    try {
      assert.deepEqual(await session.provider.list({ app: 'shop', env: 'staging' }), []);
      assert.ok(session.apiStats().calls >= 2, 'the app check and the list went over the wire');
    } finally {
      await session.close();
      await store.close();
    }
  });
});

describe('fly provider: the store holding the secrets', () => {
  it('unreachable as a change reads the secrets: the change is retried, not refused (found by bench:chaos pg-restart)', async () => {
    const server = await sharedServer();
    server.backend.ensureApp('vault-staging');
    const source = `[app]\nname = "vault"\n[environments.staging]\nprovider = "fly"\n[environments.staging.fly]\napi_url = "${server.url}"\ntime_scale = ${SPEED}\n`;
    const config = parseConfig(source, '/tmp/runway-fly-test/runway.toml');
    const real = await openStore(':memory:', '/tmp');
    let refusals = 2;
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'listSecrets' || typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          refusals-- > 0
            ? Promise.reject(new StoreError('unavailable', 'store unavailable: connect ECONNREFUSED (test)'))
            : value.apply(target, args);
      },
    });
    const session = await openFlySession({
      config,
      env: config.environments.staging!,
      store,
      processEnv: { FLY_API_TOKEN: TOKEN },
    });
    try {
      server.backend.seed('vault-staging', { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const scope = { app: 'vault', env: 'staging' };
      const [m] = await session.provider.list(scope);
      const updated = await session.provider.update(scope, m!.id, { release: 'v2' });
      assert.equal(updated.release, 'v2');
      assert.equal(refusals, -1, 'the secrets were read again after the store answered');
    } finally {
      await session.close();
      await real.close();
    }
  });
});

describe('fly machine JSON → runway machine', () => {
  it('maps checks to health, and image references to their parts', () => {
    const fm = (state: string, statuses: string[]): FlyMachine => ({
      id: 'm',
      state,
      checks: statuses.map((status, i) => ({ name: `c${i}`, status })),
    });
    assert.equal(mapHealth(fm('started', ['passing', 'passing'])), 'passing');
    assert.equal(mapHealth(fm('started', ['passing', 'critical'])), 'critical');
    assert.equal(mapHealth(fm('started', ['passing', 'warning'])), 'unknown');
    assert.equal(mapHealth(fm('started', [])), 'passing', 'nothing to check');
    const compat: FlyMachine = {
      id: 'm',
      state: 'started',
      checks: [
        { name: 'bg_deployments_compat_http', status: 'critical' },
        { name: 'up', status: 'passing' },
      ],
    };
    assert.equal(mapHealth(compat), 'passing', 'flaps compat checks ignored');
    assert.equal(mapHealth(fm('starting', ['passing'])), 'unknown');
    assert.equal(mapHealth(fm('failed', [])), 'critical');
    assert.deepEqual(parseImageRef('registry.fly.io/app:deployment-01H'), {
      registry: 'registry.fly.io',
      repository: 'app',
      tag: 'deployment-01H',
    });
    assert.deepEqual(parseImageRef('nginx'), { registry: 'registry-1.docker.io', repository: 'library/nginx' });
    assert.deepEqual(parseImageRef('localhost:5000/a/b:1@sha256:ff'), {
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: '1',
      digest: 'sha256:ff',
    });
    assert.equal(
      releaseOf({
        id: 'm',
        state: 'started',
        config: { image: 'registry.fly.io/app:deployment-01H', metadata: { fly_release_version: '12' } },
      }),
      'deployment-01H',
    );
    assert.equal(
      releaseOf({
        id: 'm',
        state: 'started',
        config: { image: 'registry.fly.io/app:latest', metadata: { fly_release_version: '12' } },
      }),
      'v12',
    );
  });
});
