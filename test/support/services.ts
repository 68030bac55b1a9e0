// The real services some suites talk to. `npm test` starts or installs them first
// (scripts/test-services.sh); when one still cannot be reached the suite fails here, saying how to
// get it, rather than with a bare ECONNREFUSED deep inside a test.

import { connect } from 'node:net';

export const PG_URL = process.env.RUNWAY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.RUNWAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const HOW = {
  postgres:
    'start it with `bash scripts/test-services.sh` (runs before `npm test`; Debian: apt-get install -y postgresql, then pg_ctlcluster --skip-systemctl-redirect <version> main start), or set RUNWAY_TEST_PG to a database URL',
  redis:
    'start it with `bash scripts/test-services.sh` (runs before `npm test`; Debian: apt-get install -y redis-server, then redis-server --daemonize yes --port 6379), or set RUNWAY_TEST_REDIS_URL',
} as const;

function reachable(host: string, port: number, timeoutMs = 5_000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (error: string | null) => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function requireService(kind: keyof typeof HOW, url: string, defaultPort: number): Promise<void> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || defaultPort);
  const error = await reachable(host, port);
  if (error)
    throw new Error(`these tests need ${kind} at ${host}:${port}, which is unreachable (${error}): ${HOW[kind]}`);
}

/** Fails (never skips) when the test PostgreSQL cannot be reached, naming how to start it. */
export function requirePostgres(url = PG_URL): Promise<void> {
  return requireService('postgres', url, 5432);
}

/** Fails (never skips) when the test Redis cannot be reached, naming how to start it. */
export function requireRedis(url = REDIS_URL): Promise<void> {
  return requireService('redis', url, 6379);
}
