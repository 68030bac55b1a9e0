// Release steps configured in runway.toml, run by `runway deploy` before any serving machine changes:
// sidekiq-quiet against the machine's real Redis (with Sidekiq 7 process doubles), then the release
// command; and the config errors that catch a bad step list before anything runs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Fixture, REDIS_URL, deadPort } from '../release-steps/helpers.js';
import { project, smallConfig, type Project } from './helpers.js';
import { requireRedis } from '../support/services.js';

before(() => requireRedis());

async function machines(p: Project) {
  const r = await p.run(['status', '--env', 'production', '--machines', '--json']);
  return JSON.parse(r.stdout) as {
    fleet: { byRelease: Record<string, number> };
    machines: { id: string; instanceVersion: string }[];
  };
}

function config(redisUrl: string, namespace: string, extra = ''): string {
  return smallConfig(`
[environments.production.release_step.sidekiq-quiet]
namespace = "${namespace}"
poll_interval = "100ms"
timeout = "10s"
connect_timeout = "1s"
${extra}`)
    .replace(
      '[app]\nname = "shop"',
      '[app]\nname = "shop"\nrelease_command = "bin/migrate"\nrelease_steps = ["sidekiq-quiet", "release-command"]',
    )
    .replace('vars = { DEPLOY_STRATEGY = "waves" }', `vars = { DEPLOY_STRATEGY = "waves", REDIS_URL = "${redisUrl}" }`);
}

describe('release steps in a deploy', () => {
  let fixture: Fixture;
  before(() => {
    fixture = new Fixture();
  });
  after(() => fixture.close());

  it('quiets every live Sidekiq process, runs the release command, then deploys', async () => {
    const p = project(config(REDIS_URL, fixture.namespace));
    try {
      await p.run(['releases', 'create', 'v2']);
      const workers = [await fixture.start(), await fixture.start()];
      const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.equal(JSON.parse(r.stdout).status, 'succeeded');
      for (const w of workers) assert.equal(w.done, true, `${w.identity} was quieted`);
      const list = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
      const show = await p.run(['deploys', 'show', list[0].id]);
      assert.match(show.stdout, /sidekiq-quiet: .*2/);
      assert.match(show.stdout, /release command succeeded/);
      assert.ok(
        show.stdout.indexOf('sidekiq-quiet') < show.stdout.indexOf('release command succeeded'),
        'in the configured order',
      );
    } finally {
      p.cleanup();
    }
  });

  it('Redis unreachable (on_unavailable = fail): the deploy fails before any machine changes', async () => {
    const p = project(config(`redis://127.0.0.1:${await deadPort()}`, fixture.namespace));
    try {
      await p.run(['releases', 'create', 'v2']);
      const before = await machines(p);
      const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--json']);
      assert.equal(r.code, 1);
      const s = JSON.parse(r.stdout);
      assert.equal(s.status, 'failed');
      assert.match(s.error, /sidekiq-quiet/);
      assert.deepEqual((await machines(p)).machines, before.machines);
    } finally {
      p.cleanup();
    }
  });

  it('on_unavailable = skip goes on without Redis', async () => {
    const p = project(config(`redis://127.0.0.1:${await deadPort()}`, fixture.namespace, 'on_unavailable = "skip"'));
    try {
      await p.run(['releases', 'create', 'v2']);
      const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual((await machines(p)).fleet.byRelease, { v2: 8 });
    } finally {
      p.cleanup();
    }
  });
});

describe('release steps: config errors name the key', () => {
  it('an unknown step', async () => {
    const p = project(
      smallConfig().replace('[app]\nname = "shop"', '[app]\nname = "shop"\nrelease_steps = ["sidekiq-qiet"]'),
    );
    try {
      const r = await p.run(['status', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /runway\.toml:\d+: app\.release_steps: unknown release step "sidekiq-qiet"/);
    } finally {
      p.cleanup();
    }
  });

  it('"release-command" listed without a release_command', async () => {
    const p = project(
      smallConfig().replace('[app]\nname = "shop"', '[app]\nname = "shop"\nrelease_steps = ["release-command"]'),
    );
    try {
      const r = await p.run(['status', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /has no release_command/);
    } finally {
      p.cleanup();
    }
  });

  it("a bad key in a step's table", async () => {
    const p = project(
      smallConfig('[app.release_step.sidekiq-quiet]\ntimeout = "2h"\n').replace(
        '[app]\nname = "shop"',
        '[app]\nname = "shop"\nrelease_steps = ["sidekiq-quiet"]',
      ),
    );
    try {
      const r = await p.run(['status', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /app\.release_step\.sidekiq-quiet\.timeout/);
    } finally {
      p.cleanup();
    }
  });
});

describe('runway release-step run release-command', () => {
  it("runs the environment's release command alone on a machine of the release, and removes it", async () => {
    const p = project(config(REDIS_URL, 'unused'));
    try {
      await p.run(['releases', 'create', 'v2']);
      const r = await p.run([
        'release-step',
        'run',
        'release-command',
        '--env',
        'production',
        '--release',
        'v2',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const out = JSON.parse(r.stdout);
      assert.equal(out.ok, true);
      assert.equal(out.release, 'v2');
      assert.match(out.summary, /release command succeeded/);
      const status = JSON.parse((await p.run(['status', '--env', 'production', '--json'])).stdout);
      assert.equal(status.fleet.extra, 0);
      assert.deepEqual(status.fleet.byRelease, { v1: 8 }, 'no serving machine changed');
    } finally {
      p.cleanup();
    }
  });

  it('says so when the app has no release_command (exit 2)', async () => {
    const p = project(smallConfig());
    try {
      const r = await p.run(['release-step', 'run', 'release-command', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no release_command/);
    } finally {
      p.cleanup();
    }
  });
});
