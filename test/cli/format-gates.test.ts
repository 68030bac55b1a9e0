import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { resolveStrategySettings } from '../../src/config/settings.js';
import { formatGates, gatesJson } from '../../src/cli/format-gates.js';

const CONFIG = `
[app]
name = "shop"
release_command = "bin/migrate"
release_command_timeout = "3m"
[app.processes]
web = { count = 2, command = "bin/web" }
worker = { count = 1, command = "bin/worker" }
[[app.checks]]
name = "up"
type = "http"
group = "web"
path = "/up"
interval = "5s"
timeout = "2s"
grace_period = "10s"
[[app.checks]]
name = "port"
type = "tcp"
port = 9000

[environments.production]
provider = "sim"
vars = { DEPLOY_STRATEGY = "waves" }
[environments.production.deploy]
wait_timeout = "4m"

[environments.staging]
provider = "sim"
vars = { DEPLOY_STRATEGY = "immediate" }
`;

describe('deploy --dry-run: what a real run would meet besides the plan', () => {
  const config = parseConfig(CONFIG, 'runway.toml');

  it('names the release command and the checks gating each group, with wait_timeout', () => {
    const env = config.environments.production!;
    const text = formatGates(config, env, resolveStrategySettings(env, config.app.processes));
    assert.match(
      text,
      /release steps {2}1\. release command `bin\/migrate` once, on a throw-away machine of the target release \(timeout 3m\)/,
    );
    assert.match(
      text,
      /checks that gate each step \(a new or updated machine must pass them on the target release within 4m\)/,
    );
    assert.match(
      text,
      /\n {2}web {5}up: http GET \/up every 5s, timeout 2s, grace 10s; port: tcp on port 9000 every 15s/,
    );
    assert.match(text, /\n {2}worker {2}port: tcp on port 9000/, 'a check without a group applies to every group');
  });

  it('for immediate, says the checks decide convergence rather than gate', () => {
    const env = config.environments.staging!;
    const text = formatGates(config, env, resolveStrategySettings(env, config.app.processes));
    assert.match(
      text,
      /checks that decide convergence \(immediate does not wait on them; .* within 10m is a straggler\)/,
    );
  });

  it('gives the same gates as data for --json', () => {
    const env = config.environments.production!;
    const gates = gatesJson(config, env, resolveStrategySettings(env, config.app.processes));
    assert.deepEqual(gates.releaseSteps, [
      { name: 'release-command', settings: {}, command: 'bin/migrate', timeoutMs: 180_000 },
    ]);
    assert.equal(gates.checksDecide, 'gate');
    assert.equal(gates.withinMs, 240_000);
    assert.deepEqual(
      gates.groups.map((g) => [g.group, g.checks.map((c) => c.name)]),
      [
        ['web', ['up', 'port']],
        ['worker', ['port']],
      ],
    );
    const staging = config.environments.staging!;
    assert.equal(
      gatesJson(config, staging, resolveStrategySettings(staging, config.app.processes)).checksDecide,
      'convergence',
    );
  });
});
