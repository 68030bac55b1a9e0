// `[environments.X.local]`: every key read, converted and defaulted; mistakes are errors naming the key.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { localAppConfig } from '../../src/providers/local/app-config.js';
import { LOCAL_DEFAULTS } from '../../src/providers/local/options.js';
import { BASE, configError } from './helpers.js';

const FILE = '/projects/shop/runway.toml';

function local(table: string): string {
  return `${BASE}
[environments.dev]
provider = "local"
trigger = "manual"
${table ? `[environments.dev.local]\n${table}` : ''}
`;
}

describe('[environments.X.local]', () => {
  it('reads every key: durations, ports, signal, paths relative to runway.toml', () => {
    const config = parseConfig(
      local(`proxy_port = 4000
base_port = 20000
port_count = 50
state_dir = "state"
releases_dir = "../artifacts"
stop_signal = "SIGINT"
stop_timeout = "3s"
drain_timeout = 2
queue_timeout = "500ms"
serve = ["web"]
secrets_file = ".env.local"
ready_after = "1s"
boot_concurrency = 3`),
      FILE,
    );
    const env = config.environments.dev!;
    assert.deepEqual(env.local, {
      proxyPort: 4000,
      basePort: 20000,
      portCount: 50,
      stateDir: 'state',
      releasesDir: '../artifacts',
      stopSignal: 'SIGINT',
      stopTimeoutMs: 3000,
      drainTimeoutMs: 2000,
      queueTimeoutMs: 500,
      serve: ['web'],
      secretsFile: '.env.local',
      readyAfterMs: 1000,
      bootConcurrency: 3,
    });
    const app = localAppConfig(config, env);
    assert.equal(app.options.stateDir, '/projects/shop/state');
    assert.equal(app.options.releasesDir, '/projects/artifacts');
    assert.equal(app.options.secretsFile, '/projects/shop/.env.local');
  });

  it('defaults every key, the state directory per app and environment', () => {
    const config = parseConfig(local(''), FILE);
    const app = localAppConfig(config, config.environments.dev!);
    assert.equal(app.options.proxyPort, 0);
    assert.equal(app.options.basePort, 0);
    assert.equal(app.options.stopSignal, 'SIGTERM');
    assert.equal(app.options.stopTimeoutMs, LOCAL_DEFAULTS.stopTimeoutMs);
    assert.equal(app.options.queueTimeoutMs, LOCAL_DEFAULTS.queueTimeoutMs);
    assert.equal(app.options.stateDir, path.join('/projects/shop', '.runway/local/mechanic-dev'));
    assert.equal(app.options.releasesDir, '/projects/shop/releases');
    assert.ok(app.options.bootConcurrency >= 1);
    assert.equal(app.options.serve, undefined);
  });

  it('rejects unknown keys, bad signals, ports and durations, naming the key and its line', () => {
    const unknown = configError(() => parseConfig(local('proxy_prot = 4000'), FILE));
    assert.match(unknown.message, /environments\.dev\.local/);
    assert.match(unknown.message, /proxy_prot/);
    assert.match(unknown.message, /proxy_port/, 'lists the valid keys');
    const signal = configError(() => parseConfig(local('stop_signal = "SIGNOPE"'), FILE));
    assert.match(signal.message, /environments\.dev\.local\.stop_signal/);
    assert.match(signal.message, /signal name/);
    assert.match(configError(() => parseConfig(local('proxy_port = 70000'), FILE)).message, /proxy_port/);
    assert.match(
      configError(() => parseConfig(local('base_port = 65500\nport_count = 100'), FILE)).message,
      /goes past port 65535/,
    );
    assert.match(
      configError(() => parseConfig(local('stop_timeout = "soon"'), FILE)).message,
      /stop_timeout.*invalid duration/,
    );
    assert.match(
      configError(() => parseConfig(local('stop_timeout = 0'), FILE)).message,
      /stop_timeout.*longer than 0/,
    );
    assert.match(configError(() => parseConfig(local('boot_concurrency = 0'), FILE)).message, /boot_concurrency/);
  });
});
