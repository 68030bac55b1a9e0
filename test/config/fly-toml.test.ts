import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { importFlyToml, renderRunwayToml } from '../../src/config/fly-toml.js';
import { explainVars } from '../../src/cli/explain-vars.js';
import { parseConfig } from '../../src/config/load.js';
import { configError } from './helpers.js';

// Written from Fly's documented fly.toml format (fly.io/docs/reference/configuration).
const FLY = `# fly.toml app configuration file
app = "mechanic-fly"
primary_region = "ord"
kill_signal = "SIGTERM"
kill_timeout = "30s"
swap_size_mb = 512

[build]
  image = "registry.fly.io/mechanic:latest"

[deploy]
  strategy = "canary"
  max_unavailable = 0.25
  wait_timeout = "2m30s"
  release_command = "bin/rails db:migrate"
  release_command_timeout = "10m"

[env]
  RAILS_ENV = "production"

[processes]
  web = "bin/rails server"
  worker = "bundle exec sidekiq"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = "stop"
  processes = ["web"]

  [http_service.concurrency]
    type = "requests"
    soft_limit = 200

  [[http_service.checks]]
    grace_period = "10s"
    interval = "30s"
    method = "GET"
    timeout = "5s"
    path = "/up"

[[services]]
  internal_port = 9000
  protocol = "tcp"
  processes = ["worker"]

  [[services.ports]]
    port = 9000
    handlers = ["http"]

  [[services.tcp_checks]]
    interval = 15000
    timeout = 2000

  [[services.http_checks]]
    interval = 10000
    timeout = 2000
    grace_period = "5s"
    method = "get"
    path = "/metrics"
    protocol = "http"

[checks.status]
  port = 2020
  type = "http"
  interval = "10s"
  timeout = "2s"
  grace_period = "27s"
  path = "/status"
  processes = ["web", "worker"]

  [checks.status.headers]
    Authorization = "secret"

[[vm]]
  memory = "1gb"
  cpu_kind = "shared"
`;

describe('importFlyToml', () => {
  it('reads app, [deploy], processes and checks, ignoring the keys runway has no use for', () => {
    const imp = importFlyToml(FLY, 'fly.toml');
    assert.equal(imp.app, 'mechanic-fly');
    assert.deepEqual(imp.strategy, { value: 'canary', key: 'deploy.strategy', line: 12 });
    assert.deepEqual(imp.deploy.maxUnavailable, { value: { fraction: 0.25 }, key: 'deploy.max_unavailable', line: 13 });
    assert.equal(imp.deploy.waitTimeoutMs!.value, 150_000, 'Go-style compound durations');
    assert.deepEqual(imp.releaseCommand, { command: 'bin/rails db:migrate', timeoutMs: 600_000 });
    assert.deepEqual(imp.processes, [
      { name: 'web', command: 'bin/rails server' },
      { name: 'worker', command: 'bundle exec sidekiq' },
    ]);
    assert.deepEqual(
      imp.checks.map((c) => [c.key, c.check]),
      [
        [
          'http_service.checks[0]',
          {
            name: 'http-service-0',
            type: 'http',
            group: 'web',
            path: '/up',
            port: 3000,
            intervalMs: 30_000,
            timeoutMs: 5000,
            gracePeriodMs: 10_000,
          },
        ],
        [
          'services[0].http_checks[0]',
          {
            name: 'service-0-http-0',
            type: 'http',
            group: 'worker',
            path: '/metrics',
            port: 9000,
            intervalMs: 10_000,
            timeoutMs: 2000,
            gracePeriodMs: 5000,
          },
        ],
        [
          'services[0].tcp_checks[0]',
          {
            name: 'service-0-tcp-0',
            type: 'tcp',
            group: 'worker',
            port: 9000,
            intervalMs: 15_000,
            timeoutMs: 2000,
            gracePeriodMs: 1000,
          },
        ],
        [
          'checks.status',
          {
            name: 'status',
            type: 'http',
            group: 'web',
            path: '/status',
            port: 2020,
            intervalMs: 10_000,
            timeoutMs: 2000,
            gracePeriodMs: 27_000,
          },
        ],
        [
          'checks.status',
          {
            name: 'status',
            type: 'http',
            group: 'worker',
            path: '/status',
            port: 2020,
            intervalMs: 10_000,
            timeoutMs: 2000,
            gracePeriodMs: 27_000,
          },
        ],
      ],
    );
    assert.equal(imp.checks[0]!.line, 35);
  });

  it('applies checks scoped to Fly’s default `app` group to the whole app when there is no [processes]', () => {
    const imp = importFlyToml(
      `app = "x"\n[http_service]\ninternal_port = 8080\nprocesses = ["app"]\n[[http_service.checks]]\npath = "/health"\n[checks.tick]\ntype = "machine"\n`,
      'fly.toml',
    );
    assert.deepEqual(imp.processes, []);
    assert.equal(imp.checks.length, 1, 'non-http/tcp checks are skipped');
    assert.equal(imp.checks[0]!.check.group, undefined);
    assert.equal(imp.checks[0]!.check.path, '/health');
  });

  it('names fly.toml, key and line when a value runway reads is invalid', () => {
    const err = configError(() =>
      importFlyToml(`app = "x"\n\n[deploy]\n  max_unavailable = "many"\n`, 'deploy/fly.toml'),
    );
    assert.equal(err.file, 'deploy/fly.toml');
    assert.equal(err.key, 'deploy.max_unavailable');
    assert.equal(err.line, 4);
  });

  it('hints name the unit a bare number is read in: milliseconds in checks, seconds in [deploy]', () => {
    const check = (v: string) =>
      configError(() => importFlyToml(`app = "x"\n[[http_service.checks]]\ninterval = ${v}\n`, 'fly.toml'));
    assert.equal(
      importFlyToml(`app = "x"\n[[http_service.checks]]\ninterval = 5000\n`, 'fly.toml').checks[0]!.check.intervalMs,
      5000,
    );
    for (const v of ['-5000', '"soon"', 'true']) {
      const err = check(v);
      assert.equal(err.key, 'http_service.checks[0].interval');
      assert.match(err.problem, /number of milliseconds/, err.problem);
      assert.doesNotMatch(err.problem, /number of seconds/, err.problem);
    }
    const deploy = configError(() => importFlyToml(`app = "x"\n[deploy]\nwait_timeout = -3\n`, 'fly.toml'));
    assert.match(deploy.problem, /non-negative number of seconds/);
  });

  it('gives the line of malformed fly.toml', () => {
    const err = configError(() => importFlyToml(`app = "x"\n[deploy\n`, 'fly.toml'));
    assert.equal(err.file, 'fly.toml');
    assert.equal(err.line, 2);
  });
});

function load(runway: string, fly: string = FLY) {
  const files: Record<string, string> = { '/srv/mechanic/fly.toml': fly };
  return parseConfig(runway, '/srv/mechanic/runway.toml', {
    readFile: (f) => {
      const text = files[path.resolve(f)];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${f}`), { code: 'ENOENT' });
      return text;
    },
  });
}

describe('fly_toml in runway.toml', () => {
  it('fills what runway.toml leaves unset', () => {
    const c = load(`[app]\nfly_toml = "fly.toml"\n[environments.production]\nprovider = "fly"\n`);
    assert.equal(c.app.name, 'mechanic-fly');
    assert.deepEqual(c.app.processes, [
      { name: 'web', count: 1, command: 'bin/rails server' },
      { name: 'worker', count: 1, command: 'bundle exec sidekiq' },
    ]);
    assert.equal(c.app.checks.length, 5);
    assert.deepEqual(c.app.releaseCommand, { command: 'bin/rails db:migrate', timeoutMs: 600_000 });
    const prod = c.environments.production!;
    assert.equal(prod.strategy, 'canary');
    assert.equal(prod.vars.DEPLOY_STRATEGY!.layer, 'app');
    assert.match(
      prod.strategySource,
      /^DEPLOY_STRATEGY = "canary" \(app layer; imported from fly\.toml \[deploy\] strategy\)$/,
    );
    assert.match(explainVars(prod), /DEPLOY_STRATEGY\s+canary\s+app \(imported from fly\.toml \[deploy\] strategy\)/);
    assert.deepEqual(prod.deploy, { maxUnavailable: { fraction: 0.25 }, waitTimeoutMs: 150_000 });
  });

  it('lets explicit runway.toml keys win', () => {
    const c = load(`
[app]
name = "mechanic"
fly_toml = "fly.toml"
release_command = "bin/migrate"
vars = { FLY_DEPLOY_STRATEGY = "rolling" }

[app.processes]
web = { count = 400 }

[[app.checks]]
name = "up"
group = "web"
path = "/up"

[app.deploy]
wait_timeout = "1m"

[environments.production]
provider = "fly"
[environments.production.deploy]
max_unavailable = 2
`);
    assert.equal(c.app.name, 'mechanic');
    assert.deepEqual(c.app.processes, [
      { name: 'web', count: 400, command: 'bin/rails server' },
      { name: 'worker', count: 1, command: 'bundle exec sidekiq' },
    ]);
    assert.deepEqual(
      c.app.checks.map((ch) => ch.name),
      ['up'],
      'runway.toml checks replace imported ones',
    );
    assert.deepEqual(c.app.releaseCommand, { command: 'bin/migrate', timeoutMs: 600_000 });
    const prod = c.environments.production!;
    assert.equal(prod.strategy, 'rolling', 'app.vars alias beats the imported [deploy] strategy');
    assert.equal(prod.vars.DEPLOY_STRATEGY, undefined);
    assert.deepEqual(prod.deploy, { maxUnavailable: { count: 2 }, waitTimeoutMs: 60_000 });
  });

  it('reports an invalid imported strategy in fly.toml', () => {
    const err = configError(() =>
      load(`[app]\nfly_toml = "fly.toml"\n`, `app = "x"\n[deploy]\nstrategy = "rolling-eyes"\n`),
    );
    assert.equal(err.file, '/srv/mechanic/fly.toml');
    assert.equal(err.key, 'deploy.strategy');
    assert.equal(err.line, 3);
    assert.match(err.problem, /unknown strategy "rolling-eyes".*app layer, imported from fly\.toml/);
  });

  it('locates settings imported from fly.toml when they make a strategy impossible', () => {
    const err = configError(() =>
      load(
        `[app]\nfly_toml = "fly.toml"\n[environments.p]\nprovider = "fly"\nvars = { DEPLOY_STRATEGY = "rolling" }\n`,
        `app = "x"\n[deploy]\nmax_unavailable = 0\n`,
      ),
    );
    assert.equal(err.file, '/srv/mechanic/fly.toml');
    assert.equal(err.key, 'deploy.max_unavailable');
    assert.equal(err.line, 3);
  });

  it('names app.fly_toml when the file is missing', () => {
    const err = configError(() => load(`[app]\nname = "m"\nfly_toml = "deploy/fly.toml"\n`));
    assert.equal(err.key, 'app.fly_toml');
    assert.equal(err.line, 3);
    assert.match(err.problem, /deploy\/fly\.toml not found/);
  });

  it('requires an app name from one of the files', () => {
    const err = configError(() => load(`[app]\nfly_toml = "fly.toml"\n`, `[deploy]\nstrategy = "rolling"\n`));
    assert.equal(err.key, 'app.name');
    assert.match(err.problem, /imported fly\.toml has no `app`/);
  });
});

describe('renderRunwayToml', () => {
  it('produces a runway.toml that loads to the same settings', () => {
    const imp = importFlyToml(FLY, 'fly.toml');
    const text = renderRunwayToml(imp, 'production');
    const c = parseConfig(text, 'runway.toml');
    assert.equal(c.app.name, 'mechanic-fly');
    assert.deepEqual(
      c.app.checks,
      imp.checks.map((x) => x.check),
    );
    assert.deepEqual(c.app.releaseCommand, { command: 'bin/rails db:migrate', timeoutMs: 600_000 });
    const prod = c.environments.production!;
    assert.equal(prod.provider, 'fly');
    assert.equal(prod.strategy, 'canary');
    assert.deepEqual(prod.deploy, { maxUnavailable: { fraction: 0.25 }, waitTimeoutMs: 150_000 });
    assert.match(text, /wait_timeout = "2m30s"/);
  });
});
