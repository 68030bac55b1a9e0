// Immediate's convergence tracking: its updates were only dispatched, so every machine is followed
// until it runs the version it was given with passing checks, exits, or the convergence timeout ends.
// Waits are pinned to the instance version the update returned. A provider that stops answering is
// not a straggler: its error is returned as such (the deploy gives up on the provider, not on machines).

import type { Clock } from '../domain/clock.js';
import type { FleetScope, Machine } from '../domain/types.js';
import { AbortFanout } from '../domain/abort-fanout.js';
import { ProviderError, type Provider } from '../providers/contract.js';

export interface ConvergenceInput {
  provider: Provider;
  scope: FleetScope;
  clock: Clock;
  signal: AbortSignal;
}

export interface ConvergenceResult {
  stragglers: string[];
  failed: string[];
  /** The provider did not answer (outage given up): not the machines' fault. */
  unanswered?: ProviderError;
}

export async function trackConvergence(
  input: ConvergenceInput,
  machines: Machine[],
  timeoutMs: number,
): Promise<ConvergenceResult> {
  const deadline = input.clock.now() + timeoutMs;
  const pending = new Set(machines.map((m) => m.id));
  const failed: string[] = [];
  let unanswered: ProviderError | undefined;
  const fanout = new AbortFanout([input.signal]);
  await Promise.all(
    machines.map(async (m) => {
      const child = fanout.child();
      const signal = child.signal;
      try {
        await input.provider.waitFor(
          input.scope,
          m.id,
          { state: 'started', healthy: true, release: m.release, instanceVersion: m.instanceVersion },
          Math.max(0, deadline - input.clock.now()),
          signal,
        );
        pending.delete(m.id);
      } catch (err) {
        if (input.signal.aborted) return;
        if (err instanceof ProviderError && err.kind === 'machine_failed') {
          pending.delete(m.id);
          failed.push(m.id);
        } else if (err instanceof ProviderError && err.retryable) {
          unanswered ??= err;
        }
      } finally {
        child.done();
      }
    }),
  );
  return { stragglers: [...pending], failed, ...(unanswered ? { unanswered } : {}) };
}
