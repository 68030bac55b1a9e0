// `runway release-step run sidekiq-quiet --redis-url URL [--timeout 30s] [--wait-idle] [--json]`:
// runs one built-in release step alone, outside any deploy: for emergencies (quiet the Sidekiq
// fleet now) and to check a step's configuration. The step is the very one deploys run
// (src/release/steps/); docs/release-steps.md.

import { Option, type Command } from 'commander';
import { parseDuration } from '../../domain/clock.js';
import { EXIT } from '../../engine/summary.js';
import { BUILTIN_STEPS } from '../../release/steps/index.js';
import {
  SIDEKIQ_QUIET,
  sidekiqQuietStep,
  validateSidekiqQuietOptions,
  type OnUnavailable,
  type SidekiqQuietOption,
  type SidekiqQuietOptions,
} from '../../release/steps/sidekiq-quiet.js';
import type { BuiltinStepReport } from '../../release/steps/step.js';
import { CliError, printJson, type Io } from '../io.js';
import { releaseCommandRun, type ReleaseCommandRunOptions } from './release-command-run.js';

export const RELEASE_STEP_EXIT_HELP = `
Exit codes:
  0   every live Sidekiq process reports quiet (and idle, with --wait-idle); also when none is
      live, and when Redis is unreachable with --on-unavailable skip
  1   some process did not report quiet (or stayed busy) in time: each is named, with why
  2   bad input: flags, the Redis URL, or credentials Redis refuses (wrong password, missing ACL
      permission); nothing was signalled
  3   interrupted (Ctrl-C): processes already sent TSTP still go quiet
  70  Redis unreachable (--on-unavailable fail, the default); nothing was signalled

The Redis URL comes from --redis-url, else $REDIS_URL, or the variable $REDIS_PROVIDER names
(Sidekiq's convention). Quiet cannot be undone through Redis: a quiet process takes no new jobs
until it is restarted. With --json: {step, status, ok, summary, found, quieted, timedOut, skipped,
gone, idle, stillBusy, unavailable, timedOutIdentities, stillBusyIdentities, processes,
skippedIdentities, error, errorKind, exitCode, durationMs}.`;

export interface ReleaseStepRunOptions extends ReleaseCommandRunOptions {
  redisUrl?: string;
  namespace?: string;
  timeout?: string;
  waitIdle?: boolean;
  idleTimeout?: string;
  poll?: string;
  onUnavailable?: string;
  connectTimeout?: string;
  json?: boolean;
}

const FLAGS: Record<SidekiqQuietOption, string> = {
  redisUrl: '--redis-url',
  redisUrlVar: '$REDIS_PROVIDER',
  namespace: '--namespace',
  timeoutMs: '--timeout',
  waitIdle: '--wait-idle',
  idleTimeoutMs: '--idle-timeout',
  pollMs: '--poll',
  onUnavailable: '--on-unavailable',
  connectTimeoutMs: '--connect-timeout',
};

/** The exit code for a step's report (see RELEASE_STEP_EXIT_HELP). */
export function exitCodeForStep(report: BuiltinStepReport): number {
  if (report.status !== 'failed') return EXIT.ok;
  switch (report.error?.kind) {
    case 'timeout':
      return EXIT.failed;
    case 'bad_input':
    case 'auth':
      return EXIT.badInput;
    default:
      return EXIT.internal;
  }
}

function duration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`);
  }
}

export async function releaseStepRunCommand(
  step: string,
  options: ReleaseStepRunOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  if (step === 'release-command') return releaseCommandRun(options, io, signal);
  if (step !== SIDEKIQ_QUIET) {
    throw new CliError(
      `unknown release step "${step}"; built in: release-command, ${Object.keys(BUILTIN_STEPS).join(', ')}`,
    );
  }
  const stepOptions: SidekiqQuietOptions = {};
  if (options.redisUrl !== undefined) stepOptions.redisUrl = options.redisUrl;
  if (options.namespace !== undefined) stepOptions.namespace = options.namespace;
  const timeoutMs = duration('--timeout', options.timeout);
  if (timeoutMs !== undefined) stepOptions.timeoutMs = timeoutMs;
  const idleTimeoutMs = duration('--idle-timeout', options.idleTimeout);
  if (idleTimeoutMs !== undefined) stepOptions.idleTimeoutMs = idleTimeoutMs;
  const pollMs = duration('--poll', options.poll);
  if (pollMs !== undefined) stepOptions.pollMs = pollMs;
  const connectTimeoutMs = duration('--connect-timeout', options.connectTimeout);
  if (connectTimeoutMs !== undefined) stepOptions.connectTimeoutMs = connectTimeoutMs;
  if (options.waitIdle) stepOptions.waitIdle = true;
  if (options.onUnavailable !== undefined) stepOptions.onUnavailable = options.onUnavailable as OnUnavailable;
  const problems = validateSidekiqQuietOptions(stepOptions);
  if (problems.length) throw new CliError(problems.map((p) => `${FLAGS[p.option]}: ${p.message}`).join('; '));

  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(io.env)) if (typeof value === 'string') vars[name] = value;
  const json = Boolean(options.json);
  const log = (line: string) => {
    if (!json) io.stderr.write(`${SIDEKIQ_QUIET}: ${line}\n`);
  };

  let report: BuiltinStepReport<Record<string, unknown>>;
  try {
    report = await sidekiqQuietStep(stepOptions).run({ vars, signal: signal ?? new AbortController().signal, log });
  } catch (err) {
    if (signal?.aborted) {
      const message = `${SIDEKIQ_QUIET} interrupted; processes already sent TSTP still go quiet`;
      if (json) printJson(io, { error: message, exitCode: EXIT.aborted });
      else io.stderr.write(`runway: ${message}\n`);
      return EXIT.aborted;
    }
    throw err;
  }
  const exitCode = exitCodeForStep(report);
  if (json) {
    const { step: name, status, ok, summary, details, error, durationMs } = report;
    printJson(io, {
      step: name,
      status,
      ok,
      summary,
      ...details,
      error: error?.message ?? null,
      errorKind: error?.kind ?? null,
      exitCode,
      durationMs,
    });
  } else {
    io.stdout.write(`${report.summary}\n`);
    if (report.error && report.error.message !== report.summary) io.stderr.write(`runway: ${report.error.message}\n`);
  }
  return exitCode;
}

type Action = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

/** Adds `release-step run` to the program; `run` is the program's action wrapper (errors → exit codes). */
export function registerReleaseStepCommands(program: Command, run: Action, io: Io, signal?: AbortSignal): void {
  const releaseStep = program
    .command('release-step')
    .description('Run a built-in release step alone, outside a deploy (docs/release-steps.md).');
  releaseStep
    .command('run')
    .description(
      'Run one release step now, e.g. quiet every live Sidekiq process: `release-step run sidekiq-quiet --redis-url URL`.',
    )
    .argument(
      '<step>',
      `the step: release-command (the environment's, with --env), ${Object.keys(BUILTIN_STEPS).join(', ')}`,
    )
    .option('-e, --env <name>', 'release-command: the environment whose provider runs it')
    .option('-r, --release <version>', 'release-command: the release to run it on (default the newest)')
    .option(
      '--redis-url <url>',
      'redis[s]://[user:password@]host:port[/db] (default $REDIS_URL, or the variable $REDIS_PROVIDER names)',
    )
    .option('--namespace <name>', 'redis-namespace prefix: keys are <name>:processes, <name>:<identity>...')
    .option(
      '--timeout <duration>',
      'how long each process has to report quiet (default 30s; at most 60s, when Sidekiq drops an unread signal)',
    )
    .option('--wait-idle', 'then wait until every quiet process reports busy = 0 (its jobs finished)')
    .option('--idle-timeout <duration>', 'with --wait-idle: how long (default 5m)')
    .option('--poll <duration>', 'how often to read Redis while waiting (default 1s)')
    .addOption(
      new Option('--on-unavailable <what>', 'Redis unreachable: fail (exit 70) or skip (exit 0)').choices([
        'fail',
        'skip',
      ]),
    )
    .option('--connect-timeout <duration>', 'Redis connect timeout (default 5s)')
    .option('--json', 'print one JSON object: the counts, each process and why any timed out')
    .addHelpText('after', RELEASE_STEP_EXIT_HELP)
    .action(run((step: string, opts: ReleaseStepRunOptions) => releaseStepRunCommand(step, opts, io, signal)));
}
