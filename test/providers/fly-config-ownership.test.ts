// A machine's config belongs to its user. Property: machines given random configs the published spec
// allows (generated from fly.MachineConfig) come out of a deploy of every strategy with every field
// as it was — services, checks, env, files, restart, guest, metrics, statics, processes, dns,
// stop_config, auto_destroy, standbys, schedule, foreign metadata — and only the release fields
// (image, runway's metadata keys) changed. Machines that stand in for others (bluegreen's greens,
// waves' surge machines) carry the config and region of the machine they replaced.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { STRATEGIES } from '../../src/domain/types.js';
import type { FlyMachine, FlyMachineConfig } from '../../src/providers/fly/fly-types.js';
import { META } from '../../src/providers/fly/machine-mapping.js';
import type { SimServer } from '../../src/providers/sim/serve/sim-server.js';
import { flyDeployRig, recordingServer, settings } from './fly-deploy-harness.js';
import { raw } from './fly-harness.js';
import { machineConfigArbitrary } from './spec-arbitrary.js';

let server: SimServer;
before(async () => {
  ({ server } = await recordingServer());
});
after(async () => {
  await server.close();
});

const RUNWAY_KEYS = new Set<string>(Object.values(META).filter((k) => k.startsWith('runway_')));
const REGIONS = ['ord', 'iad', 'cdg'];

/** The config without the release fields: what a deploy must leave exactly as it was. */
function userPart(config: FlyMachineConfig): unknown {
  const { image: _image, metadata, ...rest } = config;
  const kept = Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => !RUNWAY_KEYS.has(k)));
  return canonical({ ...rest, metadata: kept });
}

/** Key order is not a difference. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}

// Mounts name volumes, which sim serve models (one machine per volume, region-bound): configs here are
// drawn without them, and test/providers/fly-volumes.test.ts shows every strategy keeps each machine's
// volume.

describe("a machine's config belongs to its user", () => {
  for (const strategy of STRATEGIES) {
    it(
      `${strategy}: random configs of the spec survive a deploy with only the release fields changed`,
      { timeout: 240_000 },
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(machineConfigArbitrary(['mounts']), { minLength: 3, maxLength: 3 }),
            async (randoms) => {
              const r = await flyDeployRig(server, [{ name: 'web', count: 3 }], { seed: false });
              try {
                // A fleet as a user made it through the API (flyctl's metadata only), one machine per
                // region, each with a config drawn from the spec.
                const before = new Map<string, { user: unknown; region: string }>();
                for (const [i, drawn] of randoms.entries()) {
                  const region = REGIONS[i % REGIONS.length]!;
                  const foreign = Object.fromEntries(
                    Object.entries((drawn.metadata ?? {}) as Record<string, string>).filter(
                      ([k]) => !k.startsWith('runway_') && !k.startsWith('fly_'),
                    ),
                  );
                  const metadata = {
                    ...foreign,
                    fly_platform_version: 'v2',
                    fly_process_group: 'web',
                    fly_release_version: '1',
                  };
                  const config = { ...drawn, image: `registry.fly.io/${r.rig.app}:v1`, metadata } as FlyMachineConfig;
                  const made = await raw<FlyMachine>(server, 'POST', `/v1/apps/${r.rig.app}/machines`, {
                    body: { config, region },
                  });
                  assert.equal(made.status, 200, JSON.stringify(made.body));
                  before.set(made.body.id, { user: userPart(config), region });
                }
                for (const id of before.keys())
                  await r.rig.provider.waitFor(r.rig.scope, id, { state: 'started', healthy: true }, 60_000);

                const summary = await r.deploy('v2', settings({ strategy, maxSurge: { count: 1 } }));
                assert.equal(summary.status, 'succeeded', summary.error ?? '');

                const now = (await raw<FlyMachine[]>(server, 'GET', `/v1/apps/${r.rig.app}/machines`)).body.filter(
                  (fm) => fm.state !== 'destroyed',
                );
                assert.equal(now.length, 3);
                for (const fm of now) {
                  assert.equal(fm.config!.image, `registry.fly.io/${r.rig.app}:v2`, 'the release field did change');
                  assert.equal(fm.config!.metadata![META.release], 'v2');
                }
                const wanted = [...before.values()].map((b) => JSON.stringify([b.user, b.region])).sort();
                const got = now.map((fm) => JSON.stringify([userPart(fm.config!), fm.region])).sort();
                // In place (immediate, rolling, canary) the same machines; replaced (bluegreen, waves) new
                // machines that copied the ones they replaced: either way the same configs, in the same regions.
                assert.deepEqual(got, wanted);
              } finally {
                await r.close();
              }
            },
          ),
          { numRuns: 3, seed: 42 + STRATEGIES.indexOf(strategy), endOnFailure: true },
        );
      },
    );
  }
});
