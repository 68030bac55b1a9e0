// A test double of a Sidekiq 7 process, as far as Redis can see it: it heart-beats the way
// Sidekiq::Launcher#❤ does (7.x), against a real Redis, only faster (beatMs, default 500 ms
// instead of 10 s):
//
//   MULTI; UNLINK <id>:work; [HSET <id>:work tid json...; EXPIRE <id>:work 60]; EXEC
//   PING                                                   (Sidekiq measures rtt_us with it)
//   MULTI; SADD processes <id>; EXISTS <id>;
//          HSET <id> info <json> busy <n> beat <float s> rtt_us <n> quiet <"true"|"false"> rss <kb>;
//          EXPIRE <id> 60; RPOP <id>-signals; EXEC
//   then acts on the popped signal (unless embedded): TSTP → quiet (shows on the NEXT beat, as in
//   Sidekiq, where the signal handler sets @done after the beat wrote quiet); TERM → stop; TTIN → noted.
//
// stop() is Sidekiq's clean shutdown (SREM processes + UNLINK work; the hash expires by itself);
// freeze() is a hung process (no more beats, keys left to expire); kill() a crash.
// It does not import the code under test: keys are spelled out here on purpose.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface SidekiqDoubleOptions {
  /** redis-namespace prefix (keys become `<namespace>:...`). */
  namespace?: string;
  /** Heartbeat period; Sidekiq 7's is 10 s. Default 500 ms. */
  beatMs?: number;
  concurrency?: number;
  /** Jobs in progress (the `busy` field and the work hash). */
  busy?: number;
  /** Sidekiq.configure_embed: reads signals but ignores them. */
  embedded?: boolean;
  /** Reads TSTP but does not go quiet (an app that traps TSTP). */
  ignoreTstp?: boolean;
  tag?: string;
  queues?: string[];
  hostname?: string;
  pid?: number;
}

/** An identity as Sidekiq makes one: "hostname:pid:hex6". */
export function sidekiqIdentity(hostname = 'worker-1', pid = 1000 + Math.floor(Math.random() * 60000)): string {
  return `${hostname}:${pid}:${randomBytes(6).toString('hex')}`;
}

export class SidekiqProcessDouble {
  /** The value of `quiet` this process writes (Sidekiq's @done). */
  done = false;
  busy: number;
  beats = 0;
  /** Signals it popped, in order (acted on or not). */
  readonly received: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = true;
  private beating: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now() / 1000;
  private readonly k: (name: string) => string;

  private constructor(
    private readonly redis: Redis,
    readonly identity: string,
    private readonly options: SidekiqDoubleOptions,
  ) {
    this.busy = options.busy ?? 0;
    this.k = (name) => (options.namespace ? `${options.namespace}:${name}` : name);
  }

  /** Starts beating; resolves after the first beat (the process is then visible, as after Sidekiq boots). */
  static async start(
    redisUrl: string,
    identity: string = sidekiqIdentity(),
    options: SidekiqDoubleOptions = {},
  ): Promise<SidekiqProcessDouble> {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const double = new SidekiqProcessDouble(redis, identity, options);
    await double.beat();
    double.schedule();
    return double;
  }

  get quiet(): boolean {
    return this.done;
  }

  /** Jobs in progress from now on (visible in Redis at the next beat, as in Sidekiq). */
  setBusy(n: number): void {
    this.busy = n;
  }

  private info(): string {
    const [hostname, pid] = this.identity.split(':');
    return JSON.stringify({
      hostname: this.options.hostname ?? hostname,
      started_at: this.startedAt,
      pid: this.options.pid ?? Number(pid),
      tag: this.options.tag ?? '',
      concurrency: this.options.concurrency ?? 5,
      queues: this.options.queues ?? ['default'],
      weights: [{ default: 0 }],
      labels: [],
      identity: this.identity,
      version: '7.3.10',
      embedded: this.options.embedded ?? false,
    });
  }

  /** One heartbeat, as Launcher#❤. */
  async beat(): Promise<void> {
    const key = this.identity;
    const workKey = this.k(`${key}:work`);
    const work = this.redis.multi().unlink(workKey);
    if (this.busy > 0) {
      const jobs: Record<string, string> = {};
      for (let i = 0; i < this.busy; i++)
        jobs[`tid${i}`] = JSON.stringify({ queue: 'default', payload: '{}', run_at: Math.floor(Date.now() / 1000) });
      work.hset(workKey, jobs).expire(workKey, 60);
    }
    await work.exec();
    const t0 = process.hrtime.bigint();
    await this.redis.ping();
    const rtt = Number((process.hrtime.bigint() - t0) / 1000n);
    const replies = await this.redis
      .multi()
      .sadd(this.k('processes'), key)
      .exists(this.k(key))
      .hset(
        this.k(key),
        'info',
        this.info(),
        'busy',
        String(this.busy),
        'beat',
        String(Date.now() / 1000),
        'rtt_us',
        String(rtt),
        'quiet',
        String(this.done),
        'rss',
        '123456',
      )
      .expire(this.k(key), 60)
      .rpop(this.k(`${key}-signals`))
      .exec();
    this.beats++;
    const signal = replies?.[4]?.[1] as string | null | undefined;
    if (signal) {
      this.received.push(signal);
      if (!this.options.embedded) this.onSignal(signal);
    }
  }

  private onSignal(signal: string): void {
    if (signal === 'TSTP' && !this.options.ignoreTstp) this.done = true;
    if (signal === 'TERM') void this.stop();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat()
        .catch(() => undefined)
        .then(() => this.schedule());
    }, this.options.beatMs ?? 500);
  }

  private async halt(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.beating;
  }

  /** Clean shutdown, as Sidekiq's stop → clear_heartbeat. */
  async stop(): Promise<void> {
    if (this.redis.status === 'end') return;
    await this.halt();
    await this.redis
      .pipeline()
      .srem(this.k('processes'), this.identity)
      .unlink(this.k(`${this.identity}:work`))
      .exec()
      .catch(() => undefined);
    this.redis.disconnect();
  }

  /** Hung: no more heartbeats (its keys stay until they expire); the connection is closed. */
  async freeze(): Promise<void> {
    await this.halt();
    this.redis.disconnect();
  }

  /** Crash: like freeze. */
  kill(): Promise<void> {
    return this.freeze();
  }
}

/** Deletes every key under `namespace:` (tests' own prefix). */
export async function deleteNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}
