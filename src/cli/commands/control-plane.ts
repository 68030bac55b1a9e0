// The control plane's commands on the `runway` program: token, secrets, audit, init github.

import type { Command } from 'commander';
import type { Io } from '../io.js';
import { auditCommand } from './audit.js';
import { initGithubCommand } from './init-github.js';
import { secretsListCommand, secretsSetCommand, secretsUnsetCommand } from './secrets.js';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './token.js';

type Action = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerControlPlaneCommands(program: Command, run: Action, io: Io): void {
  const token = program
    .command('token')
    .description('API tokens of `runway server` (roles viewer, deployer, admin); only their hashes are stored.');
  token
    .command('create')
    .description('Create a token and print it once.')
    .option('--name <name>', "whose token: a person's login, or an automation's name (required)")
    .option(
      '--role <role>',
      'viewer (read), deployer (act on --env environments) or admin (everything, tokens) (required)',
    )
    .option('-e, --env <names>', 'deployer only: comma-separated environments it may act on (default all)')
    .option(
      '--automation',
      "not a person: its deploys are automation's; it may name the person it acts for (X-Runway-On-Behalf-Of)",
    )
    .option('--as <name>', 'who creates it (default $RUNWAY_USER or the OS user)')
    .option('--json', 'print JSON')
    .action(run((opts: object) => tokenCreateCommand(opts, io)));
  token
    .command('list')
    .description('Tokens: id, name, role, environments, last use, revoked or active (never the token).')
    .option('--json', 'print JSON')
    .action(run((opts: object) => tokenListCommand(opts, io)));
  token
    .command('revoke')
    .description('Revoke a token: requests with it get 401 from then on.')
    .argument('<id>', 'token id (tok_…), see `runway token list`')
    .option('--as <name>', 'who revokes it')
    .option('--json', 'print JSON')
    .action(run((id: string, opts: object) => tokenRevokeCommand(id, opts, io)));

  const secrets = program
    .command('secrets')
    .description(
      'Secrets of an environment, encrypted at rest (key: $RUNWAY_SECRET_KEY or [secrets] key_file); changes are staged and applied by the next deploy.',
    );
  secrets
    .command('set')
    .description('Set secrets: NAME=VALUE, or NAME alone to take the value from $NAME (keeps it off the command line).')
    .argument('[assignments...]', 'NAME=VALUE or NAME')
    .option('-e, --env <name>', 'environment (required)')
    .option('--file <NAME=PATH>', 'take a value from a file (repeatable)', collect, [])
    .option('--reason <text>', 'why (recorded in the ledger)')
    .option('--as <name>', 'who changes them (default $RUNWAY_USER or the OS user)')
    .option('--json', 'print JSON (names, versions, digests; never values)')
    .action(run((args: string[], opts: object) => secretsSetCommand(args, opts, io)));
  secrets
    .command('unset')
    .description('Remove secrets.')
    .argument('<names...>', 'secret names')
    .option('-e, --env <name>', 'environment (required)')
    .option('--reason <text>', 'why (recorded in the ledger)')
    .option('--as <name>', 'who changes them')
    .option('--json', 'print JSON')
    .action(run((names: string[], opts: object) => secretsUnsetCommand(names, opts, io)));
  secrets
    .command('list')
    .description('Names, versions and digests (never values); staged and applied versions.')
    .option('-e, --env <name>', 'environment (required)')
    .option('--json', 'print JSON')
    .action(run((opts: object) => secretsListCommand(opts, io)));

  program
    .command('audit')
    .description(
      'The ledger: who was responsible for each deploy, secrets change, emergency and refusal; --verify checks its hash chain.',
    )
    .option('-e, --env <name>', 'only this environment')
    .option('--limit <n>', 'only the newest N entries')
    .option('--verify', 'walk the hash chain; exit 1 if any entry was edited, removed or reordered')
    .option('--json', 'print JSON')
    .action(run((opts: object) => auditCommand(opts, io)));

  const init = program.command('init').description('Set up integrations.');
  init
    .command('github')
    .description(
      'Write GitHub Actions workflows (release → production, push → staging, Manual deploy, Manual secrets) and a release-drafter.yml starter.',
    )
    .option('--dir <dir>', 'repository root (default the current directory)')
    .option('--force', 'rewrite files that exist')
    .option('--json', 'print JSON')
    .action(run((opts: object) => initGithubCommand(opts, io)));
}
