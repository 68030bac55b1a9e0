// Listening to a signal for a moment, many times over. Node's addEventListener and removeEventListener
// validate their arguments, allocate a listener record and walk the signal's list every time; a
// 10,000-machine deploy listened to its steps' signals and stopped 40,000 times (each wait call, then
// each wait). Here a signal gets one EventTarget listener, the first time anything listens to it, and
// the handlers of the moment are a Set: added and removed at the cost of a Set operation. A step's
// signal is reused by later steps (AbortFanout), so its one listener serves them all.

/** What listens for an abort (as an EventListener object: `handleEvent` is called on it). */
export interface AbortHandler {
  handleEvent(): void;
}

/** Where a handler listens to a signal: `stop(handler)` ends it (no lookup of the signal then). */
export interface AbortListening {
  stop(handler: AbortHandler): void;
}

/**
 * The one listener of a signal: calls the handlers listening when it aborts, in the order they began.
 * The first handler of the moment is kept apart from the Set: a step's signal usually has one at a
 * time (the call or the wait in flight), and a Set that goes from one entry to none reallocates its
 * table (V8 shrinks it), which was one allocation per simulated call of a deploy, most of them kept
 * past a scavenge. A handler goes in `first` only when no other is listening, so `first` is always
 * older than every handler in the Set.
 */
class SignalHandlers implements AbortListening {
  private first: AbortHandler | undefined = undefined;
  private readonly handlers = new Set<AbortHandler>();

  add(handler: AbortHandler): void {
    if (this.first === undefined && this.handlers.size === 0) this.first = handler;
    else this.handlers.add(handler);
  }

  stop(handler: AbortHandler): void {
    if (this.first === handler) this.first = undefined;
    else this.handlers.delete(handler);
  }

  handleEvent(): void {
    const first = this.first;
    if (first !== undefined) {
      this.first = undefined;
      call(first);
    }
    // Live iteration: a handler that stops another one before its turn keeps it from being called.
    for (const handler of this.handlers) {
      this.handlers.delete(handler);
      call(handler);
    }
  }
}

function call(handler: AbortHandler): void {
  try {
    handler.handleEvent();
  } catch (error) {
    // As EventTarget does: reported as uncaught, and the other handlers still run.
    process.nextTick(() => {
      throw error;
    });
  }
}

const bySignal = new WeakMap<AbortSignal, SignalHandlers>();
const ONCE = { once: true };

/**
 * Call `handler.handleEvent()` once when `signal` aborts, unless `stop(handler)` on what this returns
 * (or `stopListening`) comes first, as `addEventListener('abort', handler, { once: true })` would; never
 * for a signal that has aborted.
 */
export function listenForAbort(signal: AbortSignal, handler: AbortHandler): AbortListening {
  let handlers = bySignal.get(signal);
  if (handlers === undefined) {
    handlers = new SignalHandlers();
    bySignal.set(signal, handlers);
    signal.addEventListener('abort', handlers, ONCE);
  }
  handlers.add(handler);
  return handlers;
}

/** `handler` no longer listens to `signal`. */
export function stopListening(signal: AbortSignal, handler: AbortHandler): void {
  bySignal.get(signal)?.stop(handler);
}
