// Size: ~750 lines, one protocol end to end; its split by concept is tracked in issue 18.
// The `sidekiq-quiet` release step: tells every live Sidekiq process to stop taking new jobs
// ("quiet"), in Sidekiq's own Redis protocol, and waits until each one says it is quiet (and,
// optionally, idle). Protocol (Sidekiq 6.0 – 8.x; lib/sidekiq/api.rb and launcher.rb):
//
// - Live processes: the members of the SET `processes` (identities "hostname:pid:nonce") whose
//   HASH `<identity>` still has the field `info` (the hash expires 60 s after the last heartbeat, so
//   a member without `info` is dead). `info` is JSON; `"embedded": true` marks a Sidekiq running
//   inside another process, which reads its signals but ignores them: skipped, as Sidekiq's
//   Process#quiet! refuses it.
// - Quiet, exactly as Process#quiet!: MULTI; LPUSH <identity>-signals TSTP; EXPIRE <identity>-signals 60; EXEC.
// - Each heartbeat (every 10 s in 7.x/8.x, 5 s in 6.x) writes `quiet` = @done.to_s and `busy` into
//   the hash, then RPOPs one signal and acts on it; so `quiet` = "true" shows on the beat after the
//   one that read TSTP: up to ~2 beats (about 20 s). The default 30 s timeout leaves room and stays
//   below the 60 s after which an unread signal expires (a longer wait could never succeed).
// - With redis-namespace every key is prefixed `<namespace>:` (the set members are not).
//
// Idempotent: a process that already reports quiet is not signalled again; a run after a crash
// sends TSTP only to those not yet quiet. Quiet cannot be undone through Redis: a quieted process
// takes no new jobs until it is restarted. Processes that start after the step (new identities,
// e.g. the new release's workers) are not quiet, by design.

import type { Redis } from 'ioredis';
import { RealClock, formatDuration, parseDuration } from '../../domain/clock.js';
import { namespaceHint, namespacedProcessSets } from './sidekiq-namespaces.js';
import { RedisFault, classifyRedisError, closeRedis, connectRedis, redactRedisUrl, redisUrlProblem } from './redis.js';
import type { ReleaseStep, StepContext, StepError, StepErrorKind, StepReport, StepStatus } from './step.js';

export const SIDEKIQ_QUIET = 'sidekiq-quiet';

/** Sidekiq's EXPIRE on `<identity>-signals`: an unread signal is gone after this. */
export const SIGNAL_TTL_SECONDS = 60;

export type OnUnavailable = 'fail' | 'skip';

export interface SidekiqQuietOptions {
  /**
   * The Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS). When absent it is read
   * from the context's vars: `redisUrlVar` if set, else the variable REDIS_PROVIDER names (Sidekiq's
   * convention), else REDIS_URL.
   */
  redisUrl?: string;
  /** The variable holding the Redis URL (e.g. SIDEKIQ_REDIS_URL). */
  redisUrlVar?: string;
  /** redis-namespace prefix: keys become `<namespace>:processes`, `<namespace>:<identity>`, ... */
  namespace?: string;
  /** How long to wait for every process to report quiet = "true"; at most 60 s. Default 30 s. */
  timeoutMs?: number;
  /** Then wait until every quieted process reports busy = "0". Default false. */
  waitIdle?: boolean;
  /** How long to wait for idle (waitIdle). Default 5 min. */
  idleTimeoutMs?: number;
  /** How often to read the processes' hashes while waiting. Default 1 s. */
  pollMs?: number;
  /**
   * When Redis cannot be reached (before anything was signalled): "fail" (default) fails the step;
   * "skip" reports it skipped and lets the deploy go on. Refused credentials always fail.
   */
  onUnavailable?: OnUnavailable;
  /** Connect timeout. Default 5 s. */
  connectTimeoutMs?: number;
}

export const SIDEKIQ_QUIET_DEFAULTS = {
  timeoutMs: 30_000,
  waitIdle: false,
  idleTimeoutMs: 300_000,
  pollMs: 1_000,
  onUnavailable: 'fail' as OnUnavailable,
  connectTimeoutMs: 5_000,
} as const;

/** A process the step signalled (or found already quiet), and what became of it. */
export type SidekiqProcessOutcome = {
  identity: string;
  hostname: string | null;
  pid: number | null;
  tag: string | null;
  /**
   * - `quieted`: reports quiet = "true";
   * - `timed_out`: did not within the timeout (`reason` says what was seen);
   * - `gone`: stopped while we waited (left `processes`, or its hash expired): takes no jobs either;
   * - `not_signalled`: Redis failed before TSTP could be sent to it.
   */
  state: 'quieted' | 'timed_out' | 'gone' | 'not_signalled';
  /** It reported quiet before the step; no signal was sent. */
  alreadyQuiet: boolean;
  /** TSTP was pushed to its signal list by this run. */
  signalled: boolean;
  /** From sending TSTP to seeing quiet = "true". */
  ackMs: number | null;
  /** The last `busy` seen (jobs in progress). */
  busy: number | null;
  /** With waitIdle: whether busy reached 0 (or it stopped); null when not waited for. */
  idle: boolean | null;
  /** Why it timed out, was not signalled, is still busy or is gone, in words. */
  reason: string | null;
};

export type SidekiqSkippedIdentity = {
  identity: string;
  /** `embedded`: a Sidekiq inside another process (ignores signals); `dead`: no heartbeat for 60 s (no `info`). */
  reason: 'embedded' | 'dead';
};

/** The step's details; the CLI's --json prints these at the top level. */
export type SidekiqQuietDetails = {
  /** The Redis URL used, password hidden; null when none could be resolved. */
  redis: string | null;
  namespace: string | null;
  /** Live, non-embedded processes found. */
  found: number;
  /** Of those, how many report quiet (already quiet ones included). */
  quieted: number;
  /** Of those, how many did not report quiet in time (or could not be signalled). */
  timedOut: number;
  /** Identities in `processes` that were skipped: embedded or dead. */
  skipped: number;
  /** Processes that stopped while the step waited. */
  gone: number;
  waitIdle: boolean;
  /** With waitIdle: quieted processes that reached busy = 0 (or stopped). */
  idle: number;
  /** With waitIdle: quieted processes still busy at the idle timeout. */
  stillBusy: number;
  /** Why Redis could not be used, when the step was skipped (on_unavailable = "skip"). */
  unavailable: string | null;
  timedOutIdentities: string[];
  stillBusyIdentities: string[];
  processes: SidekiqProcessOutcome[];
  skippedIdentities: SidekiqSkippedIdentity[];
};

export type SidekiqQuietReport = StepReport<SidekiqQuietDetails>;

export function sidekiqQuietStep(options: SidekiqQuietOptions = {}): ReleaseStep<SidekiqQuietDetails> {
  return { name: SIDEKIQ_QUIET, run: (context) => runSidekiqQuiet(context, options) };
}

// ---------------------------------------------------------------------------------------------
// Options

export type SidekiqQuietOption = keyof SidekiqQuietOptions;

export interface OptionProblem {
  option: SidekiqQuietOption;
  message: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Problems with the options (empty when they are fine); messages do not repeat the option's name. */
export function validateSidekiqQuietOptions(options: SidekiqQuietOptions): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const positive = (option: SidekiqQuietOption, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) problems.push({ option, message: `must be a positive duration, got ${value}` });
  };
  positive('timeoutMs', options.timeoutMs);
  positive('idleTimeoutMs', options.idleTimeoutMs);
  positive('pollMs', options.pollMs);
  positive('connectTimeoutMs', options.connectTimeoutMs);
  if (options.timeoutMs !== undefined && options.timeoutMs > SIGNAL_TTL_SECONDS * 1000) {
    problems.push({
      option: 'timeoutMs',
      message: `must be at most ${SIGNAL_TTL_SECONDS}s, got ${formatDuration(options.timeoutMs)}: Sidekiq drops an unread quiet signal after ${SIGNAL_TTL_SECONDS} s, so a longer wait could never succeed`,
    });
  }
  if (options.onUnavailable !== undefined && options.onUnavailable !== 'fail' && options.onUnavailable !== 'skip') {
    problems.push({ option: 'onUnavailable', message: `must be "fail" or "skip", got "${String(options.onUnavailable)}"` });
  }
  if (options.namespace !== undefined) {
    if (options.namespace === '' || /\s/.test(options.namespace)) problems.push({ option: 'namespace', message: `must be a non-empty name without spaces, got "${options.namespace}"` });
    else if (options.namespace.endsWith(':')) {
      problems.push({ option: 'namespace', message: `give it without the trailing colon ("${options.namespace.replace(/:+$/, '')}"); keys are "<namespace>:processes"` });
    }
  }
  if (options.redisUrlVar !== undefined && !IDENT.test(options.redisUrlVar)) {
    problems.push({ option: 'redisUrlVar', message: `must be a variable name (letters, digits, _), got "${options.redisUrlVar}"` });
  }
  if (options.redisUrl !== undefined) {
    const problem = redisUrlProblem(options.redisUrl);
    if (problem) problems.push({ option: 'redisUrl', message: problem });
  }
  return problems;
}

/** runway.toml keys of a sidekiq-quiet step table, by option. */
export const SIDEKIQ_QUIET_CONFIG_KEYS: Record<SidekiqQuietOption, string> = {
  redisUrl: 'redis_url',
  redisUrlVar: 'redis_url_var',
  namespace: 'namespace',
  timeoutMs: 'timeout',
  waitIdle: 'wait_idle',
  idleTimeoutMs: 'idle_timeout',
  pollMs: 'poll_interval',
  onUnavailable: 'on_unavailable',
  connectTimeoutMs: 'connect_timeout',
};

/**
 * Reads a runway.toml table of step options (snake_case keys, durations as "30s"/"5m" or seconds)
 * into options; `problems` name the key. Unknown keys are problems.
 */
export function parseSidekiqQuietConfig(raw: Record<string, unknown>): { options: SidekiqQuietOptions; problems: { key: string; message: string }[] } {
  const options: SidekiqQuietOptions = {};
  const problems: { key: string; message: string }[] = [];
  const byKey = new Map(Object.entries(SIDEKIQ_QUIET_CONFIG_KEYS).map(([option, key]) => [key, option as SidekiqQuietOption]));
  for (const [key, value] of Object.entries(raw)) {
    const option = byKey.get(key);
    if (!option) {
      problems.push({ key, message: `unknown key; sidekiq-quiet takes ${[...byKey.keys()].join(', ')}` });
      continue;
    }
    const duration = () => {
      if (typeof value === 'number') return value * 1000;
      if (typeof value === 'string') {
        try {
          return parseDuration(value);
        } catch (err) {
          problems.push({ key, message: (err as Error).message });
          return undefined;
        }
      }
      problems.push({ key, message: `expected a duration such as "30s", got ${JSON.stringify(value)}` });
      return undefined;
    };
    const text = () => {
      if (typeof value === 'string') return value;
      problems.push({ key, message: `expected a string, got ${JSON.stringify(value)}` });
      return undefined;
    };
    switch (option) {
      case 'timeoutMs':
      case 'idleTimeoutMs':
      case 'pollMs':
      case 'connectTimeoutMs': {
        const ms = duration();
        if (ms !== undefined) options[option] = ms;
        break;
      }
      case 'waitIdle':
        if (typeof value === 'boolean') options.waitIdle = value;
        else problems.push({ key, message: `expected true or false, got ${JSON.stringify(value)}` });
        break;
      case 'onUnavailable': {
        const s = text();
        if (s !== undefined) options.onUnavailable = s as OnUnavailable;
        break;
      }
      default: {
        const s = text();
        if (s !== undefined) options[option] = s;
      }
    }
  }
  for (const p of validateSidekiqQuietOptions(options)) problems.push({ key: SIDEKIQ_QUIET_CONFIG_KEYS[p.option], message: p.message });
  return { options, problems };
}

/**
 * Where the Redis URL comes from: the option, else vars[redisUrlVar], else the variable named by
 * REDIS_PROVIDER (Sidekiq's convention), else REDIS_URL.
 */
export function resolveRedisUrl(vars: Readonly<Record<string, string>>, options: Pick<SidekiqQuietOptions, 'redisUrl' | 'redisUrlVar'>): { url: string; source: string } | { problem: string } {
  if (options.redisUrl !== undefined) return { url: options.redisUrl, source: 'the redis_url option' };
  if (options.redisUrlVar !== undefined) {
    const url = vars[options.redisUrlVar];
    if (!url) return { problem: `redis_url_var names ${options.redisUrlVar}, which is not set in the environment's variables or secrets` };
    return { url, source: `$${options.redisUrlVar}` };
  }
  const provider = vars.REDIS_PROVIDER;
  if (provider) {
    if (provider.includes(':')) {
      return { problem: 'REDIS_PROVIDER must be the NAME of the variable that holds the Redis URL (e.g. REDISTOGO_URL), not a URL' };
    }
    const url = vars[provider];
    if (url) return { url, source: `$${provider} (named by REDIS_PROVIDER)` };
  }
  const url = vars.REDIS_URL;
  if (url) return { url, source: '$REDIS_URL' };
  return {
    problem:
      'no Redis URL: set REDIS_URL (or REDIS_PROVIDER naming the variable that holds it) in the environment\'s variables or secrets, or give the step redis_url / redis_url_var',
  };
}

// ---------------------------------------------------------------------------------------------
// The run

interface Keys {
  processes: string;
  hash(identity: string): string;
  signals(identity: string): string;
}

function sidekiqKeys(namespace: string | undefined): Keys {
  const k = (name: string) => (namespace ? `${namespace}:${name}` : name);
  return { processes: k('processes'), hash: (id) => k(id), signals: (id) => k(`${id}-signals`) };
}

/** What one read of a process shows. */
interface Seen {
  member: boolean;
  info: string | null;
  quiet: string | null;
  busy: string | null;
  beat: string | null;
}

interface Tracked {
  outcome: SidekiqProcessOutcome;
  signalledAtMs: number | null;
  beatAtSignal: string | null;
  lastSeen: Seen | null;
}

const PIPELINE_CHUNK = 500;

async function readProcesses(client: Redis, keys: Keys, ids: string[]): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  for (let i = 0; i < ids.length; i += PIPELINE_CHUNK) {
    const chunk = ids.slice(i, i + PIPELINE_CHUNK);
    const pipeline = client.pipeline();
    for (const id of chunk) {
      pipeline.sismember(keys.processes, id);
      pipeline.hmget(keys.hash(id), 'info', 'quiet', 'busy', 'beat');
    }
    const replies = (await pipeline.exec()) ?? [];
    chunk.forEach((id, j) => {
      const member = replies[2 * j];
      const hash = replies[2 * j + 1];
      if (!member || !hash) throw new Error('Redis returned fewer replies than commands sent');
      if (member[0]) throw member[0];
      if (hash[0]) throw hash[0];
      const [info = null, quiet = null, busy = null, beat = null] = hash[1] as (string | null)[];
      out.set(id, { member: member[1] === 1, info, quiet, busy, beat });
    });
  }
  return out;
}

async function listIdentities(client: Redis, keys: Keys): Promise<string[]> {
  const ids = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.sscan(keys.processes, cursor, 'COUNT', 1000);
    cursor = next;
    for (const id of batch) ids.add(id);
  } while (cursor !== '0');
  return [...ids].sort();
}

function parseInfo(info: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(info);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function countOf(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function plural(n: number, word: string, many = `${word}es`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function listed(ids: string[], max = 5): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;
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

export async function runSidekiqQuiet(context: StepContext, options: SidekiqQuietOptions = {}): Promise<SidekiqQuietReport> {
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
  const failed = (kind: StepErrorKind, message: string, summary = message) => report('failed', summary, { kind, message });

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
    client = await connectRedis(resolved.url, { connectTimeoutMs: o.connectTimeoutMs, commandTimeoutMs: Math.max(o.connectTimeoutMs, 1000), signal });
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
        const list = keys.signals(t.outcome.identity);
        try {
          const replies = await client.multi().lpush(list, 'TSTP').expire(list, SIGNAL_TTL_SECONDS).exec();
          for (const [err] of replies ?? []) if (err) throw err;
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
    if (toSignal.length) log(`sent TSTP to ${plural(toSignal.length, 'process')}${already ? ` (${already} already quiet)` : ''}; waiting up to ${formatDuration(o.timeoutMs)} for quiet`);
    else if (already) log(`all ${plural(already, 'process')} already quiet`);

    try {
      // 3. Wait for quiet = "true".
      await waitQuiet(client, keys, signalled, { clock, signal, log, timeoutMs: o.timeoutMs, pollMs: o.pollMs });
      // 4. Optionally wait for busy = "0".
      const quieted = tracked.filter((t) => t.outcome.state === 'quieted');
      if (o.waitIdle && quieted.length) await waitIdle(client, keys, quieted, { clock, signal, log, timeoutMs: o.idleTimeoutMs, pollMs: o.pollMs });
    } catch (err) {
      if (signal.aborted) {
        log(`aborted: ${plural(signalled.length, 'process')} had been sent TSTP and will go quiet (quiet cannot be undone through Redis)`);
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
        (timedOut.length ? `${details.quieted} of ${tracked.length} Sidekiq processes quiet; ${timedOut.length} timed out: ${listed(details.timedOutIdentities, 3)}` : `${details.quieted} of ${tracked.length} Sidekiq processes quiet`) +
        (details.stillBusy ? `; ${details.stillBusy} still busy: ${listed(details.stillBusyIdentities, 3)}` : '') +
        tailText;
      return failed('timeout', message, summary);
    }
    if (tracked.length === 0) {
      if (!options.namespace && details.skippedIdentities.length === 0) {
        // A user whose ACL forbids SCAN just gets the plain answer.
        const sets = await namespacedProcessSets(client).catch(() => []);
        if (sets.length) return failed('bad_input', namespaceHint(where, sets), `no Sidekiq process without a namespace; found namespace "${sets[0]!.namespace}": set --namespace`);
      }
      return report('succeeded', `no live Sidekiq process at ${where}: nothing to quiet${skippedText ? ` (${skippedText})` : ''}`);
    }
    const idleText = o.waitIdle ? (details.quieted ? ', all idle' : '') : '';
    return report('succeeded', `quieted ${details.quieted} of ${plural(tracked.length, 'Sidekiq process')}${idleText} in ${took} at ${where}${tailText}`);
  } finally {
    await closeRedis(client);
  }
}

interface WaitOptions {
  clock: NonNullable<StepContext['clock']>;
  signal: AbortSignal;
  log(line: string): void;
  timeoutMs: number;
  pollMs: number;
}

/**
 * Polls `pending` until `settle` has settled each one or the deadline passes; one read of every
 * pending process per poll (pipelined). A failed read is logged and retried at the next poll.
 * Returns the processes still pending at the deadline.
 */
async function pollUntil(client: Redis, keys: Keys, pending: Tracked[], w: WaitOptions, settle: (t: Tracked, seen: Seen, now: number) => boolean, progress: (left: number) => void): Promise<Tracked[]> {
  const deadline = w.clock.now() + w.timeoutMs;
  let left = pending;
  let lastError = '';
  for (;;) {
    try {
      const seen = await readProcesses(client, keys, left.map((t) => t.outcome.identity));
      const now = w.clock.now();
      const before = left.length;
      left = left.filter((t) => {
        const s = seen.get(t.outcome.identity);
        if (!s) return true;
        t.lastSeen = s;
        if (countOf(s.busy) !== null) t.outcome.busy = countOf(s.busy);
        if (!s.member || !s.info) {
          t.outcome.state = 'gone';
          t.outcome.reason = !s.member ? 'it left the processes set (it stopped)' : 'its heartbeat expired (no beat for 60 s)';
          w.log(`${t.outcome.identity}: ${t.outcome.reason}`);
          return false;
        }
        return !settle(t, s, now);
      });
      if (left.length !== before) progress(left.length);
      lastError = '';
    } catch (err) {
      if (w.signal.aborted) throw w.signal.reason ?? err;
      const message = classifyRedisError(err, 'Redis').message;
      if (message !== lastError) w.log(`reading the processes failed, retrying: ${message}`);
      lastError = message;
    }
    if (left.length === 0) return left;
    const remaining = deadline - w.clock.now();
    if (remaining <= 0) return left;
    await w.clock.sleep(Math.min(w.pollMs, remaining), w.signal);
  }
}

async function waitQuiet(client: Redis, keys: Keys, signalled: Tracked[], w: WaitOptions): Promise<void> {
  if (signalled.length === 0) return;
  const total = signalled.length;
  const left = await pollUntil(
    client,
    keys,
    signalled,
    w,
    (t, s, now) => {
      if (s.quiet !== 'true') return false;
      t.outcome.state = 'quieted';
      t.outcome.ackMs = now - (t.signalledAtMs ?? now);
      return true;
    },
    (n) => w.log(`quiet: ${total - n}/${total}`),
  );
  if (left.length === 0) return;
  // Say why each did not acknowledge: is TSTP still unread, did it beat since?
  let unread = new Map<string, string[]>();
  try {
    const pipeline = client.pipeline();
    for (const t of left) pipeline.lrange(keys.signals(t.outcome.identity), 0, -1);
    const replies = (await pipeline.exec()) ?? [];
    unread = new Map(left.map((t, i) => [t.outcome.identity, (replies[i]?.[1] as string[] | undefined) ?? []]));
  } catch {
    // best effort: the reason then says less
  }
  for (const t of left) {
    t.outcome.state = 'timed_out';
    const signals = unread.get(t.outcome.identity);
    const quiet = t.lastSeen?.quiet ?? 'null';
    const beat = Number(t.lastSeen?.beat);
    const beatAge = Number.isFinite(beat) && beat > 0 ? ` (last heartbeat ${formatDuration(Math.max(0, w.clock.now() - beat * 1000))} ago)` : '';
    const beatSince = t.lastSeen?.beat !== t.beatAtSignal;
    if (signals === undefined) {
      t.outcome.reason = `no quiet = "true" yet; it reports quiet = "${quiet}"${beatAge}`;
    } else if (signals.includes('TSTP')) {
      t.outcome.reason = beatSince
        ? `it is heart-beating${beatAge} but TSTP is still unread in ${keys.signals(t.outcome.identity)} (${signals.length} signal(s) queued; Sidekiq reads one per heartbeat): it does not read its signals`
        : `no heartbeat since TSTP was sent${beatAge}, and TSTP is still unread: the process looks hung (Sidekiq beats every 10 s)`;
    } else {
      t.outcome.reason = `it read TSTP but still reports quiet = "${quiet}"${beatAge}: it ignores TSTP (an embedded Sidekiq, or the app traps TSTP)`;
    }
    w.log(`${t.outcome.identity}: did not report quiet within ${formatDuration(w.timeoutMs)}: ${t.outcome.reason}`);
  }
}

async function waitIdle(client: Redis, keys: Keys, quieted: Tracked[], w: WaitOptions): Promise<void> {
  const total = quieted.length;
  w.log(`waiting up to ${formatDuration(w.timeoutMs)} for ${plural(total, 'quiet process')} to finish their jobs (busy = 0)`);
  const left = await pollUntil(
    client,
    keys,
    quieted,
    w,
    (t, s) => {
      if (s.busy !== '0') return false;
      t.outcome.idle = true;
      return true;
    },
    (n) => w.log(`idle: ${total - n}/${total}`),
  );
  for (const t of quieted) {
    if (t.outcome.state === 'gone') {
      t.outcome.state = 'quieted';
      t.outcome.idle = true;
      t.outcome.reason = `stopped while finishing its jobs (${t.outcome.reason ?? 'gone'})`;
    }
  }
  for (const t of left) {
    t.outcome.idle = false;
    t.outcome.reason = `still busy with ${t.outcome.busy ?? '?'} job(s) after ${formatDuration(w.timeoutMs)}`;
    w.log(`${t.outcome.identity}: ${t.outcome.reason}`);
  }
}
