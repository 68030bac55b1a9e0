/**
 * The shape of runway.toml. Every table is strict: an unknown key is an error that names it (typos
 * in deploy settings must not be silently ignored). This comment is the reference for every key.
 *
 * ```toml
 * [org]                                  # optional
 * name = "acme"                          # optional, informational
 * vars = { DEPLOY_STRATEGY = "bluegreen" }   # organisation-layer variables (lowest)
 *
 * [app]                                  # required
 * name = "mechanic"                      # required unless the imported fly.toml has `app`
 * fly_toml = "fly.toml"                  # optional: import from a fly.toml (path relative to this file):
 *                                        #   [deploy] strategy/max_unavailable/wait_timeout/release_command/
 *                                        #   release_command_timeout, [processes], http/tcp checks, `app`.
 *                                        #   Keys written in runway.toml win over imported ones.
 *                                        #   Its machine sections ([[vm]], [[services]], [http_service],
 *                                        #   [[restart]], [[mounts]], [env], [[statics]], [[metrics]], [[files]])
 *                                        #   are checked against Fly's machine config schema: fly.toml:LINE: key: problem.
 * vars = { LOG_LEVEL = "info" }          # app-layer variables (values: strings, numbers or booleans)
 * release_command = "bin/migrate"        # optional: runs once on a fresh machine before serving machines change
 * release_command_timeout = "5m"         # default 5m
 * release_steps = ["sidekiq-quiet", "release-command"]   # run in this order before serving machines change;
 *                                        #   default ["release-command"] when release_command is set, else none
 * [app.release_step.sidekiq-quiet]       # a step's settings (docs/release-steps.md); environments may override
 * namespace = "myapp"                    #   keys in [environments.X.release_step.sidekiq-quiet], and the list
 * timeout = "30s"                        #   with their own release_steps
 *
 * [app.processes]                        # process groups; default: one group `app` with count 1
 * web = { count = 400, command = "bin/web" }   # count: whole number >= 0, default 1; command optional
 * worker = { count = 100, command = "bin/worker" }
 *
 * [[app.checks]]                         # health checks, as an array of tables with a `name`...
 * name = "up"
 * type = "http"                          # http (default) | tcp
 * group = "web"                          # process group; omitted = every group
 * path = "/up"                           # http only; default "/"
 * port = 8080                            # optional: the provider's default port for the group
 * interval = "5s"                        # default 15s
 * timeout = "2s"                         # default 2s
 * grace_period = "5s"                    # default 1s
 * # ...or as named tables: [app.checks.up] with the same keys minus `name`. One form per file.
 *
 * [[app.analysis]]                       # metrics of the new release against the old one's, after each
 *                                        #   step's health checks (docs/analysis.md); fails the step like a check
 * name = "errors"
 * metric = "error_rate"                  # error_rate (5xx share) | latency (needs quantile) | query (PromQL)
 * quantile = 0.99                        # latency only
 * query = 'sum(rate(http_requests_total{release="{{release}}",code=~"5.."}[{{window}}]))'   # query only
 * source = "proxy"                       # proxy (local provider; error_rate, latency) | prometheus (query)
 * group = "web"                          # optional: only this group's machines
 * max = 0.02                             # fail above this (absolute) ...
 * max_ratio = 2                          # ... and/or above the old release's value × this. One is required
 * interval = "10s"                       # between measurements. Default 10s
 * window = "30s"                         # each measurement covers this much. Default = interval
 * count = 3                              # measurements per step. Default 3
 * failure_limit = 1                      # failed measurements that fail the step. Default 1
 * min_requests = 10                      # proxy: fewer requests in a window = no data. Default 10
 *
 * [app.deploy]                           # deploy settings for every environment (all optional)
 * max_unavailable = 0.33                 # machines of a group out of traffic at once: number < 1 = fraction,
 *                                        #   whole number >= 1 = count, "33%" = fraction. Default 0.33;
 *                                        #   0 for bluegreen and waves (they keep full capacity)
 * max_surge = "10%"                      # waves only: extra machines at once (same forms). Default 10%
 * max_concurrency = 256                  # provider operations in flight (waits excepted). Default 256
 * wait_timeout = "5m"                    # per machine: reach the target version and pass checks. Default 5m
 * convergence_timeout = "10m"            # immediate: time to converge before stragglers are named. Default 10m
 * on_failure = "rollback"                # rollback (default) | halt
 * on_abort = "rollback"                  # after an abort: rollback (default) what changed | leave it
 * rollback_strategy = "immediate"        # strategy of `runway rollback` (default immediate, convergence tracked)
 * recover_policy = "redo"                # `runway recover` when a minority got the release: redo (default) | rollback
 * pause_before_cutover = false           # bluegreen: wait for an explicit promote. Default false
 * drain_timeout = "10s"                  # between cordoning a machine and stopping it. Default 10s
 * provider_outage_timeout = "2m"         # how long a deploy waits for a provider that does not answer
 *                                        #   (refused, reset, timeouts, 5xx, 429) before it gives up. Default 2m
 * new_volumes = "none"                   # how machines standing in for ones with volumes get theirs: none
 *                                        #   (default: such groups roll in place) | fork (forks of the volumes)
 * region_order = ["ord", "*"]            # regions rolled one after another, each checked before the next;
 *                                        #   "*" = every region not named (implied last). Default: all at once
 * connection_budget = { max_connections = 2000, per_machine = 10, reserved = 0 }
 *                                        # caps extra machines fleet-wide at
 *                                        #   floor((max_connections - reserved) / per_machine) - desired machines;
 *                                        #   reserved defaults to 0. Replaced as a whole by an environment's.
 *
 * [environments.production]              # one table per environment (name: letters, digits, - and _)
 * provider = "sim"                       # required: sim | local | fly
 * trigger = "release"                    # release | push:<branch> | manual; optional
 * initiation = "manual"                  # manual | automatic. Default: automatic for push:<branch>
 *                                        #   triggers, else manual. A push trigger requires automatic.
 * allow_cli = false                      # manual environments only: CLI deploys without --emergency. Default false
 * url = "https://mechanic.example.com"   # optional: the environment's address (GitHub's environment_url)
 * vars = { DEPLOY_STRATEGY = "immediate" }   # environment-layer variables (highest)
 * [environments.production.deploy]       # same keys as [app.deploy]; each key overrides the app's
 * [environments.production.sim]          # same keys as [sim]; overrides them for this environment
 * [[environments.production.analysis]]   # replaces [[app.analysis]] as a whole here (analysis = [] turns it off)
 * [environments.production.prometheus]   # same keys as [prometheus]; replaces it for this environment
 *
 * [sim]                                  # simulated fleet (provider "sim"); every key optional
 * clock = "scaled"                       # virtual | scaled. Default scaled
 * speed = 50                             # scaled clock: simulated seconds per real second. Default 50
 * seed = 1                               # seed of every random choice. Default 1
 * rate_limits = true                     # enforce Fly's API rate limits. Default true
 * initial_release = "v1"                 # release a new fleet starts on
 * [sim.latency]                          # per operation: api create update boot checks stop destroy
 * api = { dist = "constant", ms = 100 }  # constant: ms = milliseconds (or a duration string)
 * boot = { dist = "lognormal", median = "1.5s", p99 = "4s" }   # lognormal: durations, p99 >= median
 * [sim.faults]
 * error_rate = 0.01                      # probability of a 503 per API call; or a table per op,
 *                                        #   e.g. { create = 0.05, all = 0.01 }
 * timeout_rate = 0                       # probability an API call times out
 * boot_failure_releases = ["v3-crash"]   # machines on these releases exit right after starting
 * unhealthy_releases = ["v3-broken"]     # machines on these releases never pass checks
 * exit_rate = 0                          # probability a started machine later exits
 * flap_rate = 0                          # probability checks flap once after passing
 * revert_rate = 0                        # probability an update silently comes back on the old release
 *
 * [prometheus]                           # where query analyses go (Fly: https://api.fly.io/prometheus/ORG)
 * url = "http://127.0.0.1:9090"
 * token_env = "FLY_API_TOKEN"            # optional bearer token: token_env (a variable) or token_file
 *
 * [store]
 * url = ".runway/runway.db"              # SQLite file (relative to this file; the default) or postgres://...
 *
 * [github]                               # optional: `runway server`'s GitHub webhook endpoint
 * webhook_secret_file = "secrets/github-webhook"   # file holding the webhook secret (relative to this file);
 *                                        #   $RUNWAY_GITHUB_WEBHOOK_SECRET wins. Without either the endpoint is off
 * repository = "acme/mechanic"           # optional: GitHub Deployments and statuses for every deploy (docs/github.md);
 *                                        #   webhook events of other repositories are answered 202 and ignored;
 *                                        #   auth: $RUNWAY_GITHUB_TOKEN, or a GitHub App installation:
 * app_id = 12345                         #   app_id, installation_id and private_key_file (a PEM file) together
 * installation_id = 678
 * private_key_file = "secrets/github-app.pem"
 * api_url = "https://api.github.com"     # optional: GitHub Enterprise (https://HOST/api/v3)
 * deployments = true                     # default true when repository is set
 * production_environments = ["production"]   # GitHub's production_environment; default: trigger = "release" ones
 *
 * [server]
 * public_url = "https://runway.example.com"  # the dashboard's address: log_url and notification links
 *
 * [notifications.targets.team]           # one table per target (docs/github.md#notifications)
 * type = "slack"                         # slack (incoming webhook) | webhook (JSON, HMAC-SHA256 signed)
 * url_env = "SLACK_WEBHOOK_URL"          # url = "https://..." or url_env = the variable holding it
 * secret_env = "RUNWAY_NOTIFY_SECRET"    # webhook only: secret_env or secret_file (the signing key)
 * events = ["started", "failed"]         # default all: started succeeded failed rolled_back aborted emergency stragglers
 * environments = ["production"]          # default all
 *
 * [secrets]                              # optional: encryption of secret values at rest
 * key_file = "secrets/runway.key"        # file holding the 32-byte key (base64 or hex); $RUNWAY_SECRET_KEY wins
 * ```
 *
 * Durations: "500ms", "30s", "5m", "1h", "1m30s", or a number of seconds.
 *
 * Variables are layered org < app < environment (as GitHub Actions variables). `DEPLOY_STRATEGY`
 * (immediate | rolling | bluegreen | canary | waves; default rolling) picks the strategy;
 * `FLY_DEPLOY_STRATEGY` is an alias. The highest layer that sets either name decides; within one
 * layer `DEPLOY_STRATEGY` wins over the alias. See layers.ts.
 */

import { z } from 'zod';
import { table } from './schema-table.js';
import { localSchema } from './local-schema.js';
import { flySchema } from './fly-schema.js';
import { githubSchema, notificationsSchema, serverSchema } from './integrations-schema.js';
export { table } from './schema-table.js';
import { parseDurationMs } from './values.js';
import { budget, duration, positiveDuration } from './schema-values.js';
export { budget, duration, positiveDuration } from './schema-values.js';
import { analysisSchema, prometheusSchema } from './analysis-schema.js';
import { NEW_VOLUMES, STRATEGIES } from '../domain/types.js';
import type { SimOverrides } from './sim-options.js';

const probability = () => z.number().min(0).max(1);

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const name = () =>
  z.string().regex(NAME, { error: 'use letters, digits, "-" and "_", starting with a letter or digit' });
const varName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'variable names are letters, digits and "_", not starting with a digit' })
  .refine((n) => n !== '__proto__', { error: 'reserved name' });
// GitHub Actions variables are strings; numbers and booleans are accepted and kept as written.
const vars = () =>
  z.record(
    varName,
    z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }).transform(String),
  );

export const deploySchema = table({
  max_unavailable: budget().optional(),
  max_surge: budget().optional(),
  max_concurrency: z.number().int().min(1).optional(),
  wait_timeout: positiveDuration().optional(),
  convergence_timeout: positiveDuration().optional(),
  on_failure: z.enum(['rollback', 'halt']).optional(),
  on_abort: z.enum(['rollback', 'leave']).optional(),
  rollback_strategy: z.enum(STRATEGIES).optional(),
  recover_policy: z.enum(['redo', 'rollback']).optional(),
  pause_before_cutover: z.boolean().optional(),
  drain_timeout: duration().optional(),
  provider_outage_timeout: positiveDuration().optional(),
  new_volumes: z.enum(NEW_VOLUMES).optional(),
  region_order: z
    .array(
      z.string().regex(/^(\*|[a-z0-9]+)$/, {
        error: 'a region is lowercase letters and digits (e.g. "ord"), or "*" for every other region',
      }),
      { error: 'expected a list of regions, e.g. ["ord", "*"]' },
    )
    .min(1, { error: 'name at least one region, e.g. ["ord", "*"]' })
    .refine((list) => new Set(list).size === list.length, { error: 'names a region twice' })
    .optional(),
  connection_budget: table({
    max_connections: z.number().int().min(1),
    per_machine: z.number().int().min(1),
    reserved: z.number().int().min(0).default(0),
  })
    .refine((b) => b.reserved < b.max_connections, { error: 'must be less than max_connections', path: ['reserved'] })
    .optional(),
});
export type DeployTable = z.output<typeof deploySchema>;

const checkFields = {
  type: z.enum(['http', 'tcp']).default('http'),
  group: name().optional(),
  path: z.string().startsWith('/', { error: 'must start with "/"' }).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  interval: positiveDuration().optional(),
  timeout: positiveDuration().optional(),
  grace_period: duration().optional(),
};
const checkEntry = table({ name: name(), ...checkFields });
const checkBody = table(checkFields);

const checksSchema = z.union([z.array(checkEntry), z.record(name(), checkBody)], {
  error: 'expected [[app.checks]] entries or [app.checks.NAME] tables',
});

const processSchema = table({
  count: z.number().int().min(0).default(1),
  command: z.string().min(1).optional(),
});

const latencyModel = z.discriminatedUnion(
  'dist',
  [
    table({ dist: z.literal('constant'), ms: z.union([z.number().min(0), z.string()]) }).transform((m, ctx) => {
      try {
        return { kind: 'constant' as const, ms: typeof m.ms === 'number' ? m.ms : parseDurationMs(m.ms) };
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: m.ms, path: ['ms'] });
        return z.NEVER;
      }
    }),
    table({ dist: z.literal('lognormal'), median: positiveDuration(), p99: positiveDuration() })
      .refine((m) => m.p99 >= m.median, { error: 'p99 must be at least the median', path: ['p99'] })
      .transform((m) => ({ kind: 'lognormal' as const, medianMs: m.median, p99Ms: m.p99 })),
  ],
  { error: 'expected dist = "constant" (with ms) or dist = "lognormal" (with median and p99)' },
);

const latencySchema = table({
  api: latencyModel.optional(),
  create: latencyModel.optional(),
  update: latencyModel.optional(),
  boot: latencyModel.optional(),
  checks: latencyModel.optional(),
  stop: latencyModel.optional(),
  destroy: latencyModel.optional(),
});

const faultsSchema = table({
  error_rate: z
    .union([probability(), z.record(z.string(), probability())], {
      error: 'expected a probability (0..1) or a table of them per operation',
    })
    .optional(),
  timeout_rate: probability().optional(),
  boot_failure_releases: z.array(z.string()).optional(),
  unhealthy_releases: z.array(z.string()).optional(),
  exit_rate: probability().optional(),
  flap_rate: probability().optional(),
  revert_rate: probability().optional(),
});

export const simSchema = table({
  clock: z.enum(['virtual', 'scaled']).optional(),
  speed: z.number().positive().optional(),
  seed: z.number().int().optional(),
  rate_limits: z.boolean().optional(),
  initial_release: z.string().min(1).optional(),
  latency: latencySchema.optional(),
  faults: faultsSchema.optional(),
}).transform((s): SimOverrides => {
  const f = s.faults;
  return dropUndefined({
    clock: s.clock,
    speed: s.speed,
    seed: s.seed,
    rateLimits: s.rate_limits,
    initialRelease: s.initial_release,
    latency: s.latency ? dropUndefined(s.latency) : undefined,
    faults: f
      ? dropUndefined({
          errorRate: typeof f.error_rate === 'number' ? { all: f.error_rate } : f.error_rate,
          timeoutRate: f.timeout_rate,
          bootFailureReleases: f.boot_failure_releases,
          unhealthyReleases: f.unhealthy_releases,
          exitRate: f.exit_rate,
          flapRate: f.flap_rate,
          revertRate: f.revert_rate,
        })
      : undefined,
  });
});

/** `release_steps = ["sidekiq-quiet", "release-command"]`: names, each at most once, run in this order. */
const releaseStepsList = () =>
  z
    .array(z.string().min(1))
    .refine((names) => new Set(names).size === names.length, { error: 'lists a release step twice' });
/** `[app.release_step.<name>]` tables: each step reads (and validates) its own keys. */
const releaseStepTables = () => z.record(z.string(), z.record(z.string(), z.unknown()));

const TRIGGER = /^(release|manual|push:\S+)$/;

const environmentSchema = table({
  provider: z.enum(['sim', 'local', 'fly']),
  trigger: z.string().regex(TRIGGER, { error: 'expected "release", "push:<branch>" or "manual"' }).optional(),
  initiation: z.enum(['manual', 'automatic']).optional(),
  allow_cli: z.boolean().optional(),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  vars: vars().optional(),
  deploy: deploySchema.optional(),
  sim: simSchema.optional(),
  local: localSchema.optional(),
  fly: flySchema.optional(),
  release_steps: releaseStepsList().optional(),
  release_step: releaseStepTables().optional(),
  analysis: analysisSchema.optional(),
  prometheus: prometheusSchema.optional(),
});
export type EnvironmentTable = z.output<typeof environmentSchema>;

export const runwaySchema = table({
  org: table({ name: z.string().min(1).optional(), vars: vars().optional() }).optional(),
  app: table({
    name: name().optional(),
    fly_toml: z.string().min(1).optional(),
    vars: vars().optional(),
    release_command: z.string().min(1).optional(),
    release_command_timeout: positiveDuration().optional(),
    release_steps: releaseStepsList().optional(),
    release_step: releaseStepTables().optional(),
    processes: z.record(name(), processSchema).optional(),
    checks: checksSchema.optional(),
    analysis: analysisSchema.optional(),
    deploy: deploySchema.optional(),
  }),
  environments: z.record(name(), environmentSchema).optional(),
  sim: simSchema.optional(),
  store: table({ url: z.string().min(1).optional() }).optional(),
  prometheus: prometheusSchema.optional(),
  github: githubSchema.optional(),
  server: serverSchema.optional(),
  notifications: notificationsSchema.optional(),
  secrets: table({ key_file: z.string().min(1).optional() }).optional(),
});
export type RunwayTable = z.output<typeof runwaySchema>;

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
