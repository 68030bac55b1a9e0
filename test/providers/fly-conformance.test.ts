// Spec conformance: the fly client and `runway sim serve` held to Fly's published Machines API
// (src/providers/fly/spec/fly-machines-swagger.json, plus the documented overlay), not to each other.
// Real deploys of every strategy, a release command, an abort, a rollback and a resume run over real
// HTTP; every request must be an operation of the spec with declared, well-typed query parameters and
// a body of the operation's schema, and every answer must match the operation's response schema (or
// Fly's error shape). The server also refuses what the spec does not allow, as Fly would.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STRATEGIES } from '../../src/domain/types.js';
import { FlySpec, flySpec } from '../../src/providers/fly/spec/validator.js';
import type { SimServer } from '../../src/providers/sim/serve/sim-server.js';
import type { Exchange } from '../../src/providers/sim/serve/spec-validation.js';
import { releaseCommandStep } from '../../src/release/release-command.js';
import { BROKEN, flyDeployRig, recordingServer, settings } from './fly-deploy-harness.js';
import { flyRig, raw } from './fly-harness.js';

let server: SimServer;
let exchanges: Exchange[];

before(async () => {
  ({ server, exchanges } = await recordingServer());
});
after(async () => {
  await server.close();
});

/** Operations that change a machine: each must carry the lease nonce (fly-machine-lease-nonce). */
const MUTATING = new Set([
  'Machines_update',
  'Machines_start',
  'Machines_stop',
  'Machines_delete',
  'Machines_cordon',
  'Machines_uncordon',
  'Machines_update_metadata',
  'Machines_delete_metadata',
]);

/** Every exchange since `from`: the requests that were not operations of the spec, and answers not of its schemas. */
function problems(from: number): string[] {
  const spec = flySpec();
  const out: string[] = [];
  for (const x of exchanges.slice(from)) {
    const check = spec.checkRequest({ method: x.method, path: x.path, query: x.query, body: x.body });
    if (!check.ok) {
      out.push(`request ${x.method} ${x.path}: ${check.problem}`);
      continue;
    }
    for (const p of spec.checkResponse(check.operation, x.status, x.response))
      out.push(`answer to ${x.method} ${x.path}: ${p}`);
  }
  return out;
}

describe("the fly client and sim serve, held to Fly's published Machines API", () => {
  const checked = { requests: 0, answers: 0, operations: new Set<string>() };
  after(() => {
    // The figure the issue asks for, in the test output.
    console.log(
      `fly conformance: ${checked.requests} requests and ${checked.answers} answers checked against the spec, ${checked.operations.size} operations: ${[...checked.operations].sort().join(', ')}`,
    );
  });

  const conforms = async (from: number, label: string, app: string) => {
    const found = problems(from);
    assert.deepEqual(found, [], `${label}: ${found.length} exchanges outside the spec`);
    const mine = exchanges.slice(from);
    assert.ok(mine.length > 0, `${label}: exchanges were recorded`);
    assert.ok(
      mine.every((x) => x.refused === undefined),
      `${label}: the server refused none`,
    );
    checked.requests += mine.length;
    checked.answers += mine.length;
    for (const x of mine) checked.operations.add(x.operation!.operationId);
    // Every change of a machine carried the nonce of runway's lease on it.
    const unleased = mine
      .filter((x) => MUTATING.has(x.operation!.operationId) && !x.nonce)
      .map((x) => `${x.method} ${x.path}`);
    assert.deepEqual(unleased, [], `${label}: changes sent without a lease nonce`);
    assert.ok(
      mine.some(
        (x) =>
          x.operation!.operationId === 'Machines_create_lease' ||
          (x.operation!.operationId === 'Machines_create' && (x.response as { nonce?: string })?.nonce),
      ),
      `${label}: leases were taken`,
    );
    // And when the run ended (success, abort or failure alike), none of runway's leases is left.
    // The deploy may have spent the app's list budget: a client of Fly's API waits out a 429.
    let listed = await raw<{ id: string }[]>(server, 'GET', `/v1/apps/${app}/machines`);
    for (let attempt = 0; listed.status === 429 && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      listed = await raw<{ id: string }[]>(server, 'GET', `/v1/apps/${app}/machines`);
    }
    assert.equal(listed.status, 200, `${label}: listing after the run: ${JSON.stringify(listed.body)}`);
    const machines = listed.body;
    for (const m of machines)
      assert.equal(
        (await raw(server, 'GET', `/v1/apps/${app}/machines/${m.id}/lease`)).status,
        404,
        `${label}: machine ${m.id} left leased`,
      );
  };

  for (const strategy of STRATEGIES) {
    it(
      `${strategy}: a deploy with a release command sends only what the spec allows and gets only answers of its schemas`,
      { timeout: 120_000 },
      async () => {
        const from = exchanges.length;
        const r = await flyDeployRig(server);
        try {
          const summary = await r.deploy('v2', settings({ strategy }), {
            releaseSteps: [releaseCommandStep({ command: 'bin/migrate', timeoutMs: 60_000 })],
          });
          assert.equal(summary.status, 'succeeded', summary.error ?? '');
          const fleet = await r.fleet();
          assert.ok(
            fleet.every((m) => m.release === 'v2' && m.role === 'serving'),
            JSON.stringify(fleet.map((m) => `${m.role}:${m.release}`)),
          );
        } finally {
          await r.close();
        }
        await conforms(from, strategy, r.rig.app);
      },
    );
  }

  it(
    'secrets reach machines through the app secrets API (overlay operations), never in a config',
    { timeout: 120_000 },
    async () => {
      const from = exchanges.length;
      const VALUE = 'postgres://runway:s3cr3t-7f2a@db/shop';
      let staged: Record<string, string> = { DATABASE_URL: VALUE, API_KEY: 'k-91x' };
      const r = await flyDeployRig(server, [{ name: 'web', count: 3 }], { secrets: async () => staged });
      try {
        const first = await r.deploy('v2', settings({ strategy: 'bluegreen' }));
        assert.equal(first.status, 'succeeded', first.error ?? '');
        const app = r.rig.app;
        const listed = (
          await raw<{ secrets: { name: string; value?: string }[] }>(server, 'GET', `/v1/apps/${app}/secrets`)
        ).body.secrets;
        assert.deepEqual(
          listed.map((s) => s.name),
          ['API_KEY', 'DATABASE_URL'],
        );
        assert.ok(
          listed.every((s) => s.value === undefined),
          'a list shows no values',
        );
        const machines = (
          await raw<{ id: string; config: { metadata: Record<string, string> } }[]>(
            server,
            'GET',
            `/v1/apps/${app}/machines`,
          )
        ).body;
        for (const m of machines) {
          assert.deepEqual(
            server.backend.secrets.delivered(m.id)?.names,
            ['API_KEY', 'DATABASE_URL'],
            `machine ${m.id} started with the secrets`,
          );
          assert.ok(server.backend.secrets.delivered(m.id)!.version >= 1);
          assert.equal(m.config.metadata.runway_secrets, 'API_KEY,DATABASE_URL');
        }
        // An unset reaches Fly with the next deploy: deleted from the app, machines start without it.
        staged = { DATABASE_URL: VALUE };
        await r.rig.close();
        const next = await flyDeployRig(server, [{ name: 'web', count: 3 }], {
          seed: false,
          secrets: async () => staged,
        });
        try {
          const again = await next.deploy('v3', settings({ strategy: 'rolling' }), {
            rig: { ...next.rig, app, scope: r.rig.scope },
          });
          assert.equal(again.status, 'succeeded', again.error ?? '');
        } finally {
          await next.close();
        }
        assert.deepEqual(
          (await raw<{ secrets: { name: string }[] }>(server, 'GET', `/v1/apps/${app}/secrets`)).body.secrets.map(
            (s) => s.name,
          ),
          ['DATABASE_URL'],
        );
        for (const m of (await raw<{ id: string }[]>(server, 'GET', `/v1/apps/${app}/machines`)).body)
          assert.deepEqual(server.backend.secrets.delivered(m.id)?.names, ['DATABASE_URL']);
        // The value travelled in one kind of request only, and no answer carried it.
        const mine = exchanges.slice(from);
        const carrying = mine.filter((x) => JSON.stringify(x.body ?? '').includes('s3cr3t'));
        assert.ok(
          carrying.length >= 1 && carrying.every((x) => x.operation?.operationId === 'AppSecrets_update'),
          carrying.map((x) => x.path).join(', '),
        );
        assert.ok(
          mine.every((x) => !JSON.stringify(x.response ?? '').includes('s3cr3t')),
          'no answer shows a value',
        );
        assert.ok(
          mine.some(
            (x) =>
              x.operation?.operationId === 'Machines_update' &&
              typeof (x.body as { min_secrets_version?: number }).min_secrets_version === 'number',
          ),
        );
      } finally {
        await r.close();
      }
      await conforms(from, 'secrets', r.rig.app);
    },
  );

  it('an abort, a rollback and a resume under a new session conform too', { timeout: 180_000 }, async () => {
    const from = exchanges.length;
    const r = await flyDeployRig(server, [{ name: 'web', count: 6 }]);
    try {
      // Abort mid-deploy, leaving what changed.
      const controller = new AbortController();
      let updates = 0;
      const aborted = await r.deploy(
        'v2',
        settings({ strategy: 'rolling', maxUnavailable: { count: 1 }, onAbort: 'leave' }),
        {
          deployId: 'dep_conf_abort',
          signal: controller.signal,
          onProgress: (e) => {
            if (e.type === 'step' && e.status === 'succeeded' && e.step.kind === 'update' && ++updates === 2)
              controller.abort('test');
          },
        },
      );
      assert.equal(aborted.status, 'aborted', aborted.error ?? '');
      // Resume: another session (a new process) finishes the same deploy from what it observes.
      const second = await flyRig({ server, createApp: false });
      try {
        const resumed = await r.deploy('v2', settings({ strategy: 'rolling', maxUnavailable: { count: 2 } }), {
          deployId: 'dep_conf_abort',
          rig: { ...second, app: r.rig.app, scope: r.rig.scope },
        });
        assert.equal(resumed.status, 'succeeded', resumed.error ?? '');
      } finally {
        await second.close();
      }
      // Rollback: a release that never passes checks is rolled back to v2.
      const failed = await r.deploy(
        BROKEN,
        settings({ strategy: 'rolling', maxUnavailable: { count: 1 }, waitTimeoutMs: 20_000 }),
      );
      assert.equal(failed.status, 'rolled_back', failed.error ?? '');
      const fleet = await r.fleet();
      assert.ok(
        fleet.every((m) => m.release === 'v2'),
        JSON.stringify(fleet.map((m) => m.release)),
      );
    } finally {
      await r.close();
    }
    await conforms(from, 'abort, resume, rollback', r.rig.app);
  });
});

describe('sim serve answers what the spec does not allow as Fly would', () => {
  it("unknown route, undeclared or mistyped parameter, invalid body: 4xx with Fly's error body, and nothing changes", async () => {
    const from = exchanges.length;
    const r = await flyRig({ server });
    try {
      server.backend.seed(r.app, { groups: [{ name: 'web', count: 1 }], release: 'v1' });
      const [m] = await r.provider.list(r.scope);
      const base = `/v1/apps/${r.app}/machines`;
      const cases: [string, string, { body?: unknown }, number, RegExp][] = [
        ['GET', `/v1/apps/${r.app}/deployments`, {}, 404, /no such operation/],
        ['PUT', `${base}/${m!.id}`, { body: { config: { image: 'x' } } }, 405, /not allowed/],
        ['GET', `${base}?metadata.runway_app=shop`, {}, 400, /query parameter "metadata.runway_app" is not accepted/],
        ['GET', `${base}/${m!.id}/wait?state=running`, {}, 400, /"running" is not one of started, stopped, destroyed/],
        ['GET', `${base}/${m!.id}/wait?timeout=soon`, {}, 400, /"soon" is not an integer/],
        ['DELETE', `${base}/${m!.id}?kill=yes`, {}, 400, /not a boolean/],
        [
          'POST',
          `${base}/${m!.id}`,
          { body: { config: { image: 'registry.fly.io/x:v9', restart: { policy: 'sometimes' } } } },
          400,
          /restart\/policy must be equal to one of the allowed values/,
        ],
        [
          'POST',
          `${base}/${m!.id}`,
          { body: { config: { image: 'registry.fly.io/x:v9', guest: { cpus: 'two' } } } },
          400,
          /guest\/cpus must be integer/,
        ],
        [
          'POST',
          base,
          { body: { config: { image: 'x', checks: { up: { interval: '15 seconds' } } } } },
          400,
          /interval must match pattern/,
        ],
        ['POST', `${base}/${m!.id}/metadata/owner`, { body: { value: 7 } }, 400, /value must be string/],
      ];
      for (const [method, path, options, status, message] of cases) {
        const answer = await raw<{ error?: string }>(server, method, path, options);
        assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error ?? '', message, `${method} ${path}`);
      }
      const after = await r.provider.get(r.scope, m!.id);
      assert.equal(after.instanceVersion, m!.instanceVersion, 'nothing was changed by refused requests');
      assert.equal((await r.provider.list(r.scope)).length, 1, 'nothing was created by a refused create');
      // Every refusal is itself in Fly's error shape.
      const refusals = exchanges.slice(from).filter((x) => x.refused !== undefined);
      assert.equal(refusals.length, cases.length);
      for (const x of refusals) assert.ok(typeof (x.response as { error?: unknown }).error === 'string');
    } finally {
      await r.close();
    }
  });

  it('every overlay entry names its fly-go evidence', () => {
    const evidence = flySpec().operations.filter((o) => o.overlay);
    assert.ok(evidence.length >= 5, 'the secrets operations are in the overlay');
    // Every parameter, operation and definition the overlay adds, with where fly-go shows it.
    const listed = FlySpec.overlayEvidence();
    assert.ok(
      listed.every((line) => /\.go\b/.test(line)),
      listed.join('\n'),
    );
  });
});
