// fly.toml's machine sections held to Fly's published machine config schema when runway reads the
// file: each mistake a user can make is reported as `file:line: key: problem`, and a fly.toml written
// from Fly's documentation passes.

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { importFlyToml } from '../../src/config/fly-toml.js';
import { parseConfig } from '../../src/config/load.js';
import { CONFIG_CONSTRAINTS, machineConfigProblems } from '../../src/providers/fly/spec/machine-config-check.js';
import { configError } from './helpers.js';

// Each case: fly.toml text and the exact message of its first problem.
const BAD: [name: string, toml: string, message: string][] = [
  [
    'a cpu kind Fly does not have',
    `app = "x"\n\n[[vm]]\n  cpu_kind = "perfomance"\n`,
    'fly.toml:4: vm[0].cpu_kind: must be one of "shared", "performance"; got the string "perfomance"',
  ],
  [
    'memory_mb not a number',
    `app = "x"\n[[vm]]\nmemory_mb = "lots"\n`,
    'fly.toml:3: vm[0].memory_mb: expected a whole number, got the string "lots"',
  ],
  [
    'memory in no unit flyctl reads',
    `app = "x"\n[vm]\nmemory = "1tb"\n`,
    'fly.toml:3: vm.memory: expected a memory size such as "512mb" or "1gb", or a number of megabytes; got the string "1tb"',
  ],
  ['cpus below 1', `app = "x"\n[[vm]]\ncpus = 0\n`, 'fly.toml:3: vm[0].cpus: must be at least 1; got number 0'],
  [
    'a service protocol Fly does not have',
    `app = "x"\n[[services]]\ninternal_port = 8080\nprotocol = "tcpp"\n`,
    'fly.toml:4: services[0].protocol: must be one of "tcp", "udp"; got the string "tcpp"',
  ],
  [
    'internal_port out of range',
    `app = "x"\n[[services]]\ninternal_port = 70000\n`,
    'fly.toml:3: services[0].internal_port: must be at most 65535; got number 70000',
  ],
  [
    'a public port of 0',
    `app = "x"\n[[services]]\ninternal_port = 8080\n[[services.ports]]\nport = 0\n`,
    'fly.toml:5: services[0].ports[0].port: must be at least 1; got number 0',
  ],
  [
    'handlers not an array',
    `app = "x"\n[[services]]\ninternal_port = 8080\n[[services.ports]]\nport = 443\nhandlers = "tls"\n`,
    'fly.toml:6: services[0].ports[0].handlers: expected an array, got the string "tls"',
  ],
  [
    'an unknown key in a port',
    `app = "x"\n[[services]]\ninternal_port = 8080\n[[services.ports]]\nport = 443\nhandler = ["tls"]\n`,
    'fly.toml:6: services[0].ports[0].handler: unknown key (did you mean "handlers"?); valid keys here: port, start_port, end_port, handlers, force_https, http_options, tls_options, proxy_proto_options',
  ],
  [
    'a concurrency type Fly does not have',
    `app = "x"\n[[services]]\ninternal_port = 8080\n[services.concurrency]\ntype = "request"\n`,
    'fly.toml:5: services[0].concurrency.type: must be one of "connections", "requests"; got the string "request"',
  ],
  [
    'auto_stop_machines neither boolean nor a mode',
    `app = "x"\n[http_service]\ninternal_port = 8080\nauto_stop_machines = "pause"\n`,
    'fly.toml:4: http_service.auto_stop_machines: must be true, false, "off", "stop" or "suspend"; got the string "pause"',
  ],
  [
    'force_https not a boolean',
    `app = "x"\n[http_service]\ninternal_port = 8080\nforce_https = "yes"\n`,
    'fly.toml:4: http_service.force_https: expected a boolean, got the string "yes"',
  ],
  [
    'http_options (sent on both ports) reported once',
    `app = "x"\n[http_service]\ninternal_port = 8080\n[http_service.http_options]\ncompress = 1\n`,
    'fly.toml:5: http_service.http_options.compress: expected a boolean, got number 1',
  ],
  [
    'an unknown restart policy',
    `app = "x"\n[[restart]]\n  policy = "sometimes"\n`,
    'fly.toml:3: restart[0].policy: must be one of "always", "never", "on-failure"; got the string "sometimes"',
  ],
  [
    'the Machines API word in fly.toml',
    `app = "x"\n[[restart]]\npolicy = "no"\n`,
    'fly.toml:3: restart[0].policy: must be one of "always", "never", "on-failure"; got the string "no"',
  ],
  [
    'retries below 0',
    `app = "x"\n[[restart]]\npolicy = "on-failure"\nretries = -1\n`,
    'fly.toml:4: restart[0].retries: must be at least 0; got number -1',
  ],
  [
    'an env value that is not a string',
    `app = "x"\n[env]\nRAILS_ENV = "production"\nPORT = 8080\n`,
    'fly.toml:4: env.PORT: expected a string, got number 8080',
  ],
  [
    'a mount destination that is not a path',
    `app = "x"\n[mounts]\nsource = "data"\ndestination = 7\n`,
    'fly.toml:4: mounts.destination: expected a string, got number 7',
  ],
  [
    'an unknown key in [mounts]',
    `app = "x"\n[[mounts]]\nsource = "data"\ndestinaton = "/data"\n`,
    'fly.toml:4: mounts[0].destinaton: unknown key (did you mean "destination"?); valid keys here: source, destination, processes, initial_size, snapshot_retention, scheduled_snapshots, auto_extend_size_threshold, auto_extend_size_increment, auto_extend_size_limit',
  ],
  [
    'a static without its url_prefix',
    `app = "x"\n[[statics]]\nguest_path = "/app/public"\n`,
    'fly.toml:2: statics[0].url_prefix: missing (required)',
  ],
  [
    'a metrics port out of range',
    `app = "x"\n[metrics]\nport = 99999\npath = "/metrics"\n`,
    'fly.toml:3: metrics.port: must be at most 65535; got number 99999',
  ],
  [
    'processes not a list',
    `app = "x"\n[[vm]]\nmemory = "1gb"\nprocesses = "web"\n`,
    'fly.toml:4: vm[0].processes: expected an array of process group names, got the string "web"',
  ],
  [
    'a section that is not a table',
    `app = "x"\nvm = "big"\n`,
    'fly.toml:2: vm: expected a table or an array of tables, got the string "big"',
  ],
];

describe('fly.toml machine sections are held to Fly’s machine config schema', () => {
  for (const [name, toml, message] of BAD) {
    it(`refuses ${name}`, () => {
      assert.equal(configError(() => importFlyToml(toml, 'fly.toml')).message, message);
    });
  }

  it('reports every problem in one pass, in line order, a key both checks refuse once', () => {
    const err = configError(() =>
      importFlyToml(
        `app = "x"\n[[vm]]\ncpu_kind = "fast"\n[http_service]\ninternal_port = "80"\n[[services]]\ninternal_port = 8080\nprotocol = "tcpp"\n`,
        'fly.toml',
      ),
    );
    assert.deepEqual(err.report().split('\n'), [
      'fly.toml:3: vm[0].cpu_kind: must be one of "shared", "performance"; got the string "fast"',
      'fly.toml:5: http_service.internal_port: expected a number, got the string "80"',
      'fly.toml:8: services[0].protocol: must be one of "tcp", "udp"; got the string "tcpp"',
    ]);
  });

  it('accepts a fly.toml written from Fly’s documentation, every machine section used', () => {
    const good = `app = "mechanic"
primary_region = "ord"

[env]
  RAILS_ENV = "production"

[processes]
  web = "bin/rails server"
  worker = "bundle exec sidekiq"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = "stop"
  auto_start_machines = true
  min_machines_running = 1
  processes = ["web"]
  [http_service.concurrency]
    type = "requests"
    soft_limit = 200
    hard_limit = 250
  [http_service.http_options]
    h2_backend = true
  [http_service.tls_options]
    alpn = ["h2", "http/1.1"]

[[services]]
  internal_port = 5432
  protocol = "tcp"
  processes = ["worker"]
  auto_stop_machines = false
  [[services.ports]]
    port = 5432
    handlers = ["pg_tls"]
  [[services.ports]]
    start_port = 10000
    end_port = 10010

[[vm]]
  memory = "1gb"
  cpu_kind = "performance"
  cpus = 2
  processes = ["web"]

[[vm]]
  size = "shared-cpu-1x"
  memory_mb = 512
  processes = ["worker"]

[[restart]]
  policy = "never"
  processes = ["worker"]

[[mounts]]
  source = "data"
  destination = "/data"
  initial_size = "10gb"
  auto_extend_size_threshold = 80
  auto_extend_size_increment = "1GB"
  auto_extend_size_limit = "50GB"
  processes = ["web"]

[[statics]]
  guest_path = "/app/public"
  url_prefix = "/static"

[[metrics]]
  port = 9091
  path = "/metrics"

[[files]]
  guest_path = "/etc/app.json"
  local_path = "config/app.json"
`;
    assert.equal(importFlyToml(good, 'fly.toml').app, 'mechanic');
  });

  it('fails loading runway.toml, naming fly.toml and its line, before anything else runs', () => {
    const files: Record<string, string> = {
      '/srv/mechanic/fly.toml': `app = "x"\n[[vm]]\n  cpu_kind = "perfomance"\n`,
    };
    const err = configError(() =>
      parseConfig(
        `[app]\nfly_toml = "fly.toml"\n[environments.production]\nprovider = "fly"\n`,
        '/srv/mechanic/runway.toml',
        { readFile: (f) => files[path.resolve(f)]! },
      ),
    );
    assert.equal(
      err.message,
      '/srv/mechanic/fly.toml:3: vm[0].cpu_kind: must be one of "shared", "performance"; got the string "perfomance"',
    );
  });

  it('narrows only properties the published spec has (each constraint names where Fly documents it)', () => {
    for (const c of CONFIG_CONSTRAINTS) assert.ok(c.evidence.length > 10, `${c.definition}.${c.property}`);
    assert.deepEqual(
      machineConfigProblems({ guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, restart: { policy: 'no' } }),
      [],
    );
    const problems = machineConfigProblems({ restart: { policy: 'never' } });
    assert.deepEqual(
      problems.map((p) => [p.path, p.error.keyword]),
      [[['restart', 'policy'], 'enum']],
      'the API itself says "no", not "never"',
    );
  });
});
