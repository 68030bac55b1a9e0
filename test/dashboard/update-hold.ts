// A hold the test controls on a deploy: machine updates to one release go through up to an allowance
// the test sets, and the rest wait (in flight) until the allowance is raised, the hold is released, or
// the call is aborted (the deploy's abort). So a running deploy can be watched at a point of the
// test's choosing and cannot finish before the test is done with it, however slow the machine is.

import type { CallOptions, Provider } from '../../src/providers/contract.js';
import type { ProviderSession } from '../../src/providers/session.js';

export class UpdateHold {
  /** Updates to the release let through so far. */
  passed = 0;
  private allowance: number;
  private waiters = new Set<() => void>();

  constructor(
    private readonly release: string,
    allowance: number,
  ) {
    this.allowance = allowance;
  }

  /** Let through updates until `n` have passed in all. */
  allow(n: number): void {
    this.allowance = n;
    for (const wake of [...this.waiters]) wake();
  }

  /** Let every update through. */
  releaseAll(): void {
    this.allow(Infinity);
  }

  wrap(session: ProviderSession): ProviderSession {
    const inner = session.provider;
    const update: Provider['update'] = async (scope, id, change, options) => {
      if (change.release === this.release) await this.admit(options);
      return inner.update(scope, id, change, options);
    };
    const provider = new Proxy(inner, {
      get: (target, prop) => {
        if (prop === 'update') return update;
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return {
      ...session,
      provider,
      apiStats: () => session.apiStats(),
      save: () => session.save(),
      close: () => session.close(),
    };
  }

  private async admit(options: CallOptions | undefined): Promise<void> {
    const signal = options?.signal;
    while (this.passed >= this.allowance) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
    this.passed++;
  }
}
