// `runway token create|list|revoke`: API tokens of `runway server`. Created directly in the store
// (whoever runs the CLI holds the store: how the first admin token comes to be). A token is shown
// once; only its sha256 is kept.

import { RealClock } from '../../domain/clock.js';
import { createApiToken, publicToken, revokeApiToken, TokenInputError } from '../../server/auth.js';
import { openContext, type GlobalOptions, whoIsAsking } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { tableRow } from '../table.js';

export interface TokenCreateOptions extends GlobalOptions {
  name?: string;
  role?: string;
  env?: string;
  automation?: boolean;
  as?: string;
  json?: boolean;
}

export async function tokenCreateCommand(options: TokenCreateOptions, io: Io): Promise<number> {
  if (!options.name)
    throw new CliError('--name is required: whose token (a login, or an automation name such as github-actions)');
  if (!options.role) throw new CliError('--role is required: viewer, deployer or admin');
  const ctx = await openContext(options, io);
  try {
    const envs =
      options.env
        ?.split(',')
        .map((e) => e.trim())
        .filter(Boolean) ?? null;
    let created;
    try {
      created = await createApiToken(ctx.store, new RealClock(), {
        name: options.name,
        role: options.role,
        envs,
        automation: options.automation ?? false,
        createdBy: whoIsAsking(options, io),
        app: ctx.config.app.name,
        knownEnvironments: Object.keys(ctx.config.environments),
      });
    } catch (err) {
      if (err instanceof TokenInputError) throw new CliError(err.message);
      throw err;
    }
    if (options.json) printJson(io, { token: created.token, ...publicToken(created.record) });
    else {
      const r = created.record;
      io.stdout.write(`${created.token}\n`);
      io.stderr.write(
        `token ${r.id} for ${r.name}: ${r.role}${r.envs ? ` of ${r.envs.join(', ')}` : ''}${r.automation ? ', automation' : ''}\n` +
          'shown once — store it now (runway keeps only its hash); send it as Authorization: Bearer <token>\n',
      );
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

const TOKENS_TABLE = { widths: [17, 16, 9, 20, 10, 20, 20] };

export async function tokenListCommand(options: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const tokens = (await ctx.store.listTokens()).map(publicToken);
    if (options.json) {
      printJson(io, tokens);
      return 0;
    }
    if (tokens.length === 0) {
      io.stdout.write('no tokens; create one with `runway token create --name NAME --role admin`\n');
      return 0;
    }
    io.stdout.write(
      tableRow(TOKENS_TABLE, ['ID', 'NAME', 'ROLE', 'ENVIRONMENTS', 'KIND', 'CREATED', 'LAST USED', 'STATE']) + '\n',
    );
    const time = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
    for (const t of tokens) {
      io.stdout.write(
        tableRow(TOKENS_TABLE, [
          t.id,
          t.name,
          t.role,
          t.envs?.join(',') ?? (t.role === 'viewer' ? 'read all' : 'all'),
          t.automation ? 'automation' : 'person',
          time(t.createdAtMs),
          time(t.lastUsedAtMs),
          t.revokedAtMs ? `revoked ${time(t.revokedAtMs)}` : 'active',
        ]) + '\n',
      );
    }
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function tokenRevokeCommand(
  id: string,
  options: GlobalOptions & { as?: string; json?: boolean },
  io: Io,
): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const token = await ctx.store.getToken(id);
    if (!token) throw new CliError(`no token ${id}; see \`runway token list\``);
    const revoked = await revokeApiToken(ctx.store, new RealClock(), id, whoIsAsking(options, io), ctx.config.app.name);
    if (!revoked) throw new CliError(`token ${id} is already revoked`);
    if (options.json) printJson(io, publicToken((await ctx.store.getToken(id))!));
    else io.stdout.write(`revoked ${id} (${token.name}); requests with it now get 401\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
