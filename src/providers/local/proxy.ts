// runway's proxy for one app/environment (it runs in its own worker thread: proxy-worker.ts, driven
// through proxy-host.ts): one listener on 127.0.0.1 that routes each request to a
// machine of the routable set (uncordoned, started, passing checks, of a served group), chosen by
// fewest requests in flight. Forwarding itself (hop-by-hop headers, X-Forwarded-*, websockets) is
// http-proxy-3's; routing, in-flight counts, draining, holding requests and retries are ours:
//  - the routable set is replaced in one synchronous assignment, so cordon, uncordon and cutover
//    change routing atomically (a request sees either the old set or the new one);
//  - in-flight counts per machine back Provider.drain(): a cordoned machine's requests finish;
//  - while no machine is routable (a whole fleet restarting under `immediate`), requests are held
//    up to `queueTimeoutMs` and sent when a machine becomes routable, instead of failing;
//  - a request without a body that fails before any response byte (connection refused or reset, e.g.
//    a reused keep-alive socket the machine just closed) is retried on another machine;
//  - keep-alive: clients keep their connections to the proxy across machine changes (routing is per
//    request); upstream keep-alive sockets are pooled per machine and dropped when it stops.

import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { emptyCounters, record, type RequestCounters } from '../../domain/traffic.js';
import { HOST } from './ports.js';

export interface Backend {
  id: string;
  port: number;
  /** The release the machine runs (requests are counted per machine and release). */
  release?: string;
}

export interface ProxyStats {
  /** Requests received (websocket upgrades included). */
  requests: number;
  /** Requests sent to a machine again after a connection failure. */
  retries: number;
  /** Requests held because no machine was routable. */
  held: number;
  /** Answers the proxy made itself: 502 (machine failed mid-request) and 503 (none routable in time). */
  badGateway: number;
  unavailable: number;
}

const MAX_ATTEMPTS = 3;
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

interface Held {
  send: () => void;
  timer: NodeJS.Timeout;
}

interface Attempt {
  tried: Set<string>;
  attempts: number;
  bodyless: boolean;
  settled: boolean;
}

export class LocalProxy {
  private server: Server | undefined;
  private readonly proxy = createProxyServer({ xfwd: true });
  private backends: readonly Backend[] = [];
  private readonly inflight = new Map<string, number>();
  private readonly agents = new Map<string, Agent>();
  private readonly idleWaiters = new Map<string, Set<() => void>>();
  private held: Held[] = [];
  private readonly machineOf = new WeakMap<IncomingMessage, string>();
  private turn = 0;
  private boundPort = 0;
  readonly stats: ProxyStats = { requests: 0, retries: 0, held: 0, badGateway: 0, unavailable: 0 };
  /** Per machine and release: requests answered, 5xx among them, latency histogram (analysis' proxy source). */
  readonly counters = new Map<string, Record<string, RequestCounters>>();
  private readonly releaseOf = new WeakMap<IncomingMessage, string>();

  constructor(private readonly options: { queueTimeoutMs: number }) {
    this.proxy.on('proxyRes', (_proxyRes, req, res) => {
      const id = this.machineOf.get(req);
      if (id && !res.headersSent) res.setHeader('x-runway-machine', id);
    });
    // Errors without a callback (websockets): the socket is closed by the handler below.
    this.proxy.on('error', () => {});
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://${HOST}:${this.boundPort}`;
  }

  /** Listen on `port` (0: any free one). Rejects with the listen error (EADDRINUSE) untouched. */
  listen(port: number): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.requestTimeout = 0;
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: HOST, exclusive: true }, () => {
        server.off('error', reject);
        const address = server.address();
        this.boundPort = typeof address === 'object' && address ? address.port : port;
        this.server = server;
        resolve(this.boundPort);
      });
    });
  }

  /** Replace the routable set at once; held requests go out if a machine is routable now. */
  setBackends(backends: readonly Backend[]): void {
    this.backends = [...backends];
    if (this.backends.length === 0 || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const h of held) {
      clearTimeout(h.timer);
      h.send();
    }
  }

  get routable(): readonly Backend[] {
    return this.backends;
  }

  inFlight(id: string): number {
    return this.inflight.get(id) ?? 0;
  }

  get inFlightTotal(): number {
    let n = 0;
    for (const v of this.inflight.values()) n += v;
    return n;
  }

  /** Resolve true once the machine has no request in flight, or false after `timeoutMs`. */
  drain(id: string, timeoutMs: number): Promise<boolean> {
    if (this.inFlight(id) === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.idleWaiters.get(id);
      if (!set) this.idleWaiters.set(id, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          set.delete(done);
          resolve(false);
        },
        Math.max(0, timeoutMs),
      );
      set.add(done);
    });
  }

  /** The machine's process is gone: drop pooled upstream sockets to it. */
  forget(id: string): void {
    this.agents.get(id)?.destroy();
    this.agents.delete(id);
  }

  async close(): Promise<void> {
    for (const h of this.held.splice(0)) {
      clearTimeout(h.timer);
    }
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    for (const set of this.idleWaiters.values()) for (const done of [...set]) done();
  }

  // ---- requests ----------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    const started = performance.now();
    // Counted against the machine that answered (the last one tried); a response cut off mid-way is an
    // error the client saw, like a 5xx. Requests no machine took (503 while none is routable) count nowhere.
    // A machine updated in place keeps its id: counting per release keeps the old release's answers
    // out of the new one's.
    res.once('close', () => {
      const id = this.machineOf.get(req);
      if (id === undefined) return;
      const release = this.releaseOf.get(req) ?? '';
      let byRelease = this.counters.get(id);
      if (!byRelease) this.counters.set(id, (byRelease = {}));
      const counters = (byRelease[release] ??= emptyCounters());
      record(counters, res.writableFinished ? res.statusCode : 502, performance.now() - started);
    });
    const length = req.headers['content-length'];
    const bodyless = (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
    this.dispatch(req, res, { tried: new Set(), attempts: 0, bodyless, settled: false });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, attempt: Attempt): void {
    if (res.destroyed || res.writableEnded) return;
    const backend = this.pick(attempt.tried) ?? this.pick();
    if (!backend) {
      this.hold(res, () => this.dispatch(req, res, attempt));
      return;
    }
    attempt.attempts++;
    attempt.tried.add(backend.id);
    const release = this.acquire(backend.id);
    res.once('close', release);
    this.machineOf.set(req, backend.id);
    this.releaseOf.set(req, backend.release ?? '');
    const options = {
      target: { host: HOST, port: backend.port },
      agent: this.agentFor(backend.id),
      // A retry sends no body: only bodyless requests are retried, and the first attempt consumed the stream.
      ...(attempt.attempts > 1 ? { buffer: Readable.from([]) } : {}),
    };
    this.proxy.web(req, res, options, (err) => {
      res.off('close', release);
      release();
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (
        !res.headersSent &&
        !res.destroyed &&
        attempt.bodyless &&
        attempt.attempts < MAX_ATTEMPTS &&
        RETRYABLE.has(code)
      ) {
        this.stats.retries++;
        this.dispatch(req, res, attempt);
        return;
      }
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      this.stats.badGateway++;
      res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`runway proxy: machine ${backend.id} failed: ${code || (err as Error).message}\n`);
    });
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.stats.requests++;
    const backend = this.pick();
    if (!backend) {
      this.stats.unavailable++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const release = this.acquire(backend.id);
    socket.once('close', release);
    this.proxy.ws(req, socket, head, { target: { host: HOST, port: backend.port } }, () => socket.destroy());
  }

  /** Hold a request until a machine is routable, at most queueTimeoutMs; then 503. */
  private hold(res: ServerResponse, send: () => void): void {
    if (this.options.queueTimeoutMs <= 0 || !this.server) {
      this.unavailable(res);
      return;
    }
    this.stats.held++;
    const entry: Held = {
      send,
      timer: setTimeout(() => {
        this.held = this.held.filter((h) => h !== entry);
        this.unavailable(res);
      }, this.options.queueTimeoutMs),
    };
    res.once('close', () => {
      clearTimeout(entry.timer);
      this.held = this.held.filter((h) => h !== entry);
    });
    this.held.push(entry);
  }

  private unavailable(res: ServerResponse): void {
    if (res.headersSent || res.destroyed) return;
    this.stats.unavailable++;
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('runway proxy: no healthy machine is in traffic\n');
  }

  /** Fewest requests in flight, ties broken in turn; `exclude`d machines only if nothing else is routable. */
  private pick(exclude?: ReadonlySet<string>): Backend | undefined {
    const list = this.backends;
    if (list.length === 0) return undefined;
    let best: Backend | undefined;
    let bestLoad = Infinity;
    const start = this.turn++ % list.length;
    for (let i = 0; i < list.length; i++) {
      const b = list[(start + i) % list.length]!;
      if (exclude?.has(b.id)) continue;
      const load = this.inFlight(b.id);
      if (load < bestLoad) {
        best = b;
        bestLoad = load;
      }
    }
    return best;
  }

  private acquire(id: string): () => void {
    this.inflight.set(id, this.inFlight(id) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.inFlight(id) - 1;
      if (left > 0) {
        this.inflight.set(id, left);
        return;
      }
      this.inflight.delete(id);
      const waiters = this.idleWaiters.get(id);
      if (waiters) {
        this.idleWaiters.delete(id);
        for (const done of [...waiters]) done();
      }
    };
  }

  private agentFor(id: string): Agent {
    let agent = this.agents.get(id);
    if (!agent) {
      // Idle upstream sockets are closed after 4 s, before a Node server's default 5 s keep-alive
      // timeout closes them from its side (the classic reuse race).
      agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });
      this.agents.set(id, agent);
    }
    return agent;
  }
}
