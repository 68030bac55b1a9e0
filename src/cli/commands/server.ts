// `runway server --config FILE --port P`: the control plane. Resumes deploys whose owner died (on
// start and whenever a lease lapses) and serves the HTTP API.

import { parseDuration } from '../../domain/clock.js';
import { EXIT } from '../../engine/summary.js';
import { openContext, type GlobalOptions } from '../context.js';
import { CliError, type Io } from '../io.js';
import { startServer } from '../../server/serve.js';
import { WebhookSecretError } from '../../triggers/github-webhook.js';

export interface ServerOptions extends GlobalOptions {
  port?: string;
  host?: string;
  instance?: string;
  leaseTtl?: string;
}

/** How long `runway server` waits for its graceful stop after SIGTERM or Ctrl-C. */
const SHUTDOWN_TIMEOUT_MS = 60_000;

export async function serverCommand(options: ServerOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const port = Number(options.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port must be 0-65535, got "${options.port}"`);
  let leaseTtlMs: number | undefined;
  if (options.leaseTtl !== undefined) {
    try {
      leaseTtlMs = parseDuration(options.leaseTtl);
    } catch (err) {
      throw new CliError(`--lease-ttl: ${(err as Error).message}`);
    }
    if (leaseTtlMs < 1_000) throw new CliError('--lease-ttl must be at least 1s');
  }
  const ctx = await openContext(options, io);
  let server;
  try {
    server = await startServer({
      config: ctx.config,
      store: ctx.store,
      port,
      ...(options.host ? { host: options.host } : {}),
      ...(options.instance ? { instanceId: options.instance } : {}),
      // Heartbeats come every third of the lease and takeover checks every sixth, so a dead owner's
      // deploy moves to another instance within the lease TTL plus one poll.
      ...(leaseTtlMs ? { leaseTtlMs, pollMs: Math.max(200, Math.round(leaseTtlMs / 6)) } : {}),
      processEnv: io.env,
      log: (line) => io.stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
  } catch (err) {
    await ctx.close();
    // A webhook secret file that is named but missing or empty: refuse to start half-configured.
    if (err instanceof WebhookSecretError)
      throw new CliError(`${err.message}; the server does not start with a webhook secret file it cannot use`);
    throw err;
  }
  io.stderr.write(`runway server ${server.deploys.instanceId} listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    else signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  io.stderr.write('runway server: stopping\n');
  // Graceful, but bounded: a stop that cannot finish (a store or provider call that never returns)
  // must not keep the process up forever. Deploys it leaves stay resumable: another instance or a
  // restart claims them once this instance's lease lapses.
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    server.close().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), SHUTDOWN_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!stopped) {
    io.stderr.write(
      `runway server: could not stop gracefully within ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting (its deploys are taken over when its lease lapses)\n`,
    );
    return EXIT.failed;
  }
  await ctx.close();
  return 0;
}
