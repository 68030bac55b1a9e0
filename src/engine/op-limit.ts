// The bound on a deploy's provider operations in flight (settings.max_concurrency). Written here rather
// than taken from p-limit, which the rest of the code base uses, because every provider call of a deploy
// passes through it (40,000 for 10,000 machines): p-limit makes five promises and as many closures per
// call, and starts it a turn later; this one calls at once when a slot is free and adds one promise.

/** Runs `fn` when one of the slots is free, first come first served; its promise, as `fn` returned it. */
export type OpLimit = <T>(fn: () => Promise<T>) => Promise<T>;

export function opLimit(concurrency: number): OpLimit {
  if (!(concurrency >= 1)) throw new Error(`concurrency must be >= 1, got ${concurrency}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  // A finished call hands its slot to the first waiting one, so a newcomer never overtakes the queue.
  const next = (): void => {
    const wake = waiting.shift();
    if (wake) wake();
    else active--;
  };
  const start = <T>(fn: () => Promise<T>): Promise<T> => {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(next, next);
    return result;
  };
  return <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < concurrency) {
      active++;
      return start(fn);
    }
    return new Promise<void>((resolve) => waiting.push(resolve)).then(() => start(fn));
  };
}
