// Changes of one machine applied one after another, as Fly applies them: each waits for the one
// before it to settle (answered or failed) before its own turn comes.

export class OneAtATime {
  private readonly running = new Map<string, Promise<void>>();

  /** Runs `turn` once every earlier turn of `key` has settled; its answer or error is the caller's. */
  run<T>(key: string, turn: () => Promise<T>): Promise<T> {
    const before = this.running.get(key) ?? Promise.resolve();
    const mine = before.then(turn);
    const settled = mine.then(
      () => {},
      () => {},
    );
    this.running.set(key, settled);
    void settled.then(() => {
      if (this.running.get(key) === settled) this.running.delete(key);
    });
    return mine;
  }
}
