// One abort reaching thousands of in-flight operations. Giving them all one shared AbortSignal costs
// O(n) per listener added or removed (EventTarget scans its listeners), O(n²) for a 10,000-machine
// wave; here each operation gets a signal of its own and the fan-out is a Set.

/** Most controllers kept for reuse (about the operations in flight at once). */
const MAX_SPARE = 1024;

export class AbortFanout {
  private readonly children = new Set<AbortController>();
  private readonly hooks: ((reason: unknown) => void)[] = [];
  /**
   * Controllers of children that are done, not aborted, for later children: making an AbortSignal
   * (an EventTarget) is most of what a child costs. A child's `done()` says that nothing of its
   * operation still listens to its signal or will look at it again.
   */
  private readonly spare: AbortController[] = [];
  private reason: unknown;
  private aborted = false;

  /** Abort every child when any of `parents` aborts. */
  constructor(parents: AbortSignal[]) {
    for (const parent of parents) {
      if (parent.aborted) this.abort(parent.reason);
      else parent.addEventListener('abort', () => this.abort(parent.reason), { once: true });
    }
  }

  get signalAborted(): boolean {
    return this.aborted;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    for (const c of this.children) c.abort(reason);
    this.children.clear();
    for (const hook of this.hooks) hook(reason);
  }

  /**
   * Also call `hook` when the fan-out aborts (after its children), for waiters that hold no signal of
   * their own; at once when it has aborted already.
   */
  onAbort(hook: (reason: unknown) => void): void {
    if (this.aborted) hook(this.reason);
    else this.hooks.push(hook);
  }

  /**
   * A signal for one operation, aborted with the fan-out or with `also` (the caller's own signal,
   * without AbortSignal.any, whose weak bookkeeping is costly at this volume); `done()` forgets it.
   */
  child(also?: AbortSignal): FanoutChild {
    const controller = this.spare.pop() ?? new AbortController();
    if (this.aborted) controller.abort(this.reason);
    else this.children.add(controller);
    let onAlso: (() => void) | undefined;
    if (also) {
      if (also.aborted) controller.abort(also.reason);
      else {
        onAlso = () => controller.abort(also.reason);
        also.addEventListener('abort', onAlso, { once: true });
      }
    }
    return new FanoutChild(this, controller, also, onAlso);
  }

  /** @internal FanoutChild.done */
  forget(controller: AbortController, also: AbortSignal | undefined, onAlso: (() => void) | undefined): void {
    this.children.delete(controller);
    if (onAlso) also!.removeEventListener('abort', onAlso);
    if (!controller.signal.aborted && this.spare.length < MAX_SPARE) this.spare.push(controller);
  }
}

/**
 * One child of a fan-out: its signal, and `done()` to forget it. A class, not an object literal with a
 * `done` closure, which the TypeScript loader would name (a defineProperty) for every step of a deploy.
 */
export class FanoutChild {
  readonly signal: AbortSignal;

  constructor(
    private readonly fanout: AbortFanout,
    private readonly controller: AbortController,
    private readonly also: AbortSignal | undefined,
    private readonly onAlso: (() => void) | undefined,
  ) {
    this.signal = controller.signal;
  }

  done(): void {
    this.fanout.forget(this.controller, this.also, this.onAlso);
  }
}
