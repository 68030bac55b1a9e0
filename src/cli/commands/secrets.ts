// `runway secrets set|unset|list --env E` ("Manual secrets"). Values are encrypted at rest with the
// secret key ($RUNWAY_SECRET_KEY or a key file); changes are staged and reach machines with the next
// deploy (docs/api.md#secrets). Nothing here prints a value: lists show names, versions and digests.
//
//   runway secrets set --env production DATABASE_URL          # value from $DATABASE_URL (nothing on the command line)
//   runway secrets set --env production API_KEY=abc           # value inline (lands in shell history)
//   runway secrets set --env production --file TLS_KEY=key.pem
//   runway secrets unset --env production OLD_TOKEN
//   runway secrets list --env production [--json]

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RealClock } from '../../domain/clock.js';
import { loadSecretKey, SecretKeyError } from '../../secrets/key.js';
import { changeSecrets, listSecrets, SecretInputError, type SecretListing } from '../../secrets/secrets.js';
import { environment, openContext, type GlobalOptions, whoIsAsking } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { tableRow } from '../table.js';

export interface SecretsOptions extends GlobalOptions {
  env?: string;
  file?: string[];
  reason?: string;
  as?: string;
  json?: boolean;
}

function parseAssignments(args: string[], files: string[], io: Io): Record<string, string> {
  const set: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq === -1) {
      const value = io.env[arg];
      if (value === undefined)
        throw new CliError(
          `secret ${arg}: no value given and $${arg} is not set (use NAME=VALUE, --file NAME=PATH, or export ${arg})`,
        );
      set[arg] = value;
    } else set[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  for (const spec of files) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new CliError(`--file ${JSON.stringify(spec)}: expected NAME=PATH`);
    const name = spec.slice(0, eq);
    const path = resolve(io.cwd, spec.slice(eq + 1));
    try {
      set[name] = readFileSync(path, 'utf8');
    } catch (err) {
      throw new CliError(`--file ${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return set;
}

const SECRETS_TABLE = { widths: [28, 5], indent: '  ' };

function formatListing(l: SecretListing): string {
  const lines = [
    `secrets of ${l.app}/${l.env}: staged version ${l.stagedVersion}, applied ${l.appliedVersion ?? 'never'}${l.appliedDeployId ? ` (by ${l.appliedDeployId})` : ''}${l.pending ? ' — a change waits for the next deploy' : ''}`,
  ];
  if (l.secrets.length === 0) lines.push('  (none)');
  for (const s of l.secrets) {
    const updated = new Date(s.updatedAtMs).toISOString().replace('T', ' ').slice(0, 19);
    lines.push(tableRow(SECRETS_TABLE, [s.name, `v${s.version}`, `${s.digest}  ${updated} by ${s.updatedBy}`]));
  }
  return lines.join('\n');
}

async function change(set: Record<string, string>, unset: string[], options: SecretsOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = environment(ctx.config, options.env);
    const app = ctx.config.app.name;
    const who = whoIsAsking(options, io);
    let result;
    try {
      const key = loadSecretKey({ env: io.env, keyFile: ctx.config.secrets?.keyFile });
      result = await changeSecrets(ctx.store, key, new RealClock(), {
        app,
        env: env.name,
        set,
        unset,
        by: who,
        initiator: `cli:${who}`,
        trigger: 'cli',
        reason: options.reason ?? null,
      });
    } catch (err) {
      if (err instanceof SecretKeyError || err instanceof SecretInputError) throw new CliError(err.message);
      throw err;
    }
    const listing = await listSecrets(ctx.store, app, env.name);
    if (options.json) printJson(io, { changed: result.changed, ...listing });
    else {
      const unchanged = [...Object.keys(set), ...unset].filter((n) => !result.changed.includes(n));
      io.stdout.write(
        (result.changed.length
          ? `staged ${result.changed.join(', ')} for ${env.name} (secrets version ${result.version}); the next deploy of ${env.name} applies it\n`
          : '') +
          (unchanged.length ? `unchanged: ${unchanged.join(', ')}\n` : '') +
          formatListing(listing) +
          '\n',
      );
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export function secretsSetCommand(args: string[], options: SecretsOptions, io: Io): Promise<number> {
  const set = parseAssignments(args, options.file ?? [], io);
  if (Object.keys(set).length === 0)
    throw new CliError('name at least one secret: NAME=VALUE, NAME (value from $NAME) or --file NAME=PATH');
  return change(set, [], options, io);
}

export function secretsUnsetCommand(names: string[], options: SecretsOptions, io: Io): Promise<number> {
  if (names.length === 0) throw new CliError('name at least one secret to unset');
  return change({}, names, options, io);
}

export async function secretsListCommand(options: SecretsOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = environment(ctx.config, options.env);
    const listing = await listSecrets(ctx.store, ctx.config.app.name, env.name);
    if (options.json) printJson(io, listing);
    else io.stdout.write(formatListing(listing) + '\n');
    return 0;
  } finally {
    await ctx.close();
  }
}
