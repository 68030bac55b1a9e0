// Volumes and regions on Fly, end to end through the engine: runDeploy → the fly provider → real HTTP →
// `runway sim serve`, which models Fly's volumes (one region, one machine at a time) and regions.
// A fleet whose web machines have volumes, spread over ord, iad and cdg, is deployed under each
// strategy: every machine ends attached to the volume it had and nothing is created without one; with
// new_volumes = "fork", stand-ins get forks of the volumes of the machines they replace, in their
// region; with region_order, the first region is done before the rest, and an abort between regions
// leaves the rest untouched.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { StrategyName, StrategySettings } from '../../src/domain/types.js';
import { runDeploy } from '../../src/engine/executor.js';
import type { ProgressEvent } from '../../src/engine/progress.js';
import type { DeploySummary } from '../../src/engine/summary.js';
import { ProviderError } from '../../src/providers/contract.js';
import type { FlyMachine, FlyVolume } from '../../src/providers/fly/fly-types.js';
import type { VolumeRecord } from '../../src/providers/sim/serve/volumes.js';
import { openStore } from '../../src/store/open-store.js';
import { closeSharedServer, flyRig, raw, type FlyRig } from './fly-harness.js';

after(closeSharedServer);

const REGIONS = ['ord', 'iad', 'cdg'];
const GROUPS = [
  { name: 'web', count: 6 },
  { name: 'worker', count: 3 },
];

function settings(strategy: StrategyName, over: Partial<StrategySettings> = {}): StrategySettings {
  // As runway.toml's defaults resolve them: bluegreen and waves keep full capacity (max_unavailable 0).
  const full = strategy === 'bluegreen' || strategy === 'waves';
  return {
    strategy,
    maxUnavailable: full ? { count: 0 } : { fraction: 0.33 },
    maxSurge:
      strategy === 'bluegreen'
        ? { fraction: 1 }
        : strategy === 'canary'
          ? { count: 1 }
          : strategy === 'waves'
            ? { fraction: 0.34 }
            : { count: 0 },
    maxConcurrency: 32,
    waitTimeoutMs: 120_000,
    convergenceTimeoutMs: 180_000,
    onFailure: 'rollback',
    pauseBeforeCutover: false,
    drainTimeoutMs: 1_000,
    ...over,
  };
}

let deploys = 0;

async function deploy(
  rig: FlyRig,
  release: string,
  s: StrategySettings,
  options: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void } = {},
): Promise<DeploySummary> {
  const store = await openStore(':memory:', process.cwd());
  try {
    for (const version of ['v1', 'v2'])
      await store.createRelease(rig.scope.app, {
        version,
        image: `registry.fly.io/${rig.app}:${version}`,
        createdAtMs: 0,
      });
    const deployId = `dep_vol${++deploys}`;
    await store.createDeploy({
      id: deployId,
      ...rig.scope,
      release,
      previousRelease: null,
      strategy: s.strategy,
      initiator: 'test',
      responsible: 'test',
      trigger: 'cli',
      reason: null,
      plan: null,
      createdAtMs: rig.clock.now(),
    });
    const target = { version: release, image: `registry.fly.io/${rig.app}:${release}`, createdAtMs: 0 };
    return await runDeploy(
      {
        provider: rig.provider,
        store,
        clock: rig.clock,
        apiStats: () => ({ calls: rig.provider.stats.totalCalls, rateLimited: 0 }),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      },
      {
        deployId,
        scope: rig.scope,
        target,
        groups: GROUPS,
        settings: s,
        findRelease: async (v) => ({ version: v, image: `registry.fly.io/${rig.app}:${v}`, createdAtMs: 0 }),
      },
      options.signal,
    );
  } finally {
    await store.close();
  }
}

/** A fresh app: web (each machine with its own `data` volume) and worker, round robin over ord, iad, cdg, on v1. */
async function seeded(): Promise<FlyRig> {
  const rig = await flyRig();
  rig.server.backend.seed(rig.app, {
    groups: GROUPS,
    release: 'v1',
    env: rig.scope.env,
    regions: REGIONS,
    volumes: { name: 'data', path: '/data', size_gb: 3, groups: ['web'] },
  });
  return rig;
}

async function machines(rig: FlyRig): Promise<FlyMachine[]> {
  const { status, body } = await raw<FlyMachine[]>(rig.server, 'GET', `/v1/apps/${rig.app}/machines`);
  assert.equal(status, 200);
  return body.filter((m) => m.state !== 'destroyed');
}

async function volumes(rig: FlyRig): Promise<VolumeRecord[]> {
  return (await raw<VolumeRecord[]>(rig.server, 'GET', `/_sim/apps/${rig.app}/volumes`)).body;
}

const group = (m: FlyMachine) => m.config?.metadata?.runway_group;
const mounted = (m: FlyMachine) => (m.config?.mounts ?? []).map((x) => x.volume);

/** machine id → its volumes, and region → count, per group. */
function layout(list: FlyMachine[]) {
  const web = new Map(list.filter((m) => group(m) === 'web').map((m) => [m.id, mounted(m).join(',')]));
  const regions: Record<string, number> = {};
  for (const m of list) regions[`${group(m)}@${m.region}`] = (regions[`${group(m)}@${m.region}`] ?? 0) + 1;
  return { web, regions };
}

describe('fly: machines with volumes are never given machines without them', () => {
  for (const strategy of ['immediate', 'rolling', 'bluegreen', 'canary', 'waves'] as const) {
    it(`${strategy}: every machine ends attached to the volume it had; no machine or volume created for web`, async () => {
      const rig = await seeded();
      try {
        const before = layout(await machines(rig));
        const volumesBefore = await volumes(rig);
        assert.equal(before.web.size, 6);
        assert.ok(
          [...before.web.values()].every((v) => v.startsWith('vol_')),
          'seeded web machines have volumes',
        );
        const created: string[] = [];
        const summary = await deploy(rig, 'v2', settings(strategy), {
          onProgress: (e) => {
            if (e.type === 'step' && e.status === 'started' && e.step.kind === 'create') created.push(e.step.group);
          },
        });
        assert.equal(summary.status, 'succeeded', summary.error ?? undefined);

        const list = await machines(rig);
        const after = layout(list);
        assert.deepEqual(after.web, before.web, 'the same web machines, each with its own volume');
        assert.deepEqual(after.regions, before.regions, 'every region keeps its machines of each group');
        assert.ok(
          list.every((m) => m.config?.metadata?.runway_release === 'v2' && m.state === 'started' && !m.cordoned),
          'all on v2, in traffic',
        );
        assert.ok(!created.includes('web'), `no web machine created (created: ${created.join(', ') || 'none'})`);
        const volumesAfter = await volumes(rig);
        assert.equal(volumesAfter.length, volumesBefore.length, 'no volume created');
        for (const v of volumesAfter)
          assert.equal(
            v.attached_machine_id,
            volumesBefore.find((b) => b.id === v.id)!.attached_machine_id,
            `volume ${v.id} on the machine it was on`,
          );
        // Stand-ins of worker (no volumes) go where the machines they replace were.
        if (strategy === 'bluegreen' || strategy === 'waves' || strategy === 'canary')
          assert.ok(created.includes('worker') || strategy === 'canary', `${strategy} creates worker machines`);
      } finally {
        await rig.close();
      }
    });
  }

  it('new_volumes = "fork": bluegreen greens get forks of their blue\'s volume, in its region; the old volumes stay', async () => {
    const rig = await seeded();
    try {
      const blues = (await machines(rig)).filter((m) => group(m) === 'web');
      const summary = await deploy(rig, 'v2', settings('bluegreen', { newVolumes: 'fork' }));
      assert.equal(summary.status, 'succeeded', summary.error ?? undefined);
      const list = await machines(rig);
      const greens = list.filter((m) => group(m) === 'web');
      assert.equal(greens.length, 6);
      const all = await volumes(rig);
      const byId = new Map(all.map((v) => [v.id, v]));
      const forkedFrom = new Set<string>();
      for (const g of greens) {
        assert.ok(!blues.some((b) => b.id === g.id), 'web machines are new (greens)');
        const [volume] = mounted(g);
        const v = byId.get(volume!);
        assert.ok(v?.forked_from, `green ${g.id} mounts a fork`);
        const blue = blues.find((b) => mounted(b)[0] === v.forked_from)!;
        assert.ok(blue, "forked from a blue machine's volume");
        assert.equal(g.region, blue.region, "the green runs in its blue's region");
        assert.equal(v.region, blue.region);
        assert.equal(v.name, 'data');
        assert.equal(v.size_gb, 3);
        assert.equal(v.attached_machine_id, g.id);
        forkedFrom.add(v.forked_from);
      }
      assert.equal(forkedFrom.size, 6, 'one fork per blue');
      for (const b of blues) {
        const old = byId.get(mounted(b)[0]!)!;
        assert.ok(old, "the blue's volume is kept");
        assert.equal(old.attached_machine_id, undefined, 'detached once its machine is gone');
      }
      assert.deepEqual(layout(list).regions, layout(blues.concat(list.filter((m) => group(m) === 'worker'))).regions);
    } finally {
      await rig.close();
    }
  });

  it('the fly provider refuses a stand-in for a machine with volumes unless told to fork, creating nothing', async () => {
    const rig = await seeded();
    try {
      const [web] = (await machines(rig)).filter((m) => group(m) === 'web');
      const before = (await machines(rig)).length;
      const spec = {
        group: 'web',
        release: 'v2',
        role: 'green' as const,
        cordoned: true,
        launchId: 'dep_x:web:green:0',
        deployId: 'dep_x',
        standsFor: web!.id,
      };
      await assert.rejects(rig.provider.create(rig.scope, spec), (error: unknown) => {
        assert.ok(error instanceof ProviderError);
        assert.equal(error.kind, 'bad_request');
        assert.match(
          error.message,
          new RegExp(`machine ${web!.id}, which it stands in for, mount vol_\\w+.*new_volumes = "fork"`),
        );
        return true;
      });
      assert.equal((await machines(rig)).length, before, 'no machine created');
      assert.equal((await volumes(rig)).length, 6, 'no volume created');
    } finally {
      await rig.close();
    }
  });
});

describe('sim serve: volumes as Fly has them', () => {
  it('a volume is mounted by one machine, in its region; forks copy the source; attached volumes cannot be destroyed', async () => {
    const rig = await seeded();
    try {
      const [web] = (await machines(rig)).filter((m) => group(m) === 'web');
      const volume = mounted(web!)[0]!;
      const config = { image: `registry.fly.io/${rig.app}:v1`, mounts: [{ volume, path: '/data' }] };
      const taken = await raw<{ error: string }>(rig.server, 'POST', `/v1/apps/${rig.app}/machines`, {
        body: { config, region: web!.region },
      });
      assert.equal(taken.status, 412);
      assert.match(taken.body.error, new RegExp(`volume ${volume} is attached to machine ${web!.id}`));
      const elsewhere = REGIONS.find((r) => r !== web!.region)!;
      const fork = await raw<FlyVolume>(rig.server, 'POST', `/v1/apps/${rig.app}/volumes`, {
        body: { source_volume_id: volume },
      });
      assert.equal(fork.status, 200);
      assert.deepEqual(
        [fork.body.name, fork.body.region, fork.body.size_gb, fork.body.attached_machine_id],
        ['data', web!.region, 3, undefined],
      );
      const wrongRegion = await raw<{ error: string }>(rig.server, 'POST', `/v1/apps/${rig.app}/machines`, {
        body: { config: { ...config, mounts: [{ volume: fork.body.id, path: '/data' }] }, region: elsewhere },
      });
      assert.equal(wrongRegion.status, 412);
      assert.match(wrongRegion.body.error, /is in region/);
      const ok = await raw<FlyMachine>(rig.server, 'POST', `/v1/apps/${rig.app}/machines`, {
        body: { config: { ...config, mounts: [{ volume: fork.body.id, path: '/data' }] } },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.region, web!.region, 'a machine without a region goes where its volume is');
      assert.equal(
        (await raw<FlyVolume>(rig.server, 'GET', `/v1/apps/${rig.app}/volumes/${fork.body.id}`)).body
          .attached_machine_id,
        ok.body.id,
      );
      assert.equal((await raw(rig.server, 'DELETE', `/v1/apps/${rig.app}/volumes/${fork.body.id}`)).status, 412);
      assert.equal(
        (await raw(rig.server, 'DELETE', `/v1/apps/${rig.app}/machines/${ok.body.id}?kill=true`)).status,
        200,
      );
      for (
        let i = 0;
        (await raw<FlyVolume>(rig.server, 'GET', `/v1/apps/${rig.app}/volumes/${fork.body.id}`)).body
          .attached_machine_id;
        i++
      ) {
        assert.ok(i < 200, 'the volume is detached once its machine is destroyed');
        await rig.clock.sleep(100);
      }
      assert.equal((await raw(rig.server, 'DELETE', `/v1/apps/${rig.app}/volumes/${fork.body.id}`)).status, 200);
      assert.equal((await raw(rig.server, 'GET', `/v1/apps/${rig.app}/volumes/${fork.body.id}`)).status, 404);
    } finally {
      await rig.close();
    }
  });
});

describe('fly: regions rolled in order', () => {
  it('region_order ["ord", "*"]: ord is rolled and checked first; an abort between regions leaves the rest untouched', async () => {
    const rig = await seeded();
    try {
      const before = await machines(rig);
      const controller = new AbortController();
      const order: string[] = [];
      const onProgress = (e: ProgressEvent) => {
        if (e.type !== 'wave-start' || e.phase !== 'deploy') return;
        order.push((e.wave.regions ?? ['?']).join('+'));
        // The first wave beyond ord: stop here.
        if (!e.wave.regions?.includes('ord')) controller.abort('test: between regions');
      };
      const summary = await deploy(rig, 'v2', settings('rolling', { regionOrder: ['ord', '*'], onAbort: 'leave' }), {
        signal: controller.signal,
        onProgress,
      });
      assert.equal(summary.status, 'aborted', summary.error ?? undefined);
      assert.ok(order.length >= 2 && order[0] === 'ord', `ord first: ${order.join(' → ')}`);
      assert.equal(order.at(-1), 'cdg+iad');
      const after = new Map((await machines(rig)).map((m) => [m.id, m]));
      for (const m of before) {
        const now = after.get(m.id)!;
        assert.ok(now, `${m.id} still there`);
        if (m.region === 'ord') {
          assert.equal(now.config?.metadata?.runway_release, 'v2', `ord machine ${m.id} rolled`);
        } else {
          assert.equal(now.instance_id, m.instance_id, `${m.region} machine ${m.id} untouched`);
          assert.equal(now.cordoned, false);
        }
      }
    } finally {
      await rig.close();
    }
  });

  it("bluegreen over ord, iad, cdg: every green in its blue's region, region by region", async () => {
    const rig = await flyRig();
    try {
      rig.server.backend.seed(rig.app, { groups: GROUPS, release: 'v1', env: rig.scope.env, regions: REGIONS });
      const before = layout(await machines(rig)).regions;
      const regionsSeen: string[] = [];
      const summary = await deploy(rig, 'v2', settings('bluegreen', { regionOrder: ['ord', 'iad', '*'] }), {
        onProgress: (e) => {
          if (e.type === 'wave-start' && e.phase === 'deploy') regionsSeen.push((e.wave.regions ?? []).join('+'));
        },
      });
      assert.equal(summary.status, 'succeeded', summary.error ?? undefined);
      assert.deepEqual([...new Set(regionsSeen)], ['ord', 'iad', 'cdg'], 'regions in order');
      const list = await machines(rig);
      assert.deepEqual(layout(list).regions, before, 'each region keeps its count per group');
      assert.ok(list.every((m) => m.config?.metadata?.runway_release === 'v2'));
    } finally {
      await rig.close();
    }
  });
});
