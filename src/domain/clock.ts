// Time is injected (DESIGN.md, architecture 6). Engine code asks a Clock for the time and for
// sleeps; tests and benchmarks give it a VirtualClock so 10,000-machine deploys simulate in seconds.

import { listenForAbort, type AbortListening } from './abort-listeners.js';

export interface Clock {
  /** Milliseconds since the epoch (virtual or real). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Call `fire` after `ms`; `cancel()` on what it returns cancels it. No promise, signal or listener:
   * for the simulated fleet's tens of thousands of timers, where an AbortController each is most of
   * the cost (and no closure to cancel it either: a VirtualClock's timer is its own handle).
   */
  after?(ms: number, fire: () => void): TimerHandle;
}

/** A timer set with `Clock.after`. */
export interface TimerHandle {
  /** It will not fire (nothing happens when it already did). */
  cancel(): void;
}

const noop = (): void => {};

/** A timer that was never set: cancelling it does nothing. */
export const NO_TIMER: TimerHandle = { cancel: noop };

/** `clock.after`, or a sleep with an AbortController on a clock without it. */
export function after(clock: Clock, ms: number, fire: () => void): TimerHandle {
  if (clock.after) return clock.after(ms, fire);
  const controller = new AbortController();
  clock.sleep(ms, controller.signal).then(fire, () => {});
  return { cancel: () => controller.abort(CANCELLED) };
}

/** A Node timer as a TimerHandle. */
class NodeTimer implements TimerHandle {
  constructor(private readonly timer: NodeJS.Timeout) {}

  cancel(): void {
    clearTimeout(this.timer);
  }
}

const CANCELLED = new Error('cancelled');

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const sleep = new RealSleep(resolve, reject, signal);
      sleep.timer = setTimeout(sleep.fire, Math.max(0, ms));
      if (signal) sleep.listening = listenForAbort(signal, sleep);
    });
  }

  after(ms: number, fire: () => void): TimerHandle {
    return new NodeTimer(setTimeout(fire, Math.max(0, ms)));
  }
}

/**
 * Real time sped up by `factor`: simulated durations pass `factor` times faster than the wall clock,
 * so a CLI deploy on the sim fleet takes seconds while reporting minutes of simulated time.
 */
export class ScaledClock implements Clock {
  private readonly startReal = Date.now();
  constructor(
    private readonly factor: number,
    private readonly startMs: number = Date.now(),
  ) {
    if (!(factor > 0)) throw new Error(`clock factor must be > 0, got ${factor}`);
  }

  now(): number {
    return this.startMs + (Date.now() - this.startReal) * this.factor;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new RealClock().sleep(ms / this.factor, signal);
  }

  after(ms: number, fire: () => void): TimerHandle {
    return new RealClock().after(ms / this.factor, fire);
  }
}

class Timer implements TimerHandle {
  /** Still in the heap (not yet fired, nor dropped as cancelled). */
  queued = true;

  constructor(
    private readonly clock: VirtualClock,
    readonly at: number,
    readonly seq: number,
    public fire: () => void,
  ) {}

  /** Left in the heap without holding on to `fire`, until its time or until the heap drops it. */
  cancel(): void {
    if (!this.queued || this.fire === noop) return;
    this.fire = noop;
    this.clock.dropped();
  }
}

/** Fewest cancelled timers worth rebuilding the heap for (below it, they just wait for their time). */
const COMPACT_AT = 1024;

/** A VirtualClock moves on after a turn of the event loop once every this many instants (see the class). */
const TURN_EVERY = 8;

const SETTLED = Promise.resolve();

/**
 * Discrete-event clock. Time only moves when every runnable piece of work is waiting on a timer:
 * once the microtask queue has drained, the clock jumps to the earliest timer and fires it. Correct as
 * long as the work under test does no real I/O that feeds back into it (true of the in-process sim
 * provider and the synchronous SQLite store).
 *
 * "Drained" is found without a turn of the event loop per instant: the clock queues a microtask that
 * queues a process.nextTick, and Node runs that tick only once the microtask queue is empty (the
 * microtasks its firing queues included). A turn of the loop (setImmediate: an epoll call, libuv's
 * phases) cost ~4 µs, which at the 31,000 instants of a 10,000-machine deploy was ~6 % of its CPU.
 * Every TURN_EVERY-th instant still waits for a turn, so real I/O, other immediates and Node's check
 * for unhandled rejections (made when the tick queue empties) are not held off for long. Not covered:
 * a process.nextTick queued by a microtask that runs after the clock's own may come after the next
 * instant (nothing the engine, the sim or the SQLite store does).
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  /**
   * A binary heap of the timers in `heap[0, size)`. The array never shrinks: tens of thousands of timers
   * come and go in a large simulation, and an array that shrinks on pop regrows (copies) on push.
   */
  private heap: (Timer | undefined)[] = [];
  private size = 0;
  /** Timers in the heap that were cancelled (their `fire` is a no-op). */
  private cancelled = 0;
  private scheduled = false;
  /** Instants scheduled so far (every TURN_EVERY-th waits for a turn of the event loop). */
  private instants = 0;
  /** `advance`, bound once (one schedule per instant of virtual time). */
  private readonly advanceNow = (): void => this.advance();
  /** Run as a microtask: its tick runs `advance` once the microtask queue has drained. */
  private readonly advanceWhenDrained = (): void => {
    process.nextTick(this.advanceNow);
  };
  /** How many timers have fired; useful to bound runaway simulations in tests. */
  fired = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const sleep = new VirtualSleep(resolve, reject, signal);
      this.push(this.current + Math.max(0, ms), sleep.fire);
      if (signal) sleep.listening = listenForAbort(signal, sleep);
    });
  }

  after(ms: number, fire: () => void): TimerHandle {
    return this.push(this.current + Math.max(0, ms), fire);
  }

  /**
   * @internal Timer.cancel. A cancelled timer stays in the heap until its time or until cancelled
   * timers are most of the heap: a deploy cancels a wait's timeout for every machine, and a heap of
   * dead timers (three in four, at 50,000 machines) makes every push and pop slower.
   */
  dropped(): void {
    if (++this.cancelled >= COMPACT_AT && this.cancelled * 2 > this.size) this.compact();
  }

  /**
   * Number of timers not yet fired (cancelled sleeps included until their time comes; cancelled
   * `after` timers until their time or until the heap drops them).
   */
  get pending(): number {
    return this.size;
  }

  private push(at: number, fire: () => void): Timer {
    const timer = new Timer(this, at, this.seq++, fire);
    const heap = this.heap;
    // Sift up by moving parents down (no swap arrays: this runs for every simulated phase).
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
    this.schedule();
    return timer;
  }

  private pop(): Timer | undefined {
    if (this.size === 0) return undefined;
    const heap = this.heap;
    const top = heap[0]!;
    const n = --this.size;
    const last = heap[n]!;
    heap[n] = undefined;
    if (n > 0) this.siftDown(0, last);
    top.queued = false;
    if (top.fire === noop) this.cancelled--;
    return top;
  }

  /** Put `timer` at `i` and sift it down, moving the smaller child up. */
  private siftDown(i: number, timer: Timer): void {
    const heap = this.heap;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!before(child, timer)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = timer;
  }

  /** Drop the cancelled timers and re-heap the rest (Floyd): they fire in the same (at, seq) order. */
  private compact(): void {
    const heap = this.heap;
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const timer = heap[i]!;
      if (timer.fire === noop) timer.queued = false;
      else heap[n++] = timer;
    }
    for (let i = n; i < this.size; i++) heap[i] = undefined;
    this.size = n;
    this.cancelled = 0;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, heap[i]!);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (++this.instants % TURN_EVERY === 0) setImmediate(this.advanceNow);
    // A reaction to a settled promise, not queueMicrotask (which makes an AsyncResource and a bound function each time).
    else void SETTLED.then(this.advanceWhenDrained);
  }

  private advance(): void {
    this.scheduled = false;
    if (this.size === 0) return;
    this.current = Math.max(this.current, this.heap[0]!.at);
    // Fire every timer due at this instant; their continuations run as microtasks before the next turn.
    while (this.size > 0 && this.heap[0]!.at <= this.current) {
      this.fired++;
      this.pop()!.fire();
    }
    if (this.size > 0) this.schedule();
  }
}

/**
 * One VirtualClock.sleep: its abort handler and its timer's closure. Sleeps listen through
 * abort-listeners.ts: one EventTarget listener per signal however many sleep on it (the changes of a
 * bluegreen cutover share one step's signal, and each of their retries sleeps on it: eleven made Node
 * warn of a leak).
 */
class VirtualSleep {
  private done = false;
  listening: AbortListening | undefined = undefined;

  constructor(
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    // Made here, not as a class field: the TypeScript loader names every field's closure (a
    // defineProperty each), and a simulation makes one per sleep.
    this.fire = () => {
      if (this.done) return;
      this.done = true;
      this.listening?.stop(this);
      this.resolve();
    };
  }

  /** Its timer's callback. */
  readonly fire: () => void;

  handleEvent(): void {
    if (this.done) return;
    this.done = true;
    this.reject(abortReason(this.signal!));
  }
}

/** A sleep on a Node timer: as VirtualSleep. */
class RealSleep {
  timer: NodeJS.Timeout | undefined = undefined;
  listening: AbortListening | undefined = undefined;
  readonly fire: () => void;

  constructor(
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.fire = () => {
      this.listening?.stop(this);
      this.resolve();
    };
  }

  handleEvent(): void {
    clearTimeout(this.timer);
    this.reject(abortReason(this.signal!));
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Parse `30s`, `5m`, `1500ms`, `2h`, or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}" (expected e.g. 500ms, 30s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m}m${rest.toString().padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
}

/**
 * A journal entry's offset, the one format the CLI and the dashboard show: `+1m39s`, from the
 * deploy's creation (the first instant of its record, so nothing it journals comes before it).
 * Never negative: an entry another host stamped with a clock a little behind shows as `+0ms`.
 */
export function formatOffset(atMs: number, fromMs: number): string {
  return `+${formatDuration(Math.max(0, atMs - fromMs))}`;
}

/** What a duration measured on a simulated clock (the sim provider) says after its figure. */
export const SIMULATED = '(simulated)';
