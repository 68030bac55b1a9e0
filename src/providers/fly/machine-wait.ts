// Waiting for a Fly machine. Fly's wait endpoint knows states, not health, and does not fail fast when
// a machine exits (flyctl#2653). So a wait is sliced: the wait endpoint (pinned to the instance_id via
// `version`) in slices of at most `waitSliceMs`, a GET after each slice that ran out (exit →
// machine_failed at once; another instance → reverted, machine_failed), then GET polling for checks.
// A wait whose deadline passes during a slice ends on one more GET: a machine that met the condition
// in time is not failed because a slow API held the answers back.

import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine } from '../../domain/types.js';
import { ProviderError, type WaitCondition, type WaitArgs } from '../contract.js';
import { goneError, machineVerdict, waitTimeoutError } from '../machine-waiters.js';
import type { FlyApiClient } from './api-client.js';
import { machinePath } from './api-paths.js';
import { FLY_MAX_WAIT_SECONDS, type FlyMachine } from './fly-types.js';
import type { LeaseKeeper } from './leases.js';
import { configOf } from './machine-mapping.js';
import type { ObservedFleet } from './observed-fleet.js';

/** What a wait uses of the provider. */
export interface WaitDeps {
  client: FlyApiClient;
  clock: Clock;
  leases: LeaseKeeper;
  fleet: ObservedFleet;
  appFor: (scope: FleetScope) => string;
  pollIntervalMs: number;
  waitSliceMs: number;
  fetchMachine: (app: string, id: string, signal?: AbortSignal) => Promise<FlyMachine>;
  /** The machine is gone: forget it (leases included) and say so. */
  gone: (scope: FleetScope, id: string) => Machine;
  /** Counted each time a wait fails fast on a GET after a slice ran out. */
  onFailedFast: () => void;
}

export class MachineWaiter {
  constructor(private readonly deps: WaitDeps) {}

  async waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const deps = this.deps;
    const clock = deps.clock;
    const app = deps.appFor(scope);
    const deadline = clock.now() + Math.max(0, timeoutMs);
    const unhold = deps.leases.hold(app, id);
    try {
      // Fly requires a version to wait for `stopped`; without a pinned one, the instance runway last saw.
      const version =
        condition.instanceVersion ??
        (condition.state === 'stopped' ? deps.fleet.cached(app, id)?.machine.instanceVersion : undefined);
      // 1. The state, from the wait endpoint, slice by slice; a GET after each slice that ran out.
      for (;;) {
        const remaining = deadline - clock.now();
        if (remaining <= 0) return await this.lastLook(scope, id, condition, timeoutMs, signal);
        const seconds = Math.max(
          1,
          Math.min(FLY_MAX_WAIT_SECONDS, Math.ceil(Math.min(remaining, deps.waitSliceMs) / 1000)),
        );
        try {
          await deps.fleet.absorbFresh(app, id, signal, () =>
            deps.client.send({
              method: 'GET',
              path: `${machinePath(app, id)}/wait`,
              query: { state: condition.state, version, timeout: seconds },
              signal,
              timeoutMs: seconds * 1000 + 15_000,
              op: 'wait',
              machineId: id,
              what: `wait for machine ${id} to be ${condition.state}`,
              label: 'wait',
            }),
          );
          break;
        } catch (error) {
          if (!(error instanceof ProviderError)) throw error;
          if (error.kind === 'not_found') {
            if (condition.state === 'destroyed') return deps.gone(scope, id);
            deps.gone(scope, id);
            throw goneError('fly: ', id, ` in ${app}`);
          }
          if (error.kind !== 'wait_timeout') throw error;
          const settled = await this.fetchAndJudge(scope, id, condition, signal);
          if (settled) return settled;
        }
      }
      if (condition.state === 'destroyed') return deps.gone(scope, id);
      // 2. What the wait endpoint cannot tell: checks passing, the release. Polled. A machine with
      // checks has not passed them the moment it started: the first look comes one interval later.
      if (condition.healthy && this.hasChecks(app, id))
        await clock.sleep(Math.min(deps.pollIntervalMs, Math.max(0, deadline - clock.now())), signal);
      for (;;) {
        const settled = await this.fetchAndJudge(scope, id, condition, signal);
        if (settled) return settled;
        const remaining = deadline - clock.now();
        if (remaining <= 0) throw this.waitTimeout(scope, id, condition, timeoutMs);
        await clock.sleep(Math.min(deps.pollIntervalMs, remaining), signal);
      }
    } finally {
      unhold();
    }
  }

  /** Whether the machine's config (as last seen) defines health checks, top-level or in services. */
  private hasChecks(app: string, id: string): boolean {
    const config = configOf(this.deps.fleet.cached(app, id)?.fly ?? { id, state: '' });
    if (!config) return false;
    if (config.checks && Object.keys(config.checks).length > 0) return true;
    return (config.services ?? []).some(
      (s) => Array.isArray((s as { checks?: unknown[] }).checks) && (s as { checks: unknown[] }).checks.length > 0,
    );
  }

  /**
   * GET the machine and judge it against the wait: the machine when it meets the condition; throws
   * when it never will (exited, another instance, gone); undefined to keep waiting.
   */
  private async fetchAndJudge(
    scope: FleetScope,
    id: string,
    condition: WaitCondition,
    signal?: AbortSignal,
  ): Promise<Machine | undefined> {
    const app = this.deps.appFor(scope);
    let fm: FlyMachine;
    try {
      fm = await this.deps.fetchMachine(app, id, signal);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') {
        if (condition.state === 'destroyed') return this.deps.gone(scope, id);
        this.deps.gone(scope, id);
        throw goneError('fly: ', id, ` in ${app}`);
      }
      throw error;
    }
    const m = this.deps.fleet.observe(scope, fm);
    const verdict = machineVerdict(id, m, condition, {
      prefix: 'fly: ',
      exited: (seen) => `exited (failed) on ${seen.release} (${seen.instanceVersion})`,
      reverted: (seen) => otherRelease(seen, condition),
      copy: (seen) => seen,
    });
    if (verdict && 'error' in verdict) {
      this.deps.onFailedFast();
      throw verdict.error;
    }
    return verdict?.machine;
  }

  /**
   * The deadline passed before the machine was seen meeting the condition: one more read decides. A
   * slow API can hold a wait's answers back past the deadline while the machine itself came up in
   * time; the machine is judged on what it is when read, not on answers that did not come. A read
   * that fails throws its own (retryable) error, so the wait is not blamed on the machine.
   */
  private async lastLook(
    scope: FleetScope,
    id: string,
    condition: WaitCondition,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Machine> {
    const settled = await this.fetchAndJudge(scope, id, condition, signal);
    if (settled) return settled;
    throw this.waitTimeout(scope, id, condition, timeoutMs);
  }

  /** The wait ran out; the machine as last read (just now) is in the message. */
  private waitTimeout(scope: FleetScope, id: string, condition: WaitCondition, timeoutMs: number): ProviderError {
    const m = this.deps.fleet.cached(this.deps.appFor(scope), id)?.machine;
    return waitTimeoutError('fly: ', id, condition, timeoutMs, m);
  }
}

/**
 * What Fly shows when a machine will not come to the wait's release: another instance than the pinned
 * one (it reverted, or someone changed it), or another release than the wanted one.
 */
function otherRelease(m: Machine, condition: WaitCondition): string | undefined {
  const pinned = condition.instanceVersion;
  if (pinned !== undefined && m.instanceVersion !== pinned && (m.state === 'started' || m.state === 'stopped'))
    return `runs ${m.release} (${m.instanceVersion}) instead of ${pinned}: it reverted, or someone else changed it`;
  if (
    pinned === undefined &&
    condition.release !== undefined &&
    m.release !== condition.release &&
    m.state === 'started'
  )
    return `runs ${m.release} instead of ${condition.release}`;
  return undefined;
}
