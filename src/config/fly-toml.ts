// Import the parts of a fly.toml that runway uses, so a Fly app can adopt runway without writing its
// settings twice. fly.toml has many keys runway has no use for; those are ignored, not errors. The
// keys read here are validated, and so are the sections that describe machines ([[vm]], [[services]],
// [http_service], [[restart]], [[mounts]], [env]…): fly-machine-sections.ts holds them to Fly's
// published machine config schema, so a fly.toml Fly would refuse fails when runway reads it.
//
// Read: `app`; [deploy] strategy, max_unavailable, wait_timeout, release_command,
// release_command_timeout; [processes] (names and commands; Fly has no counts); checks from
// [[http_service.checks]], [[services.http_checks]], [[services.tcp_checks]] and [checks.NAME].
// Durations follow flyctl: strings are Go durations ("1m30s"); bare integers in checks are
// milliseconds (flyctl's legacy form); elsewhere runway's rule (seconds) applies.

import { stringify } from 'smol-toml';
import { z } from 'zod';
import type { MachineBudget } from '../domain/types.js';
import type { CheckConfig } from './types.js';
import { toCheckConfig } from './checks.js';
import { ConfigError } from './errors.js';
import { machineSectionErrors } from './fly-machine-sections.js';
import { validate } from './issues.js';
import { formatKey, keyLines, lineOf, type KeyPath } from './key-lines.js';
import { tomlDocument } from './toml.js';
import { describe, durationText, formatBudget, parseBudget, parseDurationMs } from './values.js';

/** A check imported from fly.toml and the key it came from (for errors about it). */
export interface ImportedCheck {
  check: CheckConfig;
  key: string;
  line?: number;
}

export interface FlyImport {
  file: string;
  app?: string;
  /** `[deploy] strategy` as written; validated where it is layered (layers.ts). */
  strategy?: { value: string; key: string; line?: number };
  deploy: {
    maxUnavailable?: { value: MachineBudget; key: string; line?: number };
    waitTimeoutMs?: { value: number; key: string; line?: number };
  };
  releaseCommand?: { command: string; timeoutMs?: number };
  /** Process groups named in [processes]; empty when the file has none (Fly's single group `app`). */
  processes: { name: string; command: string }[];
  checks: ImportedCheck[];
}

function flyDuration(integerUnitMs: number) {
  // The hints name the unit a bare number is read in here (milliseconds in checks, as flyctl reads them).
  const unit = integerUnitMs === 1 ? 'milliseconds' : 'seconds';
  return z
    .union([z.number(), z.string()], {
      error: (iss) => `expected a duration such as "30s" or a number of ${unit}, got ${describe(iss.input)}`,
    })
    .transform((v, ctx) => {
      try {
        if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0))
          throw new Error(`invalid duration ${v}: must be a non-negative number of ${unit}`);
        return typeof v === 'number' ? parseDurationMs((v * integerUnitMs) / 1000) : parseDurationMs(v);
      } catch (e) {
        ctx.issues.push({
          code: 'custom',
          message: (e as Error).message.replace('or a number of seconds', `or a number of ${unit}`),
          input: v,
        });
        return z.NEVER;
      }
    });
}

const flyBudget = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseBudget(v);
  } catch (e) {
    ctx.issues.push({ code: 'custom', message: (e as Error).message, input: v });
    return z.NEVER;
  }
});

const processList = z.array(z.string()).optional();

const flyCheck = z.looseObject({
  type: z.string().optional(),
  path: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  interval: flyDuration(1).optional(),
  timeout: flyDuration(1).optional(),
  grace_period: flyDuration(1).optional(),
  processes: processList,
});
type FlyCheck = z.output<typeof flyCheck>;

const flySchema = z.looseObject({
  app: z.string().min(1).optional(),
  deploy: z
    .looseObject({
      strategy: z.string().optional(),
      max_unavailable: flyBudget.optional(),
      wait_timeout: flyDuration(1000).optional(),
      release_command: z.string().optional(),
      release_command_timeout: flyDuration(1000).optional(),
    })
    .optional(),
  processes: z.record(z.string(), z.string()).optional(),
  http_service: z
    .looseObject({
      internal_port: z.number().int().optional(),
      processes: processList,
      checks: z.array(flyCheck).optional(),
    })
    .optional(),
  services: z
    .array(
      z.looseObject({
        internal_port: z.number().int().optional(),
        processes: processList,
        http_checks: z.array(flyCheck).optional(),
        tcp_checks: z.array(flyCheck).optional(),
      }),
    )
    .optional(),
  checks: z.record(z.string(), flyCheck).optional(),
});

/** Parse a fly.toml; ConfigError (with `file`) when it is malformed or a key runway reads is invalid. */
export function importFlyToml(source: string, file: string): FlyImport {
  const doc = tomlDocument(source, file);
  const lines = keyLines(source);
  const fly = validateAll(doc, file, lines);
  const at = (path: KeyPath) => ({ key: formatKey(path), line: lineOf(lines, path) });

  const out: FlyImport = { file, deploy: {}, processes: [], checks: [] };
  if (fly.app) out.app = fly.app;
  const d = fly.deploy;
  if (d?.strategy) out.strategy = { value: d.strategy, ...at(['deploy', 'strategy']) };
  if (d?.max_unavailable)
    out.deploy.maxUnavailable = { value: d.max_unavailable, ...at(['deploy', 'max_unavailable']) };
  if (d?.wait_timeout !== undefined)
    out.deploy.waitTimeoutMs = { value: d.wait_timeout, ...at(['deploy', 'wait_timeout']) };
  if (d?.release_command) {
    out.releaseCommand = { command: d.release_command };
    if (d.release_command_timeout !== undefined) out.releaseCommand.timeoutMs = d.release_command_timeout;
  }
  for (const [name, command] of Object.entries(fly.processes ?? {})) out.processes.push({ name, command });

  // Without [processes] Fly runs one group called `app`; checks scoped to it apply to the whole app.
  const hasGroups = out.processes.length > 0;
  const add = (
    path: KeyPath,
    name: string,
    type: 'http' | 'tcp',
    c: FlyCheck,
    port: number | undefined,
    groups: string[] | undefined,
  ) => {
    const scoped = hasGroups ? (c.processes ?? groups) : undefined;
    for (const group of scoped?.length ? scoped : [undefined]) {
      const check = toCheckConfig({
        name,
        type,
        group,
        path: c.path,
        port: c.port ?? port,
        intervalMs: c.interval,
        timeoutMs: c.timeout,
        gracePeriodMs: c.grace_period,
      });
      out.checks.push({ check, ...at(path) });
    }
  };
  const hs = fly.http_service;
  hs?.checks?.forEach((c, i) =>
    add(['http_service', 'checks', i], `http-service-${i}`, 'http', c, hs.internal_port, hs.processes),
  );
  fly.services?.forEach((s, j) => {
    s.http_checks?.forEach((c, i) =>
      add(['services', j, 'http_checks', i], `service-${j}-http-${i}`, 'http', c, s.internal_port, s.processes),
    );
    s.tcp_checks?.forEach((c, i) =>
      add(['services', j, 'tcp_checks', i], `service-${j}-tcp-${i}`, 'tcp', c, s.internal_port, s.processes),
    );
  });
  for (const [name, c] of Object.entries(fly.checks ?? {})) {
    const type = (c.type ?? 'http').toLowerCase();
    if (type !== 'http' && type !== 'tcp') continue; // other kinds (e.g. machine checks) have no runway meaning
    add(['checks', name], name, type, c, undefined, undefined);
  }
  return out;
}

/** The keys runway reads and the machine sections, checked in one pass: every problem reported at once. */
function validateAll(
  doc: Record<string, unknown>,
  file: string,
  lines: Map<string, number>,
): z.output<typeof flySchema> {
  const machine = machineSectionErrors(doc, file, lines);
  let fly: z.output<typeof flySchema>;
  try {
    fly = validate(flySchema, doc, file, lines);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const read = [e, ...e.others];
    // A key both checks refuse (a service's internal_port "80") is reported once, by the reader.
    ConfigError.throwAll([...read, ...machine.filter((m) => !read.some((r) => r.key === m.key))]);
    throw e;
  }
  ConfigError.throwAll(machine);
  return fly;
}

/**
 * A runway.toml equivalent to what runway would import from a fly.toml, for `runway config import-fly`.
 * Process counts do not exist in fly.toml, so every group starts at 1; `environment` is added as a
 * manual, release-triggered environment on the fly provider.
 */
export function renderRunwayToml(imp: FlyImport, environment = 'production'): string {
  const app: Record<string, unknown> = { name: imp.app ?? 'CHANGE-ME' };
  if (imp.strategy) app.vars = { DEPLOY_STRATEGY: imp.strategy.value };
  if (imp.releaseCommand) {
    app.release_command = imp.releaseCommand.command;
    if (imp.releaseCommand.timeoutMs !== undefined)
      app.release_command_timeout = durationText(imp.releaseCommand.timeoutMs);
  }
  app.processes = Object.fromEntries(
    (imp.processes.length ? imp.processes : [{ name: 'app', command: undefined }]).map((p) => [
      p.name,
      p.command ? { count: 1, command: p.command } : { count: 1 },
    ]),
  );
  const deploy: Record<string, unknown> = {};
  if (imp.deploy.maxUnavailable) deploy.max_unavailable = budgetValue(imp.deploy.maxUnavailable.value);
  if (imp.deploy.waitTimeoutMs) deploy.wait_timeout = durationText(imp.deploy.waitTimeoutMs.value);
  if (imp.checks.length) {
    app.checks = imp.checks.map(({ check: c }) => {
      const t: Record<string, unknown> = { name: c.name, type: c.type };
      if (c.group) t.group = c.group;
      if (c.path) t.path = c.path;
      if (c.port) t.port = c.port;
      t.interval = durationText(c.intervalMs);
      t.timeout = durationText(c.timeoutMs);
      t.grace_period = durationText(c.gracePeriodMs);
      return t;
    });
  }
  if (Object.keys(deploy).length) app.deploy = deploy;
  const doc = {
    app,
    environments: { [environment]: { provider: 'fly', trigger: 'release', initiation: 'manual' } },
  };
  return `# Generated from ${imp.file}. Set each process group's count.\n${stringify(doc)}\n`;
}

function budgetValue(b: MachineBudget): number | string {
  return 'count' in b ? b.count : formatBudget(b);
}
