// The supervisor's handle on its proxy, which runs in a worker thread (proxy-worker.ts). Routing
// changes are posted as they happen (`setBackends`, synchronous); `synced()` resolves once the proxy
// has applied the latest one, and the provider awaits it before a call that changed routing returns:
// after `cordon` returns, no new request goes to that machine. The routable set is replaced in one
// step in the proxy, so cordon, uncordon and cutover stay atomic.

import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HOST } from './ports.js';
import type { RequestCounters } from '../../domain/traffic.js';
import type { Backend, ProxyStats } from './proxy.js';

export type ToProxy =
  | { type: 'listen'; port: number; queueTimeoutMs: number }
  | { type: 'routes'; seq: number; backends: Backend[] }
  | { type: 'drain'; req: number; id: string; timeoutMs: number }
  | { type: 'forget'; id: string }
  | { type: 'stats'; req: number; id?: string }
  | { type: 'traffic'; req: number }
  | { type: 'close'; req: number };

export type FromProxy =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; code: string; message: string }
  | { type: 'routed'; seq: number }
  | { type: 'drained'; req: number; idle: boolean }
  | { type: 'stats'; req: number; stats: ProxySnapshot }
  | { type: 'traffic'; req: number; byMachine: Record<string, Record<string, RequestCounters>> }
  | { type: 'closed'; req: number };

export interface ProxySnapshot extends ProxyStats {
  /** Requests in flight per routable machine (and the one asked about). */
  inFlight: Record<string, number>;
  inFlightTotal: number;
}

/** Listening failed (EADDRINUSE, EACCES): `code` as the OS said it. */
export class ProxyListenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyListenError';
  }
}

export class ProxyHost {
  private readonly worker: Worker;
  private boundPort = 0;
  private seq = 0;
  private appliedSeq = 0;
  private backends: readonly Backend[] = [];
  private nextReq = 0;
  private readonly pending = new Map<number, (message: FromProxy) => void>();
  private readonly syncWaiters = new Set<() => void>();
  private listening: ((message: FromProxy) => void) | undefined;
  private closed = false;

  constructor(private readonly options: { queueTimeoutMs: number }) {
    const here = fileURLToPath(import.meta.url);
    const ext = path.extname(here);
    const entry = path.join(path.dirname(here), `proxy-worker${ext}`);
    if (ext === '.ts') {
      // From source (tests, tsx): loaders given with --import do not reach worker threads on Node 20,
      // so the thread registers tsx itself before loading the entry. Built, it runs as is.
      const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
      const url = JSON.stringify(pathToFileURL(entry).href);
      this.worker = new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${url}); })`, {
        eval: true,
      });
    } else {
      this.worker = new Worker(entry);
    }
    this.worker.on('message', (message: FromProxy) => this.receive(message));
    this.worker.on('error', (error) => {
      process.stderr.write(`runway local proxy: worker failed: ${error.message}\n`);
      this.release();
    });
    this.worker.on('exit', () => this.release());
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://${HOST}:${this.boundPort}`;
  }

  /** The routable set as last posted. */
  get routable(): readonly Backend[] {
    return this.backends;
  }

  /** Listen on `port` (0: any free one). Rejects with ProxyListenError when the port is taken. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.listening = (message) => {
        if (message.type === 'listening') {
          this.boundPort = message.port;
          resolve(message.port);
        } else if (message.type === 'listen-failed') reject(new ProxyListenError(message.code, message.message));
      };
      this.post({ type: 'listen', port, queueTimeoutMs: this.options.queueTimeoutMs });
    });
  }

  setBackends(backends: readonly Backend[]): void {
    if (sameSet(backends, this.backends)) return;
    this.backends = [...backends];
    this.post({ type: 'routes', seq: ++this.seq, backends: [...backends] });
  }

  /** Resolves once the proxy routes by the latest set posted. */
  synced(): Promise<void> {
    const target = this.seq;
    if (this.appliedSeq >= target || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.appliedSeq < target && !this.closed) return;
        this.syncWaiters.delete(check);
        resolve();
      };
      this.syncWaiters.add(check);
    });
  }

  /** True once the machine has no request in flight; false after `timeoutMs`. */
  async drain(id: string, timeoutMs: number): Promise<boolean> {
    const answer = await this.ask({ type: 'drain', req: 0, id, timeoutMs });
    return answer.type === 'drained' ? answer.idle : true;
  }

  forget(id: string): void {
    this.post({ type: 'forget', id });
  }

  async snapshot(id?: string): Promise<ProxySnapshot> {
    const answer = await this.ask({ type: 'stats', req: 0, ...(id !== undefined ? { id } : {}) });
    if (answer.type === 'stats') return answer.stats;
    return { requests: 0, retries: 0, held: 0, badGateway: 0, unavailable: 0, inFlight: {}, inFlightTotal: 0 };
  }

  /** Requests answered per machine and release since the proxy started. */
  async traffic(): Promise<Record<string, Record<string, RequestCounters>>> {
    const answer = await this.ask({ type: 'traffic', req: 0 });
    return answer.type === 'traffic' ? answer.byMachine : {};
  }

  async inFlight(id: string): Promise<number> {
    return (await this.snapshot(id)).inFlight[id] ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.ask({ type: 'close', req: 0 });
    this.closed = true;
    await this.worker.terminate();
    this.release();
  }

  private ask(message: Extract<ToProxy, { req: number }>): Promise<FromProxy> {
    if (this.closed) return Promise.resolve({ type: 'closed', req: 0 });
    const req = ++this.nextReq;
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      this.post({ ...message, req });
    });
  }

  private post(message: ToProxy): void {
    if (!this.closed) this.worker.postMessage(message);
  }

  private receive(message: FromProxy): void {
    switch (message.type) {
      case 'listening':
      case 'listen-failed':
        this.listening?.(message);
        this.listening = undefined;
        return;
      case 'routed':
        this.appliedSeq = Math.max(this.appliedSeq, message.seq);
        for (const check of [...this.syncWaiters]) check();
        return;
      default: {
        const done = this.pending.get(message.req);
        this.pending.delete(message.req);
        done?.(message);
      }
    }
  }

  /** The worker is gone: nothing it owed will come. */
  private release(): void {
    this.closed = true;
    for (const check of [...this.syncWaiters]) check();
    for (const [req, done] of [...this.pending]) {
      this.pending.delete(req);
      done({ type: 'closed', req });
    }
    this.listening?.({ type: 'listen-failed', code: 'EWORKER', message: 'the proxy worker stopped' });
  }
}

function sameSet(a: readonly Backend[], b: readonly Backend[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.id !== b[i]!.id || a[i]!.port !== b[i]!.port) return false;
  return true;
}
