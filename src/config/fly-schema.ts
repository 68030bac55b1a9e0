// `[environments.X.fly]`: settings of the `fly` provider (Fly Machines API). Every key optional;
// defaults are the provider's (src/providers/fly/options.ts, documented in docs/fly-provider.md).
//
// ```toml
// [environments.production.fly]
// app = "mechanic-production"        # Fly app of the environment; default "<app>-<environment>"
// api_url = "https://api.machines.dev"   # default; a `runway sim serve` address in tests
// token_file = "secrets/fly-token"   # file with the API token (relative to runway.toml); default $FLY_API_TOKEN
// region = "ams"                     # region of new machines; default Fly's choice
// lease_ttl = "30s"                  # machine lease TTL (refreshed while runway works on the machine)
// lease_wait = "1m"                  # how long to wait for a lease someone else holds
// request_timeout = "30s"            # longest wait for an API answer (waits excepted)
// poll_interval = "1s"               # health polling while waiting for checks
// consistency_grace = "5s"           # a new machine that 404s this soon after its create is retried
// time_scale = 1                     # only against `runway sim serve --speed X`: set it to X
// ```

import { z } from 'zod';
import type { FlyOptions } from '../providers/fly/options.js';
import { table } from './schema-table.js';
import { describe, parseDurationMs } from './values.js';

// Local duration parsers: schema.ts imports this file, so importing its helpers back would be circular.
const duration = (min: number) =>
  z
    .union([z.number(), z.string()], {
      error: (iss) => `expected a duration such as "30s" or a number of seconds, got ${describe(iss.input)}`,
    })
    .transform((v, ctx) => {
      try {
        const ms = parseDurationMs(v);
        if (ms < min) ctx.issues.push({ code: 'custom', message: `must be at least ${min} ms`, input: v });
        return ms;
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: v });
        return z.NEVER;
      }
    });

const FLY_APP = /^[a-z0-9][a-z0-9-]*$/;

export const flySchema = table({
  app: z.string().regex(FLY_APP, { error: 'Fly app names are lowercase letters, digits and "-"' }).optional(),
  api_url: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "https://api.machines.dev"' })
    .optional(),
  token_file: z.string().min(1).optional(),
  region: z
    .string()
    .regex(/^[a-z]{3}$/, { error: 'expected a three-letter Fly region code such as "ams"' })
    .optional(),
  // Fly leases are whole seconds; a lease shorter than 3 s could lapse between two refreshes.
  lease_ttl: duration(3_000).optional(),
  lease_wait: duration(0).optional(),
  request_timeout: duration(100).optional(),
  poll_interval: duration(50).optional(),
  consistency_grace: duration(0).optional(),
  time_scale: z.number().positive().optional(),
}).transform((t): Partial<FlyOptions> => {
  const out: Partial<FlyOptions> = {};
  if (t.app !== undefined) out.app = t.app;
  if (t.api_url !== undefined) out.apiUrl = t.api_url.replace(/\/+$/, '');
  if (t.token_file !== undefined) out.tokenFile = t.token_file;
  if (t.region !== undefined) out.region = t.region;
  if (t.lease_ttl !== undefined) out.leaseTtlMs = t.lease_ttl;
  if (t.lease_wait !== undefined) out.leaseWaitMs = t.lease_wait;
  if (t.request_timeout !== undefined) out.requestTimeoutMs = t.request_timeout;
  if (t.poll_interval !== undefined) out.pollIntervalMs = t.poll_interval;
  if (t.consistency_grace !== undefined) out.consistencyGraceMs = t.consistency_grace;
  if (t.time_scale !== undefined) out.timeScale = t.time_scale;
  return out;
});
