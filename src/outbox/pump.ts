// The outbox pump: turns lifecycle rows into deliveries (plan.ts) and delivers them — each channel
// (GitHub, every notification target) in seq order, retried with exponential backoff, given up on
// after `maxAgeMs` or when the receiver refuses for good. It runs in `runway server` and, while a
// CLI command has the store open, in the CLI (flushed when the command ends). Deploys never wait
// for it: a slow or unreachable receiver only delays its own channel.

import { hostname } from 'node:os';
import { nominalDelay } from '../domain/backoff.js';
import { RealClock } from '../domain/clock.js';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { LIFECYCLE_CHANNEL, type NewOutboxItem, type OutboxItem } from '../store/outbox-contract.js';
import { repositoryClient, GitHubConfigError, type RepositoryClient } from '../github/deployments/client.js';
import { deliverGitHub } from '../github/deployments/deliver.js';
import { PermanentDeliveryError, sendNotification } from '../notifications/send.js';
import { GITHUB_CHANNEL } from '../github/deployments/payload.js';
import { deliveriesFor, hasDeliveryTargets } from './plan.js';

export interface OutboxPumpOptions {
  store: Store;
  config: RunwayConfig;
  processEnv?: NodeJS.ProcessEnv;
  /** Claims name it (several instances share one store). */
  owner?: string;
  /** Wall-clock ms (tests move it to skip backoff). */
  now?: () => number;
  log?: (line: string) => void;
  /** Per HTTP request. Default 10 s. */
  requestTimeoutMs?: number;
  /** First retry delay, doubled per attempt up to `maxBackoffMs`. Defaults 2 s and 5 min. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** A row still undelivered this long after it was queued is given up (state failed). Default 24 h. */
  maxAgeMs?: number;
}

export interface PumpResult {
  delivered: number;
  failedAttempts: number;
  /** Pending rows left that are due later. */
  waiting: number;
}

/**
 * Delay before attempt n+1 after n failed ones: the one backoff schedule (domain/backoff.ts,
 * base·2^(n-1), capped) with ±20 % jitter. Not the providers' equal jitter: a delivery's next attempt is
 * a stored instant, not a sleep, and may come sooner than nominal (nothing here needs runs to repeat).
 */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const nominal = nominalDelay({ baseDelayMs: baseMs, maxDelayMs: maxMs }, attempts);
  return Math.round(nominal * (0.8 + 0.4 * random()));
}

const HTTP_PERMANENT = [400, 404, 410, 422];

export class OutboxPump {
  private readonly now: () => number;
  private readonly owner: string;
  private readonly processEnv: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  private github: RepositoryClient | Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PumpResult> | undefined;
  private stopped = false;
  /** Real time, for flush budgets (`now` may be moved by tests). */
  private readonly wall = new RealClock();

  constructor(private readonly options: OutboxPumpOptions) {
    this.now = options.now ?? (() => this.wall.now());
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.processEnv = options.processEnv ?? process.env;
    this.log = options.log ?? (() => {});
  }

  /** Whether the configuration has anything to deliver to (without, the pump only retires lifecycle rows). */
  get enabled(): boolean {
    return hasDeliveryTargets(this.options.config);
  }

  /** Pump every `intervalMs` until stop(); the timer does not keep the process alive. */
  start(intervalMs = 1000): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      void this.tick()
        .catch((err: Error) => this.log(`outbox: ${err.message}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, intervalMs).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Pump until nothing is due or `budgetMs` has passed; what is left stays queued. */
  async flush(budgetMs: number): Promise<PumpResult> {
    const deadline = this.wall.now() + budgetMs;
    let result: PumpResult = { delivered: 0, failedAttempts: 0, waiting: 0 };
    for (;;) {
      const r = await this.tick();
      result = {
        delivered: result.delivered + r.delivered,
        failedAttempts: result.failedAttempts + r.failedAttempts,
        waiting: r.waiting,
      };
      if ((r.delivered === 0 && r.failedAttempts === 0) || r.failedAttempts > 0 || this.wall.now() >= deadline)
        return result;
    }
  }

  /** One pass: fan out lifecycle rows, then deliver what is due on every channel. Passes never overlap. */
  tick(): Promise<PumpResult> {
    const run = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.pass());
    this.running = run;
    return run;
  }

  private async pass(): Promise<PumpResult> {
    const { store } = this.options;
    const result: PumpResult = { delivered: 0, failedAttempts: 0, waiting: 0 };
    for (const row of await store.listOutbox({ state: ['pending'], channel: LIFECYCLE_CHANNEL })) {
      if (!(await this.claim(row))) continue;
      // A status older than the give-up age (queued while nothing was configured, or while no pump
      // ran) is history: GitHub and the team are not told about it now.
      const stale = this.now() - row.createdAtMs >= this.maxAgeMs();
      const deploy = stale ? undefined : await store.getDeploy(row.deployId);
      const followUps = deploy ? deliveriesFor(row, deploy, this.options.config, this.now()) : [];
      await store.completeOutbox(row.seq, this.now(), followUps);
    }
    const pending = await store.listOutbox({ state: ['pending'], outwardOnly: true, limit: 2000 });
    const channels = new Map<string, OutboxItem[]>();
    for (const row of pending) channels.set(row.channel, [...(channels.get(row.channel) ?? []), row]);
    await Promise.all(
      [...channels.values()].map(async (rows) => {
        for (const row of rows) {
          // In order: a channel waits behind its oldest undelivered row.
          if (row.nextAttemptAtMs > this.now()) {
            result.waiting += rows.length - rows.indexOf(row);
            return;
          }
          if (!(await this.claim(row))) return;
          const outcome = await this.deliver(row);
          if (outcome === 'delivered') result.delivered++;
          else {
            result.failedAttempts++;
            if (outcome === 'retry') {
              result.waiting += rows.length - rows.indexOf(row);
              return;
            }
          }
        }
      }),
    );
    return result;
  }

  private claim(row: OutboxItem): Promise<boolean> {
    const now = this.now();
    return this.options.store.claimOutbox(row.seq, this.owner, now, now + Math.max(60_000, 3 * this.timeoutMs()));
  }

  private maxAgeMs(): number {
    return this.options.maxAgeMs ?? 24 * 3600_000;
  }

  private timeoutMs(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }

  private async deliver(row: OutboxItem): Promise<'delivered' | 'retry' | 'given up'> {
    const { store } = this.options;
    let followUps: NewOutboxItem[] = [];
    try {
      if (row.channel === GITHUB_CHANNEL) {
        followUps = await deliverGitHub(row, store, this.githubClient(), this.timeoutMs(), this.now());
      } else {
        const name = row.channel.replace(/^notify:/, '');
        const target = this.options.config.notifications?.find((t) => t.name === name);
        if (!target) throw new PermanentDeliveryError(`no notification target "${name}" in the configuration any more`);
        await sendNotification(row, target, this.processEnv, this.timeoutMs(), this.now());
      }
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      const permanent =
        err instanceof PermanentDeliveryError || (typeof status === 'number' && HTTP_PERMANENT.includes(status));
      const now = this.now();
      const giveUp = permanent || now - row.createdAtMs >= this.maxAgeMs();
      const message = describe(err);
      const next =
        now + backoffMs(row.attempts + 1, this.options.baseBackoffMs ?? 2000, this.options.maxBackoffMs ?? 300_000);
      await store.retryOutbox(row.seq, message, next, giveUp);
      this.log(
        `outbox: ${row.channel} ${row.kind} for deploy ${row.deployId}: ${message}${giveUp ? ' (given up)' : ` (attempt ${row.attempts + 1}; retrying)`}`,
      );
      return giveUp ? 'given up' : 'retry';
    }
    await store.completeOutbox(row.seq, this.now(), followUps);
    return 'delivered';
  }

  private githubClient(): RepositoryClient {
    if (this.github === undefined) {
      try {
        this.github = repositoryClient(this.options.config.github ?? {}, this.processEnv);
      } catch (err) {
        if (!(err instanceof GitHubConfigError)) throw err;
        this.github = err;
      }
    }
    if (this.github instanceof Error) throw this.github;
    return this.github;
  }
}

function describe(err: unknown): string {
  const e = err as { status?: number; message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  const text = `${e.message ?? String(err)}${cause && !(e.message ?? '').includes(cause) ? ` (${cause})` : ''}`;
  return typeof e.status === 'number' && !text.includes(String(e.status)) ? `HTTP ${e.status}: ${text}` : text;
}
