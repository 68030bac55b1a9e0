// The `sidekiq-quiet` release step: tells every live Sidekiq process to stop taking new jobs
// ("quiet"), in Sidekiq's own Redis protocol, and waits until each one says it is quiet (and,
// optionally, idle). Sidekiq's protocol is in sidekiq-protocol.ts, the step's options in
// sidekiq-quiet-options.ts, its waits in sidekiq-quiet-wait.ts, its report's shape in
// sidekiq-quiet-report.ts; this file runs the step: find, signal, wait, report.
//
// Idempotent: a process that already reports quiet is not signalled again; a run after a crash
// sends TSTP only to those not yet quiet. Quiet cannot be undone through Redis: a quieted process
// takes no new jobs until it is restarted. Processes that start after the step (new identities,
// e.g. the new release's workers) are not quiet, by design.

import type { Redis } from 'ioredis';
import { RealClock, formatDuration } from '../../domain/clock.js';
import { namespaceHint, namespacedProcessSets } from './sidekiq-namespaces.js';
import { RedisFault, classifyRedisError, closeRedis, connectRedis, redactRedisUrl, redisUrlProblem } from './redis.js';
import {
  countOf,
  listIdentities,
  parseInfo,
  readProcesses,
  sendQuiet,
  sidekiqKeys,
  SIGNAL_TTL_SECONDS,
} from './sidekiq-protocol.js';
import {
  resolveRedisUrl,
  SIDEKIQ_QUIET_CONFIG_KEYS,
  SIDEKIQ_QUIET_DEFAULTS,
  validateSidekiqQuietOptions,
  type SidekiqQuietOptions,
} from './sidekiq-quiet-options.js';
import { listed, plural, type SidekiqQuietDetails, type SidekiqQuietReport } from './sidekiq-quiet-report.js';
import { waitIdle, waitQuiet, type Tracked } from './sidekiq-quiet-wait.js';
import type { ConfiguredStep, BuiltinStepContext, StepError, StepErrorKind, StepStatus } from './step.js';

// Kept importable from here (the CLI, the step registry and the tests import them by this path).
export { SIGNAL_TTL_SECONDS };
export {
  parseSidekiqQuietConfig,
  resolveRedisUrl,
  SIDEKIQ_QUIET_CONFIG_KEYS,
  SIDEKIQ_QUIET_DEFAULTS,
  validateSidekiqQuietOptions,
  type OnUnavailable,
  type OptionProblem,
  type SidekiqQuietOption,
  type SidekiqQuietOptions,
} from './sidekiq-quiet-options.js';
export type {
  SidekiqProcessOutcome,
  SidekiqQuietDetails,
  SidekiqQuietReport,
  SidekiqSkippedIdentity,
} from './sidekiq-quiet-report.js';

export const SIDEKIQ_QUIET = 'sidekiq-quiet';

export function sidekiqQuietStep(options: SidekiqQuietOptions = {}): ConfiguredStep<SidekiqQuietDetails> {
  return { name: SIDEKIQ_QUIET, run: (context) => runSidekiqQuiet(context, options) };
}

function faultKind(fault: RedisFault): StepErrorKind {
  switch (fault.kind) {
    case 'auth':
    case 'permission':
      return 'auth';
    case 'bad_input':
      return 'bad_input';
    case 'unreachable':
      return 'unreachable';
    default:
      return 'internal';
  }
}

export async function runSidekiqQuiet(
  context: BuiltinStepContext,
  options: SidekiqQuietOptions = {},
): Promise<SidekiqQuietReport> {
  const clock = context.clock ?? new RealClock();
  const { signal, log } = context;
  const startedAt = clock.now();
  const o = {
    timeoutMs: options.timeoutMs ?? SIDEKIQ_QUIET_DEFAULTS.timeoutMs,
    waitIdle: options.waitIdle ?? SIDEKIQ_QUIET_DEFAULTS.waitIdle,
    idleTimeoutMs: options.idleTimeoutMs ?? SIDEKIQ_QUIET_DEFAULTS.idleTimeoutMs,
    pollMs: options.pollMs ?? SIDEKIQ_QUIET_DEFAULTS.pollMs,
    onUnavailable: options.onUnavailable ?? SIDEKIQ_QUIET_DEFAULTS.onUnavailable,
    connectTimeoutMs: options.connectTimeoutMs ?? SIDEKIQ_QUIET_DEFAULTS.connectTimeoutMs,
  };
  const details: SidekiqQuietDetails = {
    redis: null,
    namespace: options.namespace ?? null,
    found: 0,
    quieted: 0,
    timedOut: 0,
    skipped: 0,
    gone: 0,
    waitIdle: o.waitIdle,
    idle: 0,
    stillBusy: 0,
    unavailable: null,
    timedOutIdentities: [],
    stillBusyIdentities: [],
    processes: [],
    skippedIdentities: [],
  };
  const report = (status: StepStatus, summary: string, error?: StepError): SidekiqQuietReport => ({
    step: SIDEKIQ_QUIET,
    ok: status !== 'failed',
    status,
    summary,
    details,
    ...(error ? { error } : {}),
    durationMs: clock.now() - startedAt,
  });
  const failed = (kind: StepErrorKind, message: string, summary = message) =>
    report('failed', summary, { kind, message });

  // Input, before touching anything.
  const problems = validateSidekiqQuietOptions(options);
  if (problems.length) {
    return failed('bad_input', problems.map((p) => `${SIDEKIQ_QUIET_CONFIG_KEYS[p.option]}: ${p.message}`).join('; '));
  }
  const resolved = resolveRedisUrl(context.vars, options);
  if ('problem' in resolved) return failed('bad_input', resolved.problem);
  const urlProblem = redisUrlProblem(resolved.url);
  if (urlProblem) return failed('bad_input', `${resolved.source}: ${urlProblem}`);
  details.redis = redactRedisUrl(resolved.url);
  const where = `${details.redis}${options.namespace ? ` (namespace "${options.namespace}")` : ''}`;
  const keys = sidekiqKeys(options.namespace);

  /** Redis could not be used and nothing was signalled: on_unavailable decides for `unreachable`. */
  const unusable = (fault: RedisFault): SidekiqQuietReport => {
    if (fault.kind === 'unreachable' && o.onUnavailable === 'skip') {
      details.unavailable = fault.message;
      log(`skipped: ${fault.message}`);
      return report('skipped', `skipped: ${fault.message}; on_unavailable = "skip": no Sidekiq process was quieted`);
    }
    const hint = fault.kind === 'unreachable' ? ' (on_unavailable = "fail"; "skip" would let the deploy go on)' : '';
    return failed(faultKind(fault), `${fault.message}; nothing was signalled${hint}`);
  };

  let client: Redis;
  try {
    client = await connectRedis(resolved.url, {
      connectTimeoutMs: o.connectTimeoutMs,
      commandTimeoutMs: Math.max(o.connectTimeoutMs, 1000),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    return unusable(classifyRedisError(err, where));
  }

  try {
    // 1. Find the live processes, as Sidekiq::ProcessSet does.
    const tracked: Tracked[] = [];
    try {
      const ids = await listIdentities(client, keys);
      const seen = await readProcesses(client, keys, ids);
      for (const id of ids) {
        const s = seen.get(id);
        if (!s?.info) {
          details.skippedIdentities.push({ identity: id, reason: 'dead' });
          continue;
        }
        const info = parseInfo(s.info);
        if (!info) log(`${id}: its info is not JSON; treating it as a live, non-embedded process`);
        if (info?.embedded === true) {
          details.skippedIdentities.push({ identity: id, reason: 'embedded' });
          continue;
        }
        const alreadyQuiet = s.quiet === 'true';
        tracked.push({
          outcome: {
            identity: id,
            hostname: typeof info?.hostname === 'string' ? info.hostname : null,
            pid: typeof info?.pid === 'number' ? info.pid : null,
            tag: typeof info?.tag === 'string' && info.tag !== '' ? info.tag : null,
            state: alreadyQuiet ? 'quieted' : 'timed_out',
            alreadyQuiet,
            signalled: false,
            ackMs: alreadyQuiet ? 0 : null,
            busy: countOf(s.busy),
            idle: null,
            reason: null,
          },
          signalledAtMs: null,
          beatAtSignal: s.beat,
          lastSeen: s,
        });
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      return unusable(classifyRedisError(err, where));
    }
    details.found = tracked.length;
    details.skipped = details.skippedIdentities.length;
    details.processes = tracked.map((t) => t.outcome);
    const embedded = details.skippedIdentities.filter((s) => s.reason === 'embedded').length;
    const dead = details.skipped - embedded;
    const skippedText = details.skipped ? `skipped ${embedded} embedded, ${dead} dead` : '';
    log(`${where}: ${plural(tracked.length, 'live Sidekiq process')}${skippedText ? ` (${skippedText})` : ''}`);

    // 2. Quiet, as Process#quiet! does.
    const toSignal = tracked.filter((t) => !t.outcome.alreadyQuiet);
    const signalFaults: RedisFault[] = [];
    await Promise.all(
      toSignal.map(async (t) => {
        try {
          await sendQuiet(client, keys, t.outcome.identity);
          t.outcome.signalled = true;
          t.signalledAtMs = clock.now();
        } catch (err) {
          const fault = classifyRedisError(err, where);
          signalFaults.push(fault);
          t.outcome.state = 'not_signalled';
          t.outcome.reason = fault.message;
        }
      }),
    );
    const signalled = toSignal.filter((t) => t.outcome.signalled);
    if (signalFaults.length) {
      if (signal.aborted) throw signal.reason;
      const fault = signalFaults[0]!;
      // Nothing was sent: as if Redis had been unusable from the start.
      if (signalled.length === 0) return unusable(fault);
      const notSent = toSignal.filter((t) => !t.outcome.signalled).map((t) => t.outcome.identity);
      details.timedOut = notSent.length;
      details.timedOutIdentities = notSent;
      details.quieted = tracked.filter((t) => t.outcome.alreadyQuiet).length;
      const message = `${fault.message}: TSTP reached ${signalled.length} of ${toSignal.length} Sidekiq processes (they will go quiet); not sent to ${listed(notSent)}`;
      log(message);
      return failed(faultKind(fault), message);
    }
    const already = tracked.length - toSignal.length;
    if (toSignal.length)
      log(
        `sent TSTP to ${plural(toSignal.length, 'process')}${already ? ` (${already} already quiet)` : ''}; waiting up to ${formatDuration(o.timeoutMs)} for quiet`,
      );
    else if (already) log(`all ${plural(already, 'process')} already quiet`);

    try {
      // 3. Wait for quiet = "true".
      await waitQuiet(client, keys, signalled, { clock, signal, log, timeoutMs: o.timeoutMs, pollMs: o.pollMs });
      // 4. Optionally wait for busy = "0".
      const quieted = tracked.filter((t) => t.outcome.state === 'quieted');
      if (o.waitIdle && quieted.length)
        await waitIdle(client, keys, quieted, { clock, signal, log, timeoutMs: o.idleTimeoutMs, pollMs: o.pollMs });
    } catch (err) {
      if (signal.aborted) {
        log(
          `aborted: ${plural(signalled.length, 'process')} had been sent TSTP and will go quiet (quiet cannot be undone through Redis)`,
        );
        throw signal.reason ?? err;
      }
      throw err;
    }

    // 5. Report.
    const timedOut = tracked.filter((t) => t.outcome.state === 'timed_out');
    const gone = tracked.filter((t) => t.outcome.state === 'gone');
    const quietedNow = tracked.filter((t) => t.outcome.state === 'quieted');
    details.quieted = quietedNow.length;
    details.timedOut = timedOut.length;
    details.timedOutIdentities = timedOut.map((t) => t.outcome.identity);
    details.gone = gone.length;
    if (o.waitIdle) {
      const busy = quietedNow.filter((t) => t.outcome.idle === false);
      details.stillBusy = busy.length;
      details.stillBusyIdentities = busy.map((t) => t.outcome.identity);
      details.idle = quietedNow.length - busy.length;
    }
    const took = formatDuration(clock.now() - startedAt);
    const tail = [
      already ? `${already} already quiet` : '',
      gone.length ? `${gone.length} stopped while waiting` : '',
      skippedText,
    ].filter(Boolean);
    const tailText = tail.length ? ` (${tail.join('; ')})` : '';

    const failures: string[] = [];
    if (timedOut.length) {
      failures.push(
        `${timedOut.length} of ${plural(tracked.length, 'Sidekiq process')} did not report quiet within ${formatDuration(o.timeoutMs)}: ` +
          timedOut
            .slice(0, 5)
            .map((t) => `${t.outcome.identity}: ${t.outcome.reason}`)
            .join('; ') +
          (timedOut.length > 5 ? `; and ${timedOut.length - 5} more` : ''),
      );
    }
    if (details.stillBusy) {
      const busy = quietedNow.filter((t) => t.outcome.idle === false);
      failures.push(
        `${details.stillBusy} quiet ${details.stillBusy === 1 ? 'process was' : 'processes were'} still busy after ${formatDuration(o.idleTimeoutMs)}: ` +
          listed(busy.map((t) => `${t.outcome.identity} (busy ${t.outcome.busy ?? '?'})`)),
      );
    }
    if (failures.length) {
      const message = failures.join('; ') + ` [at ${where}]`;
      const summary =
        (timedOut.length
          ? `${details.quieted} of ${tracked.length} Sidekiq processes quiet; ${timedOut.length} timed out: ${listed(details.timedOutIdentities, 3)}`
          : `${details.quieted} of ${tracked.length} Sidekiq processes quiet`) +
        (details.stillBusy ? `; ${details.stillBusy} still busy: ${listed(details.stillBusyIdentities, 3)}` : '') +
        tailText;
      return failed('timeout', message, summary);
    }
    if (tracked.length === 0) {
      if (!options.namespace && details.skippedIdentities.length === 0) {
        // A user whose ACL forbids SCAN just gets the plain answer.
        const sets = await namespacedProcessSets(client).catch(() => []);
        if (sets.length)
          return failed(
            'bad_input',
            namespaceHint(where, sets),
            `no Sidekiq process without a namespace; found namespace "${sets[0]!.namespace}": set --namespace`,
          );
      }
      return report(
        'succeeded',
        `no live Sidekiq process at ${where}: nothing to quiet${skippedText ? ` (${skippedText})` : ''}`,
      );
    }
    const idleText = o.waitIdle ? (details.quieted ? ', all idle' : '') : '';
    return report(
      'succeeded',
      `quieted ${details.quieted} of ${plural(tracked.length, 'Sidekiq process')}${idleText} in ${took} at ${where}${tailText}`,
    );
  } finally {
    await closeRedis(client);
  }
}
