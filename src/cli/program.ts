// The `runway` command tree. Commands are thin: they parse flags, call the engine, and print.

import { Command, CommanderError, Option } from 'commander';
import { explainVarsJson } from '../config/explain.js';
import { explainVars } from './explain-vars.js';
import { EXIT } from '../engine/summary.js';
import { STRATEGIES } from '../domain/types.js';
import { deployCommand, resumeCommand } from './commands/deploy.js';
import {
  abortCommand,
  deploysListCommand,
  deploysShowCommand,
  promoteCommand,
  releasesCreateCommand,
  releasesListCommand,
} from './commands/deploys.js';
import { statusCommand } from './commands/status.js';
import { rollbackCommand } from './commands/rollback.js';
import { recoverCommand } from './commands/recover.js';
import { serverCommand } from './commands/server.js';
import { lockReleaseCommand, lockStatusCommand } from './commands/lock.js';
import { demoCommand } from './commands/demo.js';
import { localDownCommand, localUpCommand } from './commands/local.js';
import { releaseDraftCommand } from './commands/release-draft.js';
import { releasePublishCommand } from './commands/release-publish.js';
import { simServeCommand } from './commands/sim-serve.js';
import { registerReleaseStepCommands } from './commands/release-step.js';
import { registerControlPlaneCommands } from './commands/control-plane.js';
import { registerOutboxCommands } from './commands/outbox.js';
import { environment, openContext } from './context.js';
import { printJson, type Io } from './io.js';
import { reportError } from './report-error.js';
import { VERSION } from './version.js';

const EXIT_HELP = `
Exit codes:
  0   succeeded
  1   deploy failed, halted or rolled back (the target release is not what runs)
  2   bad input (config, flags, unknown environment or release); nothing was changed
  3   aborted
  4   environment locked by another deploy (see --lock-wait)
  5   refused by policy (the message says why and what would be allowed); only the refusal is
      recorded, in the ledger. With --dry-run: the plan is printed, and a real run would be refused
      (said first, above the plan); nothing is recorded
  70  internal error (provider or store unreachable)`;

export function buildProgram(io: Io, signal?: AbortSignal): Command {
  let exitCode = 0;
  const program = new Command('runway')
    .description(
      `Roll releases onto fleets of machines, recover from failures, and record who deployed what.\n(runway ${VERSION}; \`runway --version\` prints it)`,
    )
    .option('-c, --config <file>', 'runway.toml to use (default ./runway.toml, or $RUNWAY_CONFIG)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  const run =
    (fn: (...args: never[]) => Promise<number>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as { json?: boolean };
      try {
        exitCode = await (fn as (...a: unknown[]) => Promise<number>)(...args.slice(0, -2), { ...options });
      } catch (err) {
        exitCode = reportError(err, io, Boolean(options.json));
      }
    };

  const deploy = program
    .command('deploy')
    .description('Roll a release onto an environment with its strategy, showing live progress.')
    .option('-e, --env <name>', 'environment to deploy (required)')
    .option('-r, --release <version>', 'release to deploy (default: the newest release)')
    .addOption(new Option('-s, --strategy <name>', 'override the environment strategy').choices([...STRATEGIES]))
    .option('--dry-run', 'print the plan (waves, steps, peak extra machines, expected API calls) and change nothing')
    .option('--verbose', 'with --dry-run: list every step')
    .option('--lock-wait <duration>', 'wait this long (e.g. 2m) for another deploy of the environment to finish')
    .option('--as <name>', 'who is deploying (default $RUNWAY_USER or the OS user)')
    .option(
      '--emergency',
      'break glass: deploy where policy would refuse (an automatic environment, or one without allow_cli); you become responsible and it is flagged everywhere; needs --reason',
    )
    .option('--reason <text>', 'why (required with --emergency; recorded with the deploy and in the ledger)')
    .option('--json', 'print one JSON summary object instead of progress')
    .addHelpText('after', EXIT_HELP)
    .action(run((opts: object) => deployCommand(opts, io, signal)));
  deploy
    .command('resume')
    .description('Go on with a deploy whose process died, from what the fleet shows now (no machine is updated twice).')
    .argument('<id>', 'deploy id')
    .option('--lock-wait <duration>', 'wait this long for the environment lock')
    .option('--as <name>', 'who resumes')
    .option('--json', 'print one JSON summary object instead of progress')
    .action(run((id: string, opts: object) => resumeCommand(id, opts, io, signal)));

  program
    .command('status')
    .description("Show an environment's fleet: version spread, unhealthy and cordoned machines, lock, last deploy.")
    .requiredOption('-e, --env <name>', 'environment')
    .option('--machines', 'list every machine')
    .option('--json', 'print JSON')
    .action(run((opts: object) => statusCommand(opts, io)));

  const deploys = program.command('deploys').description('List and inspect deploys.');
  deploys
    .command('list')
    .description('Recent deploys, newest first.')
    .option('-e, --env <name>', 'only this environment')
    .option('--limit <n>', 'how many (default 20)')
    .option('--json', 'print JSON')
    .action(run((opts: object) => deploysListCommand(opts, io)));
  deploys
    .command('show')
    .description("A deploy's responsibility, plan, status and journal.")
    .argument('<id>', 'deploy id')
    .option('--journal', 'show every journal entry, steps included')
    .option('--json', 'print JSON')
    .action(run((id: string, opts: object) => deploysShowCommand(id, opts, io)));
  deploys
    .command('promote')
    .description('Let a bluegreen deploy paused before cutover (pause_before_cutover) move traffic.')
    .argument('<id>', 'deploy id')
    .option('--as <name>', 'who promotes')
    .action(run((id: string, opts: object) => promoteCommand(id, opts, io)));

  program
    .command('abort')
    .description('Ask a running deploy (in any process) to stop; it stops within one in-flight operation per machine.')
    .argument('<id>', 'deploy id')
    .option('--as <name>', 'who aborts')
    .option('--json', 'print JSON')
    .action(run((id: string, opts: object) => abortCommand(id, opts, io)));

  program
    .command('rollback')
    .description('Deploy the previous good release (or --to RELEASE) with the rollback strategy (default immediate).')
    .option('-e, --env <name>', 'environment (required)')
    .option('--to <version>', 'release to go back to (default: the previous good release)')
    .addOption(new Option('-s, --strategy <name>', 'override rollback_strategy').choices([...STRATEGIES]))
    .option('--dry-run', 'print the plan and change nothing')
    .option('--lock-wait <duration>', 'wait this long for another deploy of the environment to finish')
    .option('--as <name>', 'who rolls back')
    .option(
      '--emergency',
      'break glass where policy would refuse a CLI rollback; you become responsible; needs --reason',
    )
    .option('--reason <text>', 'why (required with --emergency)')
    .option('--json', 'print one JSON summary object instead of progress')
    .addHelpText('after', EXIT_HELP)
    .action(run((opts: object) => rollbackCommand(opts, io, signal)));

  program
    .command('recover')
    .description(
      'The recovery runbook, automated: finish forward, redo or roll back a dead or half-done deploy, destroy orphaned extra machines, release stale locks.',
    )
    .option('-e, --env <name>', 'environment (required)')
    .option('--dry-run', 'say what was found and what would be done; change nothing')
    .option('--as <name>', 'who recovers')
    .option(
      '--emergency',
      "break glass where policy refuses the recovery's deploy (an automatic environment, or one without allow_cli); you become responsible; needs --reason",
    )
    .option('--reason <text>', 'why (required with --emergency; recorded with the deploy and in the ledger)')
    .option('--json', 'print JSON (findings, actions, what was done)')
    .addHelpText('after', EXIT_HELP)
    .action(run((opts: object) => recoverCommand(opts, io, signal)));

  const lock = program.command('lock').description("The environment's deploy lock (one deploy at a time).");
  lock
    .command('status')
    .description('Who holds the lock, since when, and whether the holder is alive.')
    .option('-e, --env <name>', 'environment (required)')
    .option('--json', 'print JSON')
    .action(run((opts: object) => lockStatusCommand(opts, io)));
  lock
    .command('release')
    .description(
      'Clear a lock whose holder is gone (deploy ended, process dead, heartbeat lapsed); --force clears any.',
    )
    .option('-e, --env <name>', 'environment (required)')
    .option('--force', 'release even if the holder looks alive')
    .option('--as <name>', 'who releases it')
    .option('--json', 'print JSON')
    .action(run((opts: object) => lockReleaseCommand(opts, io)));

  const releases = program.command('releases').description('Immutable versions of the app.');
  releases
    .command('create')
    .description('Record a release (image and notes) that can then be deployed.')
    .argument('<version>', 'version tag, e.g. v42')
    .option('--image <ref>', 'image reference (default <app>:<version>)')
    .option('--notes <text>', 'release notes')
    .option('--json', 'print JSON')
    .action(run((version: string, opts: object) => releasesCreateCommand(version, opts, io)));
  releases
    .command('list')
    .description('Releases, newest first.')
    .option('--json', 'print JSON')
    .action(run((opts: object) => releasesListCommand(opts, io)));

  // `release draft` / `release publish` (Release Drafter compatible; docs/release-drafting.md). Here
  // --config names release-drafter.yml (a .toml file is taken as runway.toml instead).
  const release = program
    .command('release')
    .description('Draft release notes as Release Drafter does, and publish releases that deploy.');
  const draftSourceOptions = (cmd: Command) =>
    cmd
      .option(
        '-c, --config <file>',
        'release-drafter.yml (default .github/release-drafter.yml); a .toml file is runway.toml',
      )
      .option('--runway-config <file>', 'runway.toml (default $RUNWAY_CONFIG or ./runway.toml)')
      .option('--input <file>', 'offline input JSON: {"pullRequests": [...], "releases": [...]}')
      .option('--source <kind>', 'auto (default), github or git')
      .option(
        '--repo <owner/name>',
        'GitHub repository (default $GITHUB_REPOSITORY or the origin remote); token from $GITHUB_TOKEN',
      )
      .option('--github-api-url <url>', 'GitHub REST API root (default $GITHUB_API_URL or https://api.github.com)')
      .option('--git-dir <dir>', 'git repository to read (default the current directory)')
      .option('--version <version>', 'the version to release (overrides the resolved version)')
      .option('--tag <tag>', 'the tag (overrides tag-template)')
      .option('--name <name>', 'the name (overrides name-template)')
      .option('--prerelease', 'draft a prerelease')
      .option('--prerelease-identifier <id>', 'prerelease identifier (alpha, beta, rc…); implies --prerelease')
      .option('--include-pre-releases', 'count changes since the last prerelease too')
      .option('--commitish <ref>', 'target branch (filter-by-commitish, GitHub base branch)')
      .option('--json', 'print JSON');
  draftSourceOptions(
    release
      .command('draft')
      .description('Print the next release: name, tag, version and notes from the merged pull requests.'),
  )
    .option('--save', 'create or update the draft release on GitHub')
    .action(run((opts: object) => releaseDraftCommand(opts, io)));
  draftSourceOptions(
    release
      .command('publish')
      .description(
        'Publish the drafted release (GitHub and/or runway) and deploy it to environments with trigger = "release".',
      ),
  )
    .option('--as <name>', 'who publishes; responsible for the deploys (default $RUNWAY_USER or the OS user)')
    .option('--image <ref>', 'image reference (default <app>:<version>)')
    .option('--no-deploy', 'publish only')
    .addHelpText('after', EXIT_HELP)
    .action(run((opts: object) => releasePublishCommand(opts, io, signal)));

  const vars = program.command('vars').description('Layered variables (organisation < app < environment).');
  vars
    .command('explain')
    .description('Each effective variable of an environment and the layer it came from.')
    .requiredOption('-e, --env <name>', 'environment')
    .option('--json', 'print JSON')
    .action(
      run(async (opts: { env?: string; json?: boolean; config?: string }) => {
        const ctx = await openContext(opts, io);
        try {
          const env = environment(ctx.config, opts.env);
          if (opts.json) printJson(io, explainVarsJson(env));
          else io.stdout.write(explainVars(env) + '\n');
          return 0;
        } finally {
          await ctx.close();
        }
      }),
    );

  program
    .command('server')
    .description('Run the control plane: resumes deploys whose owner died and serves the HTTP API.')
    .option('-p, --port <port>', 'port to listen on (default 8080; 0 picks a free one)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--instance <name>', 'this instance’s name in deploy ownership (default host:pid:random)')
    .option(
      '--lease-ttl <duration>',
      'a deploy whose owner has not heart-beaten for this long is taken over (default 15s)',
    )
    .action(run((opts: object) => serverCommand(opts, io, signal)));

  const local = program
    .command('local')
    .description("A local environment's supervisor: the process that owns its machines and its proxy.");
  local
    .command('up')
    .description('Start the supervisor if it is not running; print the proxy URL, state directory and machines.')
    .requiredOption('-e, --env <name>', 'local environment')
    .option('--json', 'print JSON')
    .action(run((opts: object) => localUpCommand(opts, io)));
  local
    .command('status')
    .description('Like up, without starting anything.')
    .requiredOption('-e, --env <name>', 'local environment')
    .option('--json', 'print JSON')
    .action(run((opts: object) => localUpCommand(opts, io, false)));
  local
    .command('down')
    .description('Destroy every machine, close the proxy and stop the supervisor: no process left, every port free.')
    .requiredOption('-e, --env <name>', 'local environment')
    .option('--keep-machines', 'leave the machines running for the next supervisor to re-adopt')
    .option('--json', 'print JSON')
    .action(run((opts: object) => localDownCommand(opts, io)));

  const sim = program.command('sim').description('The simulated fleet.');
  sim
    .command('serve')
    .description(
      'Serve the simulated fleet as a Fly Machines-compatible HTTP API (point a provider = "fly" environment\'s api_url at it). Clients must send the token in this process\'s $FLY_API_TOKEN.',
    )
    .option('-p, --port <port>', 'port to listen on (default 0: a free one, printed)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--state <file>', 'load the fleet from this file if it exists; save it there after changes and on exit')
    .option(
      '--eventual-consistency <ms>',
      'a just-created machine answers 404 (except in lists) for this long, like Fly right after a create',
    )
    .option('--seed <n>', 'seed of every random choice (latency, faults)')
    .option(
      '--speed <x>',
      'simulated time runs x times faster than the wall clock (default 1; clients set [environments.X.fly] time_scale to match)',
    )
    .option(
      '--app <name>',
      'create this Fly app (repeatable)',
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option('--fleet <groups>', 'seed every new --app with started machines, e.g. "web=4,worker=2"')
    .option('--initial-release <version>', 'release of the --fleet machines (default v1)')
    .option(
      '--regions <list>',
      'spread the --fleet machines over these regions, round robin, e.g. "ord,iad,cdg" (default: one region, sim)',
    )
    .option(
      '--volumes <spec>',
      'give every --fleet machine of GROUP its own volume NAME mounted at PATH, e.g. "web:data:/data" (comma-separated for more groups)',
    )
    .option(
      '-e, --env <name>',
      "take latency, faults, seed and speed from this environment's [sim] settings in runway.toml",
    )
    .option('--unhealthy-releases <list>', 'machines on these releases (comma-separated) never pass checks')
    .option('--boot-failure-releases <list>', 'machines on these releases exit right after starting')
    .option('--token-file <file>', 'read the token clients must send from this file instead of $FLY_API_TOKEN')
    .option('--json', 'print the address as one JSON object')
    .action(run((opts: object) => simServeCommand(opts, io, signal)));

  program
    .command('demo')
    .description(
      "Boot the demo app as real processes behind runway's proxy, deploy v2 under traffic, then a broken v3 that is rolled back.",
    )
    .option('--sim', 'instead: the 500-machine simulated fleet (production immediate, staging bluegreen)')
    .option('--hold', 'keep the fleet and the proxy up after the demo until Ctrl-C')
    .option('--keep', 'keep the demo directory (store, machine logs) instead of removing it')
    .action(run((opts: object) => demoCommand(opts, io, signal)));

  // `release-step run NAME`: a built-in release step alone (docs/release-steps.md).
  registerReleaseStepCommands(program, run, io, signal);

  // `token`, `secrets`, `audit`, `init github` (docs/api.md, docs/policy.md).
  registerControlPlaneCommands(program, run, io);

  // `outbox`: undelivered GitHub statuses and notifications (docs/github.md).
  registerOutboxCommands(program, run, io);

  return Object.assign(program, { exitCode: () => exitCode });
}

export async function runCli(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  // Only as the whole command line: `release draft --version 2.0.0` and `releases create --version`
  // are subcommands' own flags, which commander's .version() on the root would take over.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const program = buildProgram(io, signal);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors are bad input.
      return err.exitCode === 0 ? 0 : EXIT.badInput;
    }
    return reportError(err, io, argv.includes('--json'));
  }
  return (program as Command & { exitCode(): number }).exitCode();
}

export { reportError };
