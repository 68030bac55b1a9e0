// Steady GET traffic through a proxy over keep-alive connections, every answer recorded: what the
// end-to-end tests assert "no request failed" with.

import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  /** Connection errors and timeouts. */
  failed: number;
  non2xx: number;
  statuses: Record<string, number>;
  /** 2xx answers by the release the body names. */
  releases: Record<string, number>;
  errors: string[];
}

export class Load {
  private readonly agent: Agent;
  private stopped = false;
  private readonly loops: Promise<void>[];
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  readonly result: LoadResult = { requests: 0, failed: 0, non2xx: 0, statuses: {}, releases: {}, errors: [] };

  constructor(
    private readonly url: string,
    options: { concurrency?: number; gapMs?: number } = {},
  ) {
    const concurrency = options.concurrency ?? 4;
    const gap = options.gapMs ?? 10;
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    this.loops = Array.from({ length: concurrency }, async () => {
      while (!this.stopped) {
        await this.once();
        await new Promise((r) => setTimeout(r, gap));
      }
    });
  }

  /**
   * Resolves once `count` requests have been answered in all (or failed: the assertions on the result
   * name those), so a test asks for traffic by amount, never by time.
   */
  answered(count: number): Promise<void> {
    if (this.result.requests >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private counted(): void {
    for (const w of [...this.waiters]) {
      if (this.result.requests < w.count) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }

  private once(): Promise<void> {
    const r = this.result;
    return new Promise<void>((resolve) => {
      const req = request(`${this.url}/`, { agent: this.agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.once('end', () => {
          r.requests++;
          const status = res.statusCode ?? 0;
          r.statuses[status] = (r.statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) {
            const release = /"release":"([^"]+)"/.exec(body)?.[1] ?? '?';
            r.releases[release] = (r.releases[release] ?? 0) + 1;
          } else {
            r.non2xx++;
            if (r.errors.length < 10) r.errors.push(`${status}: ${body.trim()}`);
          }
          resolve();
        });
      });
      req.setTimeout(20_000, () => req.destroy(new Error('timeout after 20 s')));
      req.once('error', (error) => {
        r.requests++;
        r.failed++;
        if (r.errors.length < 10) r.errors.push(error.message);
        resolve();
      });
      req.end();
    }).then(() => this.counted());
  }

  async stop(): Promise<LoadResult> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.result;
  }
}
