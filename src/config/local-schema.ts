// `[environments.X.local]`: settings of the `local` provider (real processes behind runway's proxy).
// The output type is LocalOptionsInput; defaults and path resolution are the provider's
// (src/providers/local/options.ts).
//
// ```toml
// [environments.dev.local]
// proxy_port = 4000                # the environment's proxy on 127.0.0.1. Default 0: a free port
// base_port = 20000                # first machine port (PORT). Default 0: ports the OS hands out
// port_count = 100                 # ports from base_port machines may use. Default 1000
// state_dir = ".runway/local/demo-dev"   # pids, start times, ports, logs. Default .runway/local/<app>-<env>
// releases_dir = "releases"        # <releases_dir>/<version>/runway-release.toml. Default "releases"
// stop_signal = "SIGTERM"          # asks a machine to stop; SIGKILL after stop_timeout. Default SIGTERM
// stop_timeout = "10s"             # default 10s
// drain_timeout = "10s"            # in-flight requests finish before the provider itself stops a machine. Default 10s
// queue_timeout = "10s"            # the proxy holds requests this long while no machine can take them. Default 10s
// serve = ["web"]                  # groups the proxy routes to. Default: groups with an http check, else the first
// secrets_file = ".env.local"      # KEY=VALUE lines given to every machine (keep it out of git)
// ready_after = "500ms"            # groups without checks pass once up this long. Default 500ms
// boot_concurrency = 4             # machines booting at once (until checks pass or grace ends). Default: CPUs
// ```

import { constants } from 'node:os';
import { z } from 'zod';
import type { LocalOptionsInput } from '../providers/local/options.js';
import { table } from './schema-table.js';
import { duration, positiveDuration } from './schema-values.js';

const port = () => z.number().int().min(0).max(65535);
const name = () => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: 'use letters, digits, "-" and "_"' });
const SIGNALS = Object.keys(constants.signals);

export const localSchema = table({
  proxy_port: port().optional(),
  base_port: port().optional(),
  port_count: z.number().int().min(1).max(65535).optional(),
  state_dir: z.string().min(1).optional(),
  releases_dir: z.string().min(1).optional(),
  stop_signal: z
    .string()
    .refine((s) => SIGNALS.includes(s), { error: 'expected a signal name such as "SIGTERM", "SIGINT" or "SIGQUIT"' })
    .optional(),
  stop_timeout: positiveDuration().optional(),
  drain_timeout: duration().optional(),
  queue_timeout: duration().optional(),
  serve: z.array(name()).min(1).optional(),
  secrets_file: z.string().min(1).optional(),
  ready_after: duration().optional(),
  boot_concurrency: z.number().int().min(1).optional(),
})
  .refine((t) => t.base_port === undefined || t.base_port === 0 || t.base_port + (t.port_count ?? 1000) - 1 <= 65535, {
    error: 'base_port + port_count goes past port 65535',
    path: ['port_count'],
  })
  .transform((t): LocalOptionsInput => {
    const out: LocalOptionsInput = {};
    if (t.proxy_port !== undefined) out.proxyPort = t.proxy_port;
    if (t.base_port !== undefined) out.basePort = t.base_port;
    if (t.port_count !== undefined) out.portCount = t.port_count;
    if (t.state_dir !== undefined) out.stateDir = t.state_dir;
    if (t.releases_dir !== undefined) out.releasesDir = t.releases_dir;
    if (t.stop_signal !== undefined) out.stopSignal = t.stop_signal as NodeJS.Signals;
    if (t.stop_timeout !== undefined) out.stopTimeoutMs = t.stop_timeout;
    if (t.drain_timeout !== undefined) out.drainTimeoutMs = t.drain_timeout;
    if (t.queue_timeout !== undefined) out.queueTimeoutMs = t.queue_timeout;
    if (t.serve !== undefined) out.serve = t.serve;
    if (t.secrets_file !== undefined) out.secretsFile = t.secrets_file;
    if (t.ready_after !== undefined) out.readyAfterMs = t.ready_after;
    if (t.boot_concurrency !== undefined) out.bootConcurrency = t.boot_concurrency;
    return out;
  });
