// Shared set-up for the release-step tests: the machine's real Redis, a namespace of its own per
// test (cleaned up after), Sidekiq doubles that are always stopped, and a port nothing listens on.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { SidekiqProcessDouble, deleteNamespace, sidekiqIdentity, type SidekiqDoubleOptions } from './sidekiq-double.js';
import { until } from '../support/wait.js';
import type { BuiltinStepContext } from '../../src/release/steps/step.js';

export const REDIS_URL = process.env.RUNWAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fast cadence for tests: the doubles beat every BEAT_MS, the step polls every POLL_MS. */
export const BEAT_MS = 250;
export const POLL_MS = 100;

export class Fixture {
  readonly namespace = `runway-test-sq-${randomBytes(4).toString('hex')}`;
  readonly admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  readonly doubles: SidekiqProcessDouble[] = [];
  readonly lines: string[] = [];
  private readonly cleanups: (() => Promise<unknown>)[] = [];

  key(name: string): string {
    return `${this.namespace}:${name}`;
  }

  async start(options: SidekiqDoubleOptions & { identity?: string; url?: string } = {}): Promise<SidekiqProcessDouble> {
    const { identity, url, ...rest } = options;
    const double = await SidekiqProcessDouble.start(url ?? REDIS_URL, identity ?? sidekiqIdentity(), {
      namespace: this.namespace,
      beatMs: BEAT_MS,
      ...rest,
    });
    this.doubles.push(double);
    return double;
  }

  /** A member of `processes` whose hash is gone (its heartbeat expired): dead. */
  async addDead(identity = sidekiqIdentity('gone-host')): Promise<string> {
    await this.admin.sadd(this.key('processes'), identity);
    return identity;
  }

  context(vars: Record<string, string> = {}, signal: AbortSignal = new AbortController().signal): BuiltinStepContext {
    return { vars, signal, log: (line) => void this.lines.push(line) };
  }

  onCleanup(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    await Promise.all(this.doubles.map((d) => d.stop().catch(() => undefined)));
    for (const fn of this.cleanups.reverse()) await fn().catch(() => undefined);
    await deleteNamespace(this.admin, this.namespace);
    this.admin.disconnect();
  }
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Creates a Redis ACL user (removed by the fixture's close); returns its name. */
export async function aclUser(fixture: Fixture, password: string, rules: string[]): Promise<string> {
  const name = `runway-test-${randomBytes(4).toString('hex')}`;
  await fixture.admin.call('ACL', 'SETUSER', name, 'reset', 'on', `>${password}`, ...rules);
  fixture.onCleanup(() => fixture.admin.call('ACL', 'DELUSER', name));
  return name;
}

export { until };

/** Waits until the double has beaten `n` more times: what it would do on its own has been done. */
export function beatsPast(double: SidekiqProcessDouble, n = 2): Promise<void> {
  const target = double.beats + n;
  return until(() => double.beats >= target, `${n} more heartbeats of ${double.identity}`);
}
