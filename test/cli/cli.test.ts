import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import { until } from '../support/wait.js';
import { ROOT, project, smallConfig, spawnCli, type Project } from './helpers.js';

async function machines(p: Project, env = 'staging') {
  const r = await p.run(['status', '--env', env, '--machines', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    fleet: { total: number; byRelease: Record<string, number> };
    machines: { id: string; instanceVersion: string; release: string }[];
  };
}

describe('runway deploy on the sim provider', () => {
  let p: Project;
  before(async () => {
    p = project();
    for (const v of ['v2', 'v3', 'v-broken']) assert.equal((await p.run(['releases', 'create', v])).code, 0);
  });
  after(() => p.cleanup());

  it('--dry-run prints the plan and changes nothing', async () => {
    const before = await machines(p);
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rolling/);
    assert.match(r.stdout, /v1 → v2|v2/);
    assert.match(r.stdout, /API calls/i);
    // What a real run would meet besides the plan: release steps, and the checks gating each step.
    assert.match(r.stdout, /release steps {2}none/);
    assert.match(r.stdout, /checks that gate each step .* within 5m\)\n {2}web {5}up: http GET \/up every 15s/);
    assert.match(r.stdout, /worker {2}no checks/);
    const json = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--dry-run', '--json']);
    const plan = JSON.parse(json.stdout);
    assert.equal(plan.strategy, 'rolling');
    assert.ok(plan.waves.length >= 2);
    assert.ok(plan.estimate.apiCallsTotal > 0);
    // The gates the text shows, as data: every group with the checks gating it, and the wait.
    assert.equal(plan.gates.checksDecide, 'gate');
    assert.equal(plan.gates.withinMs, 300_000);
    assert.deepEqual(plan.gates.releaseSteps, []);
    assert.deepEqual(
      plan.gates.groups.map((g: { group: string; checks: { name: string }[] }) => [
        g.group,
        g.checks.map((c) => c.name),
      ]),
      [
        ['web', ['up']],
        ['worker', []],
      ],
    );
    assert.deepEqual((await machines(p)).machines, before.machines);
    assert.equal((await p.run(['deploys', 'list', '--json'])).stdout.trim(), '[]');
  });

  it('deploys with --json and ends with one summary object', async () => {
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const s = JSON.parse(r.stdout);
    for (const key of [
      'deployId',
      'app',
      'env',
      'release',
      'strategy',
      'status',
      'dispatchedAtMs',
      'convergedAtMs',
      'machines',
      'extraMachinesPeak',
      'apiCalls',
    ]) {
      assert.ok(key in s, `summary has ${key}`);
    }
    assert.equal(s.status, 'succeeded');
    assert.equal(s.app, 'shop');
    assert.deepEqual(s.machines, { total: 8, onTarget: 8, failed: 0, stragglers: 0 });
    assert.ok(s.apiCalls > 0);
    const status = await machines(p);
    assert.deepEqual(status.fleet.byRelease, { v2: 8 });
  });

  it('the sim fleet persists between runs; a broken release is rolled back (exit 1)', async () => {
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v-broken', '--json']);
    assert.equal(r.code, 1);
    const s = JSON.parse(r.stdout);
    assert.equal(s.status, 'rolled_back');
    assert.equal(s.previousRelease, 'v2');
    assert.deepEqual((await machines(p)).fleet.byRelease, { v2: 8 });
  });

  it('lists and shows deploys with who was responsible', async () => {
    const list = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
    assert.equal(list.length, 2);
    assert.equal(
      list[0].release,
      'v-broken',
      JSON.stringify(list.map((d: { release: string; createdAtMs: number }) => [d.release, d.createdAtMs])),
    );
    assert.equal(list[0].responsible, 'tester');
    const show = await p.run(['deploys', 'show', list[1].id]);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /succeeded/);
    assert.match(show.stdout, /responsible: tester/);
    assert.match(show.stdout, /wave_started/);
  });

  it('vars explain names the layer each value came from', async () => {
    const r = await p.run(['vars', 'explain', '--env', 'production']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /DEPLOY_STRATEGY/);
    assert.match(r.stdout, /waves/);
    assert.match(r.stdout, /environment/);
  });
});

describe('bad input: exit 2, a clear message, no machine touched', () => {
  let p: Project;
  before(async () => {
    p = project();
    await p.run(['releases', 'create', 'v2']);
    await p.run(['status', '--env', 'staging']);
  });
  after(() => p.cleanup());

  async function unchanged(fn: () => Promise<void>) {
    const before = await machines(p);
    await fn();
    assert.deepEqual((await machines(p)).machines, before.machines);
  }

  it('unknown environment lists the known ones', async () => {
    await unchanged(async () => {
      const r = await p.run(['deploy', '--env', 'prod', '--release', 'v2']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /prod/);
      assert.match(r.stderr, /staging/);
    });
  });

  it('deploys list --env with an unknown environment exits 2 naming the known ones', async () => {
    const r = await p.run(['deploys', 'list', '--env', 'prod']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /unknown environment "prod"; known environments: staging, production/);
    const json = await p.run(['deploys', 'list', '--env', 'prod', '--json']);
    assert.equal(json.code, 2);
    assert.match(JSON.parse(json.stdout).error, /unknown environment "prod"/);
  });

  it('a bad --lock-wait on deploy and on rollback names the flag and exits 2', async () => {
    await unchanged(async () => {
      for (const args of [
        ['deploy', '--env', 'staging', '--release', 'v2', '--lock-wait', 'soon'],
        ['rollback', '--env', 'staging', '--lock-wait', 'soon'],
      ]) {
        const r = await p.run(args);
        assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, /--lock-wait: invalid duration "soon"/);
      }
    });
  });

  it('a release that does not exist', async () => {
    await unchanged(async () => {
      const r = await p.run(['deploy', '--env', 'staging', '--release', 'v9']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /release v9 does not exist/);
    });
  });

  it('unknown strategy flag', async () => {
    const r = await p.run(['deploy', '--env', 'staging', '--strategy', 'yolo']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /yolo/);
  });

  it('--json errors are JSON', async () => {
    const r = await p.run(['deploy', '--env', 'nope', '--json']);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stdout).exitCode, 2);
  });

  it('malformed TOML names the file and line', async () => {
    const bad = project('[app]\nname = "x"\n[app.processes\nweb = 1\n');
    try {
      const r = await bad.run(['status', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /runway\.toml:3/);
    } finally {
      bad.cleanup();
    }
  });

  it('unknown key names the key and line', async () => {
    const bad = project(
      smallConfig().replace('[environments.staging]\n', '[environments.staging]\nstrategee = "rolling"\n'),
    );
    try {
      const r = await bad.run(['status', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /strategee/);
      assert.match(r.stderr, /runway\.toml:\d+/);
    } finally {
      bad.cleanup();
    }
  });

  it('unknown strategy in a variable names the variable', async () => {
    const bad = project(smallConfig().replace('DEPLOY_STRATEGY = "rolling"', 'DEPLOY_STRATEGY = "yolo"'));
    try {
      const r = await bad.run(['deploy', '--env', 'staging']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /DEPLOY_STRATEGY/);
      assert.match(r.stderr, /yolo/);
    } finally {
      bad.cleanup();
    }
  });

  it('max_unavailable 0 with max_surge 0', async () => {
    const bad = project(smallConfig('[environments.production.deploy]\nmax_unavailable = 0\nmax_surge = 0\n'));
    try {
      const r = await bad.run(['deploy', '--env', 'production']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /max_unavailable/);
      assert.match(r.stderr, /max_surge/);
    } finally {
      bad.cleanup();
    }
  });

  it('a missing config file', async () => {
    const r = await p.run(['--config', 'nope.toml', 'status', '--env', 'staging']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.toml/);
  });
});

describe('locks and abort across processes', () => {
  it('a second deploy of a locked environment exits 4 and names the holder', async () => {
    const p = project();
    try {
      await p.run(['releases', 'create', 'v2']);
      const store = await openStore(join(p.dir, '.runway/runway.db'), p.dir);
      const held = await store.acquireLock(
        { app: 'shop', env: 'staging', holder: 'dep_other', reason: 'deploy v9', pid: process.pid, host: hostname() },
        Date.now(),
        30_000,
      );
      assert.ok(held.acquired);
      await store.close();
      const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2']);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /locked by dep_other/);
    } finally {
      p.cleanup();
    }
  });

  it('`runway abort ID` from another process stops a running deploy (exit 3)', async () => {
    const p = project(smallConfig().replace('clock = "virtual"', 'clock = "scaled"\nspeed = 10'));
    try {
      await p.run(['releases', 'create', 'v2']);
      const deploy = spawnCli(['deploy', '--env', 'production', '--release', 'v2', '--json'], p.dir);
      let id: string | undefined;
      // Polls for the event (the deploy running); the cap is for a hung child, not a timing expectation.
      await until(
        async () => {
          const list = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout || '[]');
          if (list[0]?.status === 'running') id = list[0].id;
          return id !== undefined;
        },
        'the deploy is running',
        120_000,
      );
      const abort = await p.run(['abort', id!]);
      assert.equal(abort.code, 0, abort.stderr);
      const result = await deploy.done;
      assert.equal(result.code, 3, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.status, 'aborted');
      assert.match(summary.error, /tester/);
      const status = JSON.parse((await p.run(['status', '--env', 'production', '--machines', '--json'])).stdout);
      assert.equal(status.fleet.extra, 0, 'no extra machines left');
      assert.equal(status.lock, null, 'lock released');
    } finally {
      p.cleanup();
    }
  });
});

describe('help', () => {
  it('--version prints the package version; the package names its bin for npm link and npx', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
      bin: Record<string, string>;
    };
    const p = project();
    try {
      for (const flag of ['--version', '-V']) {
        const r = await p.run([flag]);
        assert.equal(r.code, 0);
        assert.equal(r.stdout, `${pkg.version}\n`);
      }
    } finally {
      p.cleanup();
    }
    assert.equal(pkg.bin.runway, 'dist/cli/main.js');
    assert.match(readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    // As a user's shell runs it.
    const child = spawnCli(['--help'], ROOT);
    const r = await child.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: runway /);
  });

  it('every command has --help with exit codes on deploy', async () => {
    const p = project();
    try {
      const r = await p.run(['deploy', '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /--dry-run/);
      assert.match(r.stdout, /Exit codes/);
      for (const cmd of [['status'], ['deploys', 'list'], ['abort'], ['releases', 'create'], ['vars', 'explain']]) {
        const h = await p.run([...cmd, '--help']);
        assert.equal(h.code, 0, cmd.join(' '));
        assert.match(h.stdout, /Usage/);
      }
    } finally {
      p.cleanup();
    }
  });
});
