// The `local` provider as the CLI sees it: the Provider contract over the supervisor's control API
// (wire.ts). Waits are long polls answered by the supervisor's event-driven waits (a request the
// client aborts ends the wait there too); events arrive on one NDJSON stream, opened while anyone
// subscribes. Calls return only once the stream has delivered the events they caused, so a
// subscriber sees a change before the call that made it returns, as with an in-process provider.

import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { TrafficSnapshot } from '../../domain/traffic.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import {
  ProviderError,
  type CallOptions,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
  type StopOptions,
  type WaitArgs,
} from '../contract.js';
import { API, fromWire, SEQ_HEADER, type WireError } from './wire.js';

/** Longest a call waits for the event stream to catch up with it. */
const CATCH_UP_MS = 2_000;

interface Stream {
  req: ClientRequest;
  lastSeq: number;
  ready: Promise<void>;
  closed: boolean;
}

export class LocalClient implements Provider {
  readonly name = 'local';
  /** Calls made (for the deploy summary's API count). */
  calls = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512 });
  private readonly listeners = new Map<(event: MachineEvent) => void, FleetScope>();
  private stream: Stream | undefined;
  private readonly catchUps = new Set<() => void>();
  private readonly url: URL;
  private closed = false;

  constructor(
    controlUrl: string,
    private readonly token: string,
    private readonly what: string,
  ) {
    this.url = new URL(controlUrl);
  }

  list(scope: FleetScope, options?: CallOptions): Promise<Machine[]> {
    return this.call('GET', 'machines', scope, undefined, options?.signal);
  }

  get(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('GET', `machines/${enc(id)}`, scope, undefined, options?.signal);
  }

  create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    return this.call('POST', 'machines', scope, spec, options?.signal);
  }

  update(scope: FleetScope, id: string, update: MachineUpdate, options?: CallOptions): Promise<Machine> {
    return this.call('POST', `machines/${enc(id)}/update`, scope, update, options?.signal);
  }

  start(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('POST', `machines/${enc(id)}/start`, scope, {}, options?.signal);
  }

  stop(scope: FleetScope, id: string, options: StopOptions = {}): Promise<Machine> {
    const body: { killSignal?: string; timeoutMs?: number } = {};
    if (options.killSignal) body.killSignal = options.killSignal;
    if (options.timeoutMs !== undefined) body.timeoutMs = options.timeoutMs;
    return this.call('POST', `machines/${enc(id)}/stop`, scope, body, options.signal);
  }

  async destroy(scope: FleetScope, id: string, options?: CallOptions): Promise<void> {
    await this.call('DELETE', `machines/${enc(id)}`, scope, undefined, options?.signal);
  }

  cordon(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    return this.call('POST', `machines/${enc(id)}/cordon`, scope, {}, options?.signal);
  }

  uncordon(scope: FleetScope, id: string, role?: MachineRole, options?: CallOptions): Promise<Machine> {
    return this.call('POST', `machines/${enc(id)}/uncordon`, scope, role ? { role } : {}, options?.signal);
  }

  waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    return this.call('POST', `machines/${enc(id)}/wait`, scope, { condition, timeoutMs }, signal);
  }

  async drain(scope: FleetScope, id: string, timeoutMs: number): Promise<void> {
    await this.call('POST', `machines/${enc(id)}/drain`, scope, { timeoutMs });
  }

  logs(scope: FleetScope, id: string): Promise<string[]> {
    return this.call('GET', `machines/${enc(id)}/logs`, scope);
  }

  traffic(scope: FleetScope, options?: CallOptions): Promise<TrafficSnapshot> {
    return this.call('GET', 'traffic', scope, undefined, options?.signal);
  }

  async checkRelease(scope: FleetScope, release: string, options?: CallOptions): Promise<void> {
    await this.call('POST', `releases/${enc(release)}/check`, scope, {}, options?.signal);
  }

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    this.listeners.set(listener, scope);
    if (!this.stream || this.stream.closed) this.openStream();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.closeStream();
    };
  }

  /** Supervisor-level calls (hello, info, shutdown): not provider operations. */
  control<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, undefined, body).then((r) => r.value);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closeStream();
    this.agent.destroy();
  }

  // ---- plumbing ----------------------------------------------------------------------------

  private async call<T>(
    method: string,
    path: string,
    scope: FleetScope,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    this.calls++;
    // A subscription being opened sees every change a later call makes.
    if (this.stream && !this.stream.closed) await this.stream.ready;
    const { value, seq } = await this.send<T>(method, path, scope, body, signal);
    await this.caughtUp(seq);
    return value;
  }

  private send<T>(
    method: string,
    path: string,
    scope: FleetScope | undefined,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ value: T; seq: number }> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    if (this.closed) return Promise.reject(new ProviderError('unavailable', `${this.what}: client is closed`));
    const query = scope ? `?app=${enc(scope.app)}&env=${enc(scope.env)}` : '';
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port,
          method,
          path: `${API}/${path}${query}`,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(text === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
          },
        },
        (res) => {
          readBody(res).then(
            (raw) => {
              const seq = Number(res.headers[SEQ_HEADER] ?? 0);
              let parsed: unknown;
              try {
                parsed = raw ? JSON.parse(raw) : undefined;
              } catch {
                return reject(new ProviderError('unavailable', `${this.what}: unreadable answer (${res.statusCode})`));
              }
              if ((res.statusCode ?? 500) >= 400) {
                const error = (parsed as { error?: WireError } | undefined)?.error;
                return reject(
                  error ? fromWire(error) : new ProviderError('unavailable', `${this.what}: HTTP ${res.statusCode}`),
                );
              }
              resolve({ value: parsed as T, seq });
            },
            (error: Error) => reject(this.transportError(error, signal)),
          );
        },
      );
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => signal?.removeEventListener('abort', onAbort));
      req.once('error', (error) => reject(this.transportError(error, signal)));
      req.end(text);
    });
  }

  private transportError(error: Error, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason ?? error;
    const code = (error as NodeJS.ErrnoException).code;
    return new ProviderError(
      'unavailable',
      `${this.what} is not reachable (${code ?? error.message}); \`runway local up\` starts it`,
    );
  }

  private openStream(): void {
    let markReady!: () => void;
    const stream: Stream = {
      req: undefined as unknown as ClientRequest,
      lastSeq: -1,
      ready: new Promise<void>((r) => (markReady = r)),
      closed: false,
    };
    const end = () => {
      if (stream.closed) return;
      stream.closed = true;
      markReady();
      this.wakeCatchUps();
    };
    stream.req = request(
      {
        host: this.url.hostname,
        port: this.url.port,
        method: 'GET',
        path: `${API}/events`,
        agent: false,
        headers: { authorization: `Bearer ${this.token}` },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          end();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const message = JSON.parse(line) as { seq: number; event?: MachineEvent };
            if (message.event) this.deliver(message.event);
            stream.lastSeq = message.seq;
            if (!message.event) markReady();
            this.wakeCatchUps();
          }
        });
        res.once('end', end);
        res.once('error', end);
      },
    );
    stream.req.once('error', end);
    stream.req.once('close', end);
    stream.req.end();
    this.stream = stream;
  }

  private closeStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream && !stream.closed) {
      stream.req.destroy();
      stream.closed = true;
    }
    this.wakeCatchUps();
  }

  private deliver(event: MachineEvent): void {
    for (const [listener, scope] of [...this.listeners]) {
      if (scope.app !== event.machine.app || scope.env !== event.machine.env) continue;
      try {
        listener(event);
      } catch {
        /* a listener must not break the stream */
      }
    }
  }

  /** Until the stream has delivered event `seq` (bounded; at once when no stream is open). */
  private caughtUp(seq: number): Promise<void> {
    const done = () => !this.stream || this.stream.closed || this.stream.lastSeq >= seq;
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.catchUps.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.catchUps.delete(check);
        resolve();
      }, CATCH_UP_MS);
      this.catchUps.add(check);
    });
  }

  private wakeCatchUps(): void {
    for (const check of [...this.catchUps]) check();
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('aborted')));
  });
}
