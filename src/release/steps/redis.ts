// Redis connections for release steps (ioredis): URL checks, a connect that fails fast with a
// specific reason, and the translation of ioredis/Redis errors into what a human can act on.
//
// ioredis reports the real cause of a failed connect (ECONNREFUSED, WRONGPASS, ...) only as an
// 'error' event and rejects connect() with a bare "Connection is closed.", and it reports a failed
// SELECT (DB index out of range) only as an event while carrying on in DB 0. connectRedis() listens
// for those events and turns them into one RedisFault.

// ioredis is loaded when a step first connects: most runway processes (every deploy without a Sidekiq
// step) never need it, and loading it costs ~20 MB of resident memory.
import type { Redis } from 'ioredis';

/**
 * - `unreachable`: nothing (or no Redis) answers at the URL, or the connection broke;
 * - `auth`: Redis refused the user/password (WRONGPASS, NOAUTH);
 * - `permission`: the Redis user may not run a command the step needs (ACL NOPERM);
 * - `bad_input`: the URL itself is wrong (not redis://, bad DB index, read-only replica);
 * - `internal`: any other Redis error.
 */
export type RedisFaultKind = 'unreachable' | 'auth' | 'permission' | 'bad_input' | 'internal';

export class RedisFault extends Error {
  constructor(
    readonly kind: RedisFaultKind,
    message: string,
    readonly raw: string,
  ) {
    super(message);
    this.name = 'RedisFault';
  }
}

/** The URL with any password replaced by `***` (user names are kept: they help). */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(
      /\/\/([^@/]*)@/,
      (_m, cred: string) => `//${cred.includes(':') ? cred.slice(0, cred.indexOf(':')) + ':***' : cred}@`,
    );
  }
}

/** Why `url` is not a usable Redis URL, or undefined when it is. */
export function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${redactRedisUrl(url)}" is not a URL (expected redis://[user:password@]host:port[/db] or rediss://...)`;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    return `"${redactRedisUrl(url)}" is not a Redis URL: the scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//`;
  }
  if (!u.hostname) return `"${redactRedisUrl(url)}" names no host`;
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    return `"${redactRedisUrl(url)}": the path must be a database index (e.g. /0), not "/${db}"`;
  return undefined;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing is listening there',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'host name lookup failed (DNS, temporary)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection broken',
};

/** Turns an ioredis/Redis error into a RedisFault whose message names `where` (the redacted URL). */
export function classifyRedisError(err: unknown, where: string): RedisFault {
  if (err instanceof RedisFault) return err;
  // ioredis adds "Please report this." to protocol errors; here it is the server that is wrong.
  const raw = (err instanceof Error ? err.message : String(err)).replace(/\.?\s*Please report this\.?/, '');
  const code = (err as { code?: unknown } | null)?.code;
  const has = (re: RegExp) => re.test(raw);
  if (has(/WRONGPASS|invalid username-password|invalid password/i)) {
    return new RedisFault(
      'auth',
      `Redis at ${where} refused the credentials (${raw.trim()}): check the user name and password in the Redis URL`,
      raw,
    );
  }
  if (has(/NOAUTH/)) {
    return new RedisFault(
      'auth',
      `Redis at ${where} requires a password and the URL gives none (${raw.trim()}): use redis://[user]:PASSWORD@host:port`,
      raw,
    );
  }
  if (has(/NOPERM/)) {
    const cmd = /run the '([^']+)' command/.exec(raw)?.[1];
    return new RedisFault(
      'permission',
      `the Redis user of ${where} may not ${cmd ? `run ${cmd.toUpperCase()}` : 'do what the step needs'} (${raw.trim()}); grant it the commands and keys the step needs (docs/release-steps.md)`,
      raw,
    );
  }
  if (has(/DB index is out of range|invalid DB index/i)) {
    return new RedisFault(
      'bad_input',
      `Redis at ${where} has no such database (${raw.trim()}): fix the /DB index in the URL`,
      raw,
    );
  }
  if (has(/^WRONGTYPE/)) {
    return new RedisFault(
      'bad_input',
      `Redis at ${where} holds a key of another type where Sidekiq keeps its processes (${raw.trim()}): is this Sidekiq's Redis, database and namespace?`,
      raw,
    );
  }
  if (has(/^READONLY/)) {
    return new RedisFault(
      'bad_input',
      `Redis at ${where} is a read-only replica (${raw.trim()}): point the URL at the primary`,
      raw,
    );
  }
  if (has(/^LOADING/)) {
    return new RedisFault(
      'unreachable',
      `Redis at ${where} is loading its dataset and not serving yet (${raw.trim()})`,
      raw,
    );
  }
  if (has(/Unknown RESP type|Protocol error/i)) {
    return new RedisFault(
      'unreachable',
      `the server at ${where} does not speak the Redis protocol (${raw.trim()}): is the host/port right?`,
      raw,
    );
  }
  const netCode =
    typeof code === 'string' && NETWORK_CODES[code] ? code : Object.keys(NETWORK_CODES).find((c) => raw.includes(c));
  if (netCode)
    return new RedisFault(
      'unreachable',
      `Redis at ${where} is unreachable: ${NETWORK_CODES[netCode]} (${raw.trim()})`,
      raw,
    );
  if (has(/connect timeout|timed out|Command timed out/i)) {
    return new RedisFault('unreachable', `Redis at ${where} did not answer in time (${raw.trim()})`, raw);
  }
  if (has(/Connection is closed|Stream isn't writeable|Reached the max retries|socket|TLS|SSL|certificate/i)) {
    return new RedisFault('unreachable', `Redis at ${where} is unreachable (${raw.trim()})`, raw);
  }
  return new RedisFault('internal', `Redis at ${where} answered with an error: ${raw.trim()}`, raw);
}

export interface ConnectOptions {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * Connects and checks the connection once (authenticated, database selected). Fails fast: no retry
 * before the first successful connect. After that, a dropped connection is retried in the
 * background (commands fail at once meanwhile: no offline queue), so one blip does not end a wait.
 * Throws RedisFault.
 */
export async function connectRedis(url: string, options: ConnectOptions): Promise<Redis> {
  const where = redactRedisUrl(url);
  let connected = false;
  const events: Error[] = [];
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    autoResubscribe: false,
    // ioredis owns its reconnect loop (on real time, off the injected Clock), so domain/backoff.ts cannot run it.
    retryStrategy: (times) => (connected ? Math.min(times * 200, 2000) : null),
  });
  // Without a listener ioredis prints every error; the step reports them instead.
  client.on('error', (err: Error) => {
    events.push(err);
  });
  const onAbort = () => client.disconnect();
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await client.connect();
    } catch (err) {
      if (options.signal.aborted) throw options.signal.reason ?? err;
      throw classifyRedisError(events.find((e) => e.message !== 'Connection is closed.') ?? err, where);
    }
    // A barrier: the handshake's replies (AUTH, SELECT) come before this one. A NOPERM answer is
    // fine here; the step's own commands will say what is missing.
    await client.ping().catch(() => undefined);
    const fatal = events
      .map((e) => classifyRedisError(e, where))
      .find((f) => f.kind === 'auth' || f.kind === 'bad_input');
    if (fatal) throw fatal;
    connected = true;
    return client;
  } catch (err) {
    client.disconnect();
    throw err;
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}

/** Closes politely (QUIT), or at once when Redis is gone. Never throws. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    // Bounded by the client's commandTimeout.
    await client.quit().catch(() => undefined);
  }
  client.disconnect();
}
