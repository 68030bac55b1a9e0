import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getEnvironment, loadConfig, parseConfig } from '../../src/config/load.js';
import { resolveStrategySettings } from '../../src/config/settings.js';
import { DEFAULT_SIM_OPTIONS } from '../../src/providers/sim/options.js';
import { BASE, configError } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The shape from the configuration issue, every key used once.
const FULL = `
[org]
name = "acme"
vars = { DEPLOY_STRATEGY = "bluegreen" }

[app]
name = "mechanic"
vars = { LOG_LEVEL = "info" }
release_command = "bin/migrate"
release_command_timeout = "5m"

[app.processes]
web = { count = 400, command = "bin/web" }
worker = { count = 100, command = "bin/worker" }

[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"
port = 8080
interval = "5s"
timeout = "2s"
grace_period = "5s"

[app.deploy]
max_unavailable = 0.33
max_surge = "10%"
max_concurrency = 64
wait_timeout = "5m"
convergence_timeout = "10m"
on_failure = "rollback"
pause_before_cutover = false
drain_timeout = "10s"
connection_budget = { max_connections = 2000, per_machine = 10, reserved = 0 }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
allow_cli = false
vars = { DEPLOY_STRATEGY = "immediate" }

[environments.production.deploy]
max_concurrency = 32
on_failure = "halt"

[environments.staging]
provider = "local"
trigger = "push:main"
initiation = "automatic"

[environments.staging.sim]
seed = 7
latency.boot = { dist = "constant", ms = 100 }

[sim]
clock = "virtual"
speed = 10
seed = 3
rate_limits = false
initial_release = "v1"
latency.api = { dist = "lognormal", median = "1.5s", p99 = "4s" }
faults.error_rate = { create = 0.05 }
faults.unhealthy_releases = ["v3-broken"]

[store]
url = "postgres://runway@localhost/runway"
`;

describe('parseConfig', () => {
  it('reads every key of the documented shape', () => {
    const c = parseConfig(FULL, '/srv/app/runway.toml');
    assert.equal(c.file, '/srv/app/runway.toml');
    assert.equal(c.dir, '/srv/app');
    assert.deepEqual(c.org, { name: 'acme' });
    assert.equal(c.app.name, 'mechanic');
    assert.deepEqual(c.app.processes, [
      { name: 'web', count: 400, command: 'bin/web' },
      { name: 'worker', count: 100, command: 'bin/worker' },
    ]);
    assert.deepEqual(c.app.checks, [
      {
        name: 'up',
        type: 'http',
        group: 'web',
        path: '/up',
        port: 8080,
        intervalMs: 5000,
        timeoutMs: 2000,
        gracePeriodMs: 5000,
      },
    ]);
    assert.deepEqual(c.app.releaseCommand, { command: 'bin/migrate', timeoutMs: 300_000 });
    assert.equal(c.store.url, 'postgres://runway@localhost/runway');

    const prod = getEnvironment(c, 'production');
    assert.equal(prod.provider, 'sim');
    assert.equal(prod.trigger, 'release');
    assert.equal(prod.initiation, 'manual');
    assert.equal(prod.allowCli, false);
    assert.equal(prod.strategy, 'immediate');
    assert.deepEqual(prod.deploy, {
      maxUnavailable: { fraction: 0.33 },
      maxSurge: { fraction: 0.1 },
      maxConcurrency: 32,
      waitTimeoutMs: 300_000,
      convergenceTimeoutMs: 600_000,
      onFailure: 'halt',
      pauseBeforeCutover: false,
      drainTimeoutMs: 10_000,
      connectionBudget: { maxConnections: 2000, perMachine: 10, reserved: 0 },
    });

    const staging = getEnvironment(c, 'staging');
    assert.equal(staging.provider, 'local');
    assert.equal(staging.trigger, 'push:main');
    assert.equal(staging.initiation, 'automatic');
    assert.equal(staging.strategy, 'bluegreen');
    assert.equal(staging.deploy.maxConcurrency, 64, 'app deploy defaults reach environments without overrides');
  });

  it('merges sim options: defaults < [sim] < [environments.X.sim], latency and faults key by key', () => {
    const c = parseConfig(FULL, 'runway.toml');
    const prod = c.environments.production!.sim;
    const staging = c.environments.staging!.sim;
    assert.equal(prod.clock, 'virtual');
    assert.equal(prod.speed, 10);
    assert.equal(prod.seed, 3);
    assert.equal(prod.rateLimits, false);
    assert.equal(prod.initialRelease, 'v1');
    assert.deepEqual(prod.latency.api, { kind: 'lognormal', medianMs: 1500, p99Ms: 4000 });
    assert.deepEqual(prod.latency.boot, DEFAULT_SIM_OPTIONS.latency.boot);
    assert.deepEqual(prod.faults.errorRate, { create: 0.05 });
    assert.deepEqual(prod.faults.unhealthyReleases, ['v3-broken']);

    assert.equal(staging.seed, 7);
    assert.equal(staging.clock, 'virtual', 'unset keys fall through to [sim]');
    assert.deepEqual(staging.latency.boot, { kind: 'constant', ms: 100 });
    assert.deepEqual(staging.latency.api, { kind: 'lognormal', medianMs: 1500, p99Ms: 4000 }, 'other ops keep [sim]');
    assert.deepEqual(staging.faults.unhealthyReleases, ['v3-broken']);
    // The shared defaults object is never mutated by merging.
    assert.deepEqual(DEFAULT_SIM_OPTIONS.faults.unhealthyReleases, []);
    assert.notEqual(prod.latency, staging.latency);
  });

  it('merges error_rate per operation across layers and reads a bare number as every op', () => {
    const c = parseConfig(
      `${BASE}
[sim.faults]
error_rate = { create = 0.05, update = 0.01 }
[environments.chaos]
provider = "sim"
[environments.chaos.sim.faults]
error_rate = { update = 0.5 }
[environments.flaky]
provider = "sim"
[environments.flaky.sim.faults]
error_rate = 0.1
`,
      'runway.toml',
    );
    assert.deepEqual(c.environments.chaos!.sim.faults.errorRate, { create: 0.05, update: 0.5 });
    assert.deepEqual(c.environments.flaky!.sim.faults.errorRate, { create: 0.05, update: 0.01, all: 0.1 });
  });

  it('applies defaults: rolling, no trigger, manual, one `app` process group, sqlite store next to the file', () => {
    const c = parseConfig(`[app]\nname = "solo"\n[environments.dev]\nprovider = "sim"\n`, '/srv/solo/runway.toml');
    const dev = c.environments.dev!;
    assert.equal(dev.strategy, 'rolling');
    assert.match(dev.strategySource, /default/);
    assert.equal(dev.trigger, null);
    assert.equal(dev.initiation, 'manual');
    assert.deepEqual(dev.deploy, {});
    assert.deepEqual(dev.sim, DEFAULT_SIM_OPTIONS);
    assert.deepEqual(c.app.processes, [{ name: 'app', count: 1 }]);
    assert.deepEqual(c.app.checks, []);
    assert.equal(c.app.releaseCommand, undefined);
    assert.equal(c.store.url, '/srv/solo/.runway/runway.db');
  });

  it('derives initiation from a push trigger and rejects a manual push environment', () => {
    const c = parseConfig(`${BASE}[environments.staging]\nprovider = "sim"\ntrigger = "push:main"\n`, 'runway.toml');
    assert.equal(c.environments.staging!.initiation, 'automatic');
    const err = configError(() =>
      parseConfig(
        `${BASE}[environments.staging]\nprovider = "sim"\ntrigger = "push:main"\ninitiation = "manual"\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.key, 'environments.staging.initiation');
    assert.equal(err.line, 10);
  });

  it('rejects allow_cli in an automatic environment', () => {
    const err = configError(() =>
      parseConfig(
        `${BASE}[environments.staging]\nprovider = "sim"\ninitiation = "automatic"\nallow_cli = true\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.key, 'environments.staging.allow_cli');
    assert.match(err.message, /--emergency/);
  });

  it('accepts [app.checks.NAME] tables and applies check defaults', () => {
    const c = parseConfig(
      `${BASE}[app.checks.up]\ngroup = "web"\n[app.checks.port]\ntype = "tcp"\nport = 9000\n`,
      'runway.toml',
    );
    assert.deepEqual(c.app.checks, [
      { name: 'up', type: 'http', group: 'web', path: '/', intervalMs: 15_000, timeoutMs: 2000, gracePeriodMs: 1000 },
      { name: 'port', type: 'tcp', port: 9000, intervalMs: 15_000, timeoutMs: 2000, gracePeriodMs: 1000 },
    ]);
  });

  it('rejects a check for an undefined process group, naming the key and line', () => {
    const err = configError(() => parseConfig(`${BASE}\n[[app.checks]]\nname = "up"\ngroup = "api"\n`, 'runway.toml'));
    assert.equal(err.key, 'app.checks[0].group');
    assert.equal(err.line, 10);
    assert.match(err.problem, /"api" is not defined; groups: web, worker/);
  });

  it('rejects duplicate check names', () => {
    const err = configError(() =>
      parseConfig(`${BASE}[[app.checks]]\nname = "up"\n[[app.checks]]\nname = "up"\n`, 'runway.toml'),
    );
    assert.equal(err.key, 'app.checks[1].name');
    assert.equal(err.line, 10);
  });

  it('reads durations in every accepted form', () => {
    const c = parseConfig(
      `${BASE}[app.deploy]\nwait_timeout = 90\nconvergence_timeout = "1m30s"\ndrain_timeout = "500ms"\n[environments.a]\nprovider = "sim"\n[environments.a.deploy]\nwait_timeout = "1h"\ndrain_timeout = 0.25\n`,
      'runway.toml',
    );
    const a = c.environments.a!.deploy;
    assert.equal(a.waitTimeoutMs, 3_600_000);
    assert.equal(a.convergenceTimeoutMs, 90_000);
    assert.equal(a.drainTimeoutMs, 250);
    const err = configError(() => parseConfig(`${BASE}[app.deploy]\nwait_timeout = "soon"\n`, 'runway.toml'));
    assert.equal(err.key, 'app.deploy.wait_timeout');
    assert.equal(err.line, 8);
    assert.match(err.problem, /invalid duration "soon"/);
    const zero = configError(() => parseConfig(`${BASE}[app.deploy]\nwait_timeout = 0\n`, 'runway.toml'));
    assert.match(zero.problem, /longer than 0/);
  });

  it('reads budgets as fractions, counts and percentages, and rejects bad ones', () => {
    const c = parseConfig(
      `${BASE}[environments.a]\nprovider = "sim"\n[environments.a.deploy]\nmax_unavailable = 3\nmax_surge = "25%"\n[environments.b]\nprovider = "sim"\n[environments.b.deploy]\nmax_unavailable = 0.5\nmax_surge = 1\n`,
      'runway.toml',
    );
    assert.deepEqual(c.environments.a!.deploy.maxUnavailable, { count: 3 });
    assert.deepEqual(c.environments.a!.deploy.maxSurge, { fraction: 0.25 });
    assert.deepEqual(c.environments.b!.deploy.maxUnavailable, { fraction: 0.5 });
    assert.deepEqual(c.environments.b!.deploy.maxSurge, { count: 1 });
    for (const [value, pattern] of [
      ['-1', /negative/],
      ['1.5', /whole/],
      ['"150%"', /exceed 100%/],
      ['"lots"', /invalid budget/],
      ['true', /expected a count/],
    ] as const) {
      const err = configError(() => parseConfig(`${BASE}[app.deploy]\nmax_unavailable = ${value}\n`, 'runway.toml'));
      assert.equal(err.key, 'app.deploy.max_unavailable', value);
      assert.equal(err.line, 8, value);
      assert.match(err.problem, pattern, value);
    }
  });

  it('rejects invalid numbers elsewhere', () => {
    const conc = configError(() => parseConfig(`${BASE}[app.deploy]\nmax_concurrency = 0\n`, 'runway.toml'));
    assert.equal(conc.key, 'app.deploy.max_concurrency');
    assert.match(conc.problem, /at least 1/);
    const count = configError(() => parseConfig(`${BASE.replace('count = 100', 'count = -2')}`, 'runway.toml'));
    assert.equal(count.key, 'app.processes.worker.count');
    assert.equal(count.line, 6);
    const reserved = configError(() =>
      parseConfig(
        `${BASE}[app.deploy]\nconnection_budget = { max_connections = 100, per_machine = 5, reserved = 100 }\n`,
        'runway.toml',
      ),
    );
    assert.equal(reserved.key, 'app.deploy.connection_budget.reserved');
    const rate = configError(() => parseConfig(`${BASE}[sim.faults]\nexit_rate = 1.5\n`, 'runway.toml'));
    assert.equal(rate.key, 'sim.faults.exit_rate');
  });

  it('rejects an unknown strategy at the layer that set it, listing valid ones', () => {
    const err = configError(() =>
      parseConfig(
        `[org]\nvars = { DEPLOY_STRATEGY = "blue-green" }\n${BASE}[environments.p]\nprovider = "sim"\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.file, 'runway.toml');
    assert.equal(err.key, 'org.vars.DEPLOY_STRATEGY');
    assert.equal(err.line, 2);
    assert.match(err.problem, /unknown strategy "blue-green" in DEPLOY_STRATEGY \(org layer\)/);
    assert.match(err.problem, /immediate, rolling, bluegreen, canary, waves/);

    const alias = configError(() =>
      parseConfig(
        `${BASE}[environments.p]\nprovider = "sim"\nvars = { FLY_DEPLOY_STRATEGY = "yolo" }\n`,
        'runway.toml',
      ),
    );
    assert.equal(alias.key, 'environments.p.vars.FLY_DEPLOY_STRATEGY');
    assert.match(alias.problem, /environment layer/);
  });

  it('reports a waves environment with max_unavailable 0 and max_surge 0 at load time', () => {
    const err = configError(() =>
      parseConfig(
        `${BASE}[environments.p]\nprovider = "sim"\nvars = { DEPLOY_STRATEGY = "waves" }\n[environments.p.deploy]\nmax_unavailable = 0\nmax_surge = "0%"\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.key, 'environments.p.deploy.max_surge');
    assert.equal(err.line, 12);
    assert.match(err.problem, /max_surge = 0 together with environments\.p\.deploy\.max_unavailable = 0/);
  });

  it('rejects release_command_timeout without a release command', () => {
    const err = configError(() => parseConfig(`[app]\nname = "m"\nrelease_command_timeout = "1m"\n`, 'runway.toml'));
    assert.equal(err.key, 'app.release_command_timeout');
    assert.equal(err.line, 3);
  });

  it('keeps sqlite paths relative to the config directory and leaves other URLs alone', () => {
    assert.equal(
      parseConfig(`${BASE}[store]\nurl = "data/r.db"\n`, '/etc/runway/runway.toml').store.url,
      '/etc/runway/data/r.db',
    );
    assert.equal(parseConfig(`${BASE}[store]\nurl = "/var/r.db"\n`, '/etc/runway/runway.toml').store.url, '/var/r.db');
    assert.equal(
      parseConfig(`${BASE}[store]\nurl = "postgresql://h/db"\n`, '/etc/runway/runway.toml').store.url,
      'postgresql://h/db',
    );
  });
});

describe('config errors', () => {
  it('names an unknown key with its line and suggests the near miss', () => {
    const err = configError(() =>
      parseConfig(
        `${BASE}[environments.staging]\nprovider = "sim"\n\n[environments.staging.deploy]\nmax_surg = "10%"\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.file, 'runway.toml');
    assert.equal(err.key, 'environments.staging.deploy.max_surg');
    assert.equal(err.line, 11);
    assert.match(err.problem, /unknown key \(did you mean "max_surge"\?\)/);
    assert.ok(err.message.startsWith('runway.toml:11: environments.staging.deploy.max_surg: unknown key'), err.message);
    assert.equal(String(err), err.message);
  });

  it('a typo of a required key (provder) is named as the typo, with the hint, not as the key missing', () => {
    const err = configError(() => parseConfig(`${BASE}[environments.staging]\nprovder = "sim"\n`, 'runway.toml'));
    assert.equal(err.key, 'environments.staging.provder');
    assert.equal(err.line, 8);
    assert.match(err.problem, /unknown key \(did you mean "provider"\?\)/);
    // Without a near miss, the key is missing.
    const missing = configError(() =>
      parseConfig(`${BASE}[environments.staging]\ntrigger = "manual"\n`, 'runway.toml'),
    );
    assert.equal(missing.key, 'environments.staging.provider');
    assert.match(missing.problem, /^missing \(required/);
  });

  it('finds unknown keys inside inline tables and at the top level', () => {
    const inline = configError(() =>
      parseConfig(`${BASE}[app.deploy]\nconnection_budget = { max_connections = 10, per_machin = 2 }\n`, 'runway.toml'),
    );
    assert.ok(
      [inline, ...inline.others].some((e) => e.key === 'app.deploy.connection_budget.per_machin' && e.line === 8),
      inline.report(),
    );
    const top = configError(() => parseConfig(`${BASE}\n[deploy]\nstrategy = "waves"\n`, 'runway.toml'));
    assert.equal(top.key, 'deploy');
    assert.equal(top.line, 8);
    assert.match(top.problem, /valid keys here: org, app, environments, sim, store/);
  });

  it('reports the first problem in source order and keeps the others', () => {
    const err = configError(() =>
      parseConfig(
        `${BASE}[app.deploy]\nmax_surge = "lots"\n[environments.x]\nprovider = "cloud"\n[sim]\nspeed = -1\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.line, 8);
    assert.equal(err.key, 'app.deploy.max_surge');
    assert.deepEqual(
      err.others.map((e) => [e.key, e.line]),
      [
        ['environments.x.provider', 10],
        ['sim.speed', 12],
      ],
    );
    assert.equal(err.report().split('\n').length, 3);
  });

  it('points a missing required key at its table', () => {
    const err = configError(() =>
      parseConfig(`${BASE}\n[environments.staging]\ntrigger = "push:main"\n`, 'runway.toml'),
    );
    assert.equal(err.key, 'environments.staging.provider');
    assert.equal(err.line, 8);
    assert.match(err.problem, /missing \(required; one of "sim", "local", "fly"\)/);
  });

  it('gives the line of malformed TOML', () => {
    const err = configError(() => parseConfig(`${BASE}[app.deploy]\nmax_surge = = 2\n`, 'conf/runway.toml'));
    assert.equal(err.file, 'conf/runway.toml');
    assert.equal(err.line, 8);
    assert.equal(err.key, '');
    assert.match(err.message, /^conf\/runway\.toml:8: invalid TOML: /);
  });

  it('omits the line when it is unknown', () => {
    const err = configError(() => parseConfig(`[org]\nname = "acme"\n`, 'runway.toml'));
    assert.equal(err.key, 'app');
    assert.equal(err.line, undefined);
    assert.equal(err.message, 'runway.toml: app: missing (required)');
  });

  it('rejects bad environment and variable names', () => {
    const env = configError(() =>
      parseConfig(`${BASE}[environments."pro duction"]\nprovider = "sim"\n`, 'runway.toml'),
    );
    assert.equal(env.key, 'environments."pro duction"');
    assert.equal(env.line, 7);
    const v = configError(() => parseConfig(`${BASE}[app.vars]\n"1BAD" = "x"\n`, 'runway.toml'));
    assert.equal(v.key, 'app.vars.1BAD');
    assert.equal(v.line, 8);
  });
});

describe('loadConfig', () => {
  it('names a missing file', () => {
    const err = configError(() => loadConfig('/nonexistent/runway.toml'));
    assert.equal(err.file, '/nonexistent/runway.toml');
    assert.match(err.message, /^\/nonexistent\/runway\.toml: file not found$/);
  });

  it('loads examples/sim/runway.toml as documented', () => {
    const c = loadConfig(path.join(ROOT, 'examples/sim/runway.toml'));
    assert.equal(c.app.name, 'mechanic');
    assert.deepEqual(
      c.app.processes.map((p) => [p.name, p.count, p.command]),
      [
        ['web', 400, 'bin/web'],
        ['worker', 100, 'bin/worker'],
      ],
    );
    assert.equal(c.app.checks.length, 1);
    assert.equal(c.app.checks[0]!.group, 'web');
    assert.equal(c.app.checks[0]!.path, '/up');

    const prod = getEnvironment(c, 'production');
    assert.deepEqual(
      [prod.provider, prod.trigger, prod.initiation, prod.strategy],
      ['sim', 'release', 'manual', 'immediate'],
    );
    const staging = getEnvironment(c, 'staging');
    assert.deepEqual(
      [staging.provider, staging.trigger, staging.initiation, staging.strategy],
      ['sim', 'push:main', 'automatic', 'bluegreen'],
    );
    assert.equal(staging.vars.DEPLOY_STRATEGY!.layer, 'org');
    // The example's first comment deploys sandbox from the CLI: its policy must allow that.
    const sandbox = getEnvironment(c, 'sandbox');
    assert.deepEqual(
      [sandbox.provider, sandbox.trigger, sandbox.initiation, sandbox.allowCli, sandbox.strategy],
      ['sim', 'manual', 'manual', true, 'rolling'],
    );
    for (const env of [prod, staging]) {
      assert.equal(env.sim.clock, 'scaled');
      assert.equal(env.sim.speed, 200);
      assert.equal(env.sim.initialRelease, 'v1');
      assert.deepEqual(env.sim.faults.unhealthyReleases, ['v3-broken']);
      assert.equal(resolveStrategySettings(env, c.app.processes).strategy, env.strategy);
    }
  });

  it('reads the file from disk and resolves paths against its directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runway-config-'));
    const file = path.join(dir, 'runway.toml');
    writeFileSync(file, BASE);
    const c = loadConfig(file);
    assert.equal(c.dir, dir);
    assert.equal(c.store.url, path.join(dir, '.runway/runway.db'));
  });
});

describe('getEnvironment', () => {
  it('lists the known environments when the name is unknown', () => {
    const c = parseConfig(
      `${BASE}[environments.production]\nprovider = "sim"\n[environments.staging]\nprovider = "sim"\n`,
      '/x/runway.toml',
    );
    assert.equal(getEnvironment(c, 'staging').name, 'staging');
    const err = configError(() => getEnvironment(c, 'prod'));
    assert.equal(err.file, '/x/runway.toml');
    assert.equal(err.key, 'environments.prod');
    assert.match(err.problem, /unknown environment "prod"; known environments: production, staging/);
    // Names that happen to be Object.prototype members are not environments.
    assert.throws(() => getEnvironment(c, 'toString'), /unknown environment "toString"/);
  });
});
