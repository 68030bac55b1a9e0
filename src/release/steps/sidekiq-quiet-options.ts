// The sidekiq-quiet step's options: their defaults, their checks, how runway.toml spells them, and
// where the Redis URL comes from.

import { formatDuration, parseDuration } from '../../domain/clock.js';
import { redisUrlProblem } from './redis.js';
import { SIGNAL_TTL_SECONDS } from './sidekiq-protocol.js';

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
    if (value !== undefined && !(Number.isFinite(value) && value > 0))
      problems.push({ option, message: `must be a positive duration, got ${value}` });
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
    problems.push({
      option: 'onUnavailable',
      message: `must be "fail" or "skip", got "${String(options.onUnavailable)}"`,
    });
  }
  if (options.namespace !== undefined) {
    if (options.namespace === '' || /\s/.test(options.namespace))
      problems.push({
        option: 'namespace',
        message: `must be a non-empty name without spaces, got "${options.namespace}"`,
      });
    else if (options.namespace.endsWith(':')) {
      problems.push({
        option: 'namespace',
        message: `give it without the trailing colon ("${options.namespace.replace(/:+$/, '')}"); keys are "<namespace>:processes"`,
      });
    }
  }
  if (options.redisUrlVar !== undefined && !IDENT.test(options.redisUrlVar)) {
    problems.push({
      option: 'redisUrlVar',
      message: `must be a variable name (letters, digits, _), got "${options.redisUrlVar}"`,
    });
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
export function parseSidekiqQuietConfig(raw: Record<string, unknown>): {
  options: SidekiqQuietOptions;
  problems: { key: string; message: string }[];
} {
  const options: SidekiqQuietOptions = {};
  const problems: { key: string; message: string }[] = [];
  const byKey = new Map(
    Object.entries(SIDEKIQ_QUIET_CONFIG_KEYS).map(([option, key]) => [key, option as SidekiqQuietOption]),
  );
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
  for (const p of validateSidekiqQuietOptions(options))
    problems.push({ key: SIDEKIQ_QUIET_CONFIG_KEYS[p.option], message: p.message });
  return { options, problems };
}

/**
 * Where the Redis URL comes from: the option, else vars[redisUrlVar], else the variable named by
 * REDIS_PROVIDER (Sidekiq's convention), else REDIS_URL.
 */
export function resolveRedisUrl(
  vars: Readonly<Record<string, string>>,
  options: Pick<SidekiqQuietOptions, 'redisUrl' | 'redisUrlVar'>,
): { url: string; source: string } | { problem: string } {
  if (options.redisUrl !== undefined) return { url: options.redisUrl, source: 'the redis_url option' };
  if (options.redisUrlVar !== undefined) {
    const url = vars[options.redisUrlVar];
    if (!url)
      return {
        problem: `redis_url_var names ${options.redisUrlVar}, which is not set in the environment's variables or secrets`,
      };
    return { url, source: `$${options.redisUrlVar}` };
  }
  const provider = vars.REDIS_PROVIDER;
  if (provider) {
    if (provider.includes(':')) {
      return {
        problem:
          'REDIS_PROVIDER must be the NAME of the variable that holds the Redis URL (e.g. REDISTOGO_URL), not a URL',
      };
    }
    const url = vars[provider];
    if (url) return { url, source: `$${provider} (named by REDIS_PROVIDER)` };
  }
  const url = vars.REDIS_URL;
  if (url) return { url, source: '$REDIS_URL' };
  return {
    problem:
      "no Redis URL: set REDIS_URL (or REDIS_PROVIDER naming the variable that holds it) in the environment's variables or secrets, or give the step redis_url / redis_url_var",
  };
}
