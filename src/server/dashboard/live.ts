// Live deploy streams (Server-Sent Events) for the dashboard.
//
// Deploys this instance runs: every ProgressEvent is made compact (wire.ts), stamped with the deploy's
// clock and buffered; every `flushMs` the buffer becomes one SSE message, encoded once and written to
// every viewer (so 100 viewers cost one JSON.stringify per flush, not 100 per event), and kept so a
// viewer who arrives later gets everything that happened (replay), then follows. A `now` message each
// flush carries the deploy clock, so running bars grow between events.
//
// Deploys that run on another instance (or have ended): rebuilt from the store's journal and machine
// events; while running, one poller per deploy (shared by its viewers) reads what is new.
//
// A viewer too slow to take what is sent (more than `maxQueuedBytes` waiting) is disconnected; its
// EventSource reconnects and replays.

import type { Clock } from '../../domain/clock.js';
import { TERMINAL_STATUSES, type Machine } from '../../domain/types.js';
import type { ProgressEvent } from '../../engine/progress.js';
import type { Store } from '../../store/contract.js';
import type { DeployService } from '../deploy-service.js';
import { compact, StoreEventConverter, type WireEvent } from './wire.js';

const encoder = new TextEncoder();

function sse(event: string, data: string): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${data}\n\n`);
}

/** Where a deploy this instance runs stands, for the overview and the page header. */
export interface LiveProgress {
  phase: string;
  /** Steps finished (succeeded, failed or skipped) and steps planned so far. */
  done: number;
  failed: number;
  total: number;
  inFlight: number;
  paused: boolean;
  status: string | null;
  message: string | null;
  startedAt: number | null;
  now: number;
}

class Viewer {
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  closed = false;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(
    private readonly maxQueuedBytes: number,
    onClose: () => void,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        cancel: () => {
          this.closed = true;
          onClose();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
  }

  send(chunk: Uint8Array): void {
    if (this.closed || !this.controller) return;
    if ((this.controller.desiredSize ?? 0) < -this.maxQueuedBytes) {
      this.close();
      return;
    }
    this.controller.enqueue(chunk);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.controller?.close();
    } catch {
      // already closed by the client
    }
  }
}

class LocalStream {
  readonly log: Uint8Array[] = [];
  pending: WireEvent[] = [];
  readonly viewers = new Set<Viewer>();
  readonly progress: LiveProgress;
  ended = false;
  endedAt = 0;

  constructor(readonly clock: Clock) {
    this.progress = {
      phase: 'starting',
      done: 0,
      failed: 0,
      total: 0,
      inFlight: 0,
      paused: false,
      status: null,
      message: null,
      startedAt: null,
      now: clock.now(),
    };
  }

  record(event: ProgressEvent): WireEvent {
    const at = this.clock.now();
    const p = this.progress;
    p.startedAt ??= at;
    switch (event.type) {
      case 'plan': {
        const steps = event.plan.waves.reduce((n, w) => n + w.steps.length, 0);
        // A later round's (or a rollback's) plan is what remains: finished steps plus those.
        p.total = Math.max(p.total, p.done + steps);
        p.phase = event.phase;
        break;
      }
      case 'phase':
        p.phase = event.phase;
        p.message = event.message;
        p.paused = /paused before cutover/.test(event.message);
        break;
      case 'step':
        if (event.status === 'started') p.inFlight++;
        else {
          p.inFlight = Math.max(0, p.inFlight - 1);
          p.done++;
          if (event.status === 'failed') p.failed++;
          if (event.step.kind === 'pause') p.paused = false;
        }
        p.total = Math.max(p.total, p.done + p.inFlight);
        break;
      case 'wave-start':
        if (event.wave.kind !== 'pause') p.paused = false;
        break;
      case 'status':
        p.status = event.status;
        p.message = event.message ?? null;
        p.paused = false;
        break;
      default:
        break;
    }
    return compact(event, at);
  }
}

export interface LiveHubOptions {
  flushMs?: number;
  /** How often deploys of other instances are re-read from the store. */
  pollMs?: number;
  maxQueuedBytes?: number;
}

export class LiveHub {
  private readonly local = new Map<string, LocalStream>();
  private readonly remote = new Map<string, RemotePoller>();
  private readonly closers = new Set<() => void>();
  private readonly machineListeners = new Set<(deployId: string, machine: Machine) => void>();
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly flushMs: number;
  private readonly pollMs: number;
  private readonly maxQueuedBytes: number;

  constructor(
    private readonly deploys: DeployService,
    private readonly store: Store,
    options: LiveHubOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 250;
    this.pollMs = options.pollMs ?? 1_500;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    this.unsubscribe = deploys.subscribe((deployId, event) => this.onEvent(deployId, event));
    this.timer = setInterval(() => this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Follow machine changes of deploys this instance runs (the fleet cache keeps itself current). */
  onMachine(listener: (deployId: string, machine: Machine) => void): () => void {
    this.machineListeners.add(listener);
    return () => this.machineListeners.delete(listener);
  }

  /** Other streams to end when the server stops (the overview's); returns an untrack function. */
  track(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  close(): void {
    for (const close of this.closers) close();
    this.closers.clear();
    this.unsubscribe();
    clearInterval(this.timer);
    for (const s of this.local.values()) for (const v of s.viewers) v.close();
    for (const p of this.remote.values()) p.stop();
    this.local.clear();
    this.remote.clear();
  }

  /** Progress of a deploy this instance runs (or ran recently), if any. */
  progress(deployId: string): LiveProgress | undefined {
    const s = this.local.get(deployId);
    if (!s) return undefined;
    if (!s.ended) s.progress.now = s.clock.now();
    return s.progress;
  }

  private stream(deployId: string): LocalStream | undefined {
    let s = this.local.get(deployId);
    if (!s) {
      const live = this.deploys.get(deployId);
      if (!live) return undefined;
      s = new LocalStream(live.clock);
      this.local.set(deployId, s);
    }
    return s;
  }

  private onEvent(deployId: string, event: ProgressEvent): void {
    const s = this.stream(deployId);
    if (!s) return;
    s.pending.push(s.record(event));
    if (event.type === 'machine') for (const l of this.machineListeners) l(deployId, event.event.machine);
    if (event.type === 'status') {
      s.ended = true;
      s.endedAt = s.clock.now();
    }
  }

  private flush(): void {
    for (const [id, s] of this.local) {
      const sent = s.pending.length > 0;
      if (sent) {
        const chunk = sse('batch', JSON.stringify(s.pending));
        s.pending = [];
        s.log.push(chunk);
        for (const v of s.viewers) v.send(chunk);
      }
      const running = !s.ended && this.deploys.get(id) !== undefined;
      if (running) {
        s.progress.now = s.clock.now();
        // A batch moves the viewers' clock already (its events' times); ticks fill the quiet spells.
        if (!sent && s.viewers.size > 0) {
          const now = sse('now', String(s.progress.now));
          for (const v of s.viewers) v.send(now);
        }
        continue;
      }
      // Ended (or stopped without a status event: server stopping, ownership lost).
      if (!s.ended) {
        s.ended = true;
        s.endedAt = s.clock.now();
      }
      const end = sse('end', JSON.stringify({ status: s.progress.status }));
      for (const v of s.viewers) {
        v.send(end);
        v.close();
      }
      s.viewers.clear();
      // Once the deploy service let go of it, the store has its end: later viewers read that.
      if (this.deploys.get(id) === undefined) this.local.delete(id);
    }
  }

  /**
   * An SSE response for one deploy: `hello` (where the events come from), the replay, then live
   * `batch` and `now` messages, and `end` once the deploy ended.
   */
  async respond(deployId: string, startedAtMs: number | null): Promise<Response> {
    const headers = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      'x-accel-buffering': 'no',
    };
    const s = this.deploys.get(deployId) ? this.stream(deployId) : undefined;
    if (s && !s.ended) {
      const viewer = new Viewer(this.maxQueuedBytes, () => s.viewers.delete(viewer));
      viewer.send(
        sse(
          'hello',
          JSON.stringify({
            source: 'live',
            instance: this.deploys.instanceId,
            startedAt: s.progress.startedAt ?? startedAtMs,
          }),
        ),
      );
      // Replay everything flushed so far; what is buffered comes with the next flush, to everyone.
      for (const chunk of s.log) viewer.send(chunk);
      viewer.send(sse('now', String(s.clock.now())));
      s.viewers.add(viewer);
      return new Response(viewer.stream, { headers });
    }
    // From the store: replay what it holds; follow with a poller while the deploy runs elsewhere.
    const deploy = await this.store.getDeployHead(deployId);
    let poller = this.remote.get(deployId);
    const viewer = new Viewer(this.maxQueuedBytes, () => poller?.viewers.delete(viewer));
    if (!deploy) {
      viewer.send(sse('end', JSON.stringify({ status: null })));
      viewer.close();
      return new Response(viewer.stream, { headers });
    }
    if (TERMINAL_STATUSES.includes(deploy.status)) {
      const converter = new StoreEventConverter(deploy.startedAtMs);
      const [journal, events] = await Promise.all([
        this.store.listJournal(deployId),
        this.store.listMachineEvents(deployId),
      ]);
      viewer.send(sse('hello', JSON.stringify({ source: 'store', startedAt: deploy.startedAtMs })));
      viewer.send(sse('batch', JSON.stringify(converter.convert(journal, events))));
      viewer.send(sse('end', JSON.stringify({ status: deploy.status })));
      viewer.close();
      return new Response(viewer.stream, { headers });
    }
    if (!poller) {
      poller = new RemotePoller(this.store, deployId, deploy.startedAtMs, this.pollMs, () =>
        this.remote.delete(deployId),
      );
      this.remote.set(deployId, poller);
    }
    await poller.ready;
    viewer.send(sse('hello', JSON.stringify({ source: 'store', owner: deploy.owner, startedAt: deploy.startedAtMs })));
    for (const chunk of poller.log) viewer.send(chunk);
    poller.viewers.add(viewer);
    return new Response(viewer.stream, { headers });
  }
}

/** Follows a deploy that runs on another instance by re-reading the store. */
class RemotePoller {
  readonly viewers = new Set<Viewer>();
  readonly log: Uint8Array[] = [];
  readonly ready: Promise<void>;
  private journalSeen = 0;
  private eventsSeen = 0;
  private readonly converter: StoreEventConverter;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly deployId: string,
    startedAtMs: number | null,
    private readonly pollMs: number,
    private readonly onStop: () => void,
  ) {
    this.converter = new StoreEventConverter(startedAtMs);
    this.ready = this.poll();
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      const [journal, events, deploy] = await Promise.all([
        this.store.listJournal(this.deployId),
        this.store.listMachineEvents(this.deployId),
        this.store.deployControl(this.deployId),
      ]);
      const fresh = this.converter.convert(journal.slice(this.journalSeen), events.slice(this.eventsSeen));
      this.journalSeen = journal.length;
      this.eventsSeen = events.length;
      if (fresh.length > 0) {
        const chunk = sse('batch', JSON.stringify(fresh));
        this.log.push(chunk);
        for (const v of this.viewers) v.send(chunk);
      }
      if (!deploy || TERMINAL_STATUSES.includes(deploy.status)) {
        const end = sse('end', JSON.stringify({ status: deploy?.status ?? null }));
        for (const v of this.viewers) {
          v.send(end);
          v.close();
        }
        this.stop();
        return;
      }
    } catch {
      // The store hiccuped: try again next time.
    }
    this.timer = setTimeout(() => {
      if (this.viewers.size === 0 && this.log.length > 0) {
        this.stop();
        return;
      }
      void this.poll();
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.onStop();
  }
}
