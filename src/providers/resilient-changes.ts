// The sends of the two changes the resilient provider (resilient-provider.ts) never repeats blindly:
//  - an update whose answer was lost (timeout, 5xx, connection reset) is not sent again blindly: the
//    machine is read first, and when it already runs the release for this deploy that is the answer;
//    a resend the provider refuses as a conflict (fly: current_version no longer matches, because the
//    lost attempt was applied late) is settled by another read;
//  - a destroy whose answer was lost is not sent again blindly either: the machine is read first, and
//    gone (or going) is done; a resend refused as not found or as a conflict is settled by another read.
// Each first attempt is sent without an async function (its frame and promises, for every update and
// destroy of a deploy) and settles in the microtask the async function did: one `then`, as one `await`.
// The closures are made in constructors: one declared in a function would be named, a defineProperty
// per call, by the TypeScript loader the benchmark runs under.

import type { FleetScope, Machine } from '../domain/types.js';
import { ProviderError, type MachineUpdate, type Provider } from './contract.js';

/** A failure after which the change may have happened (its answer was lost, not refused). */
export function lostAnswer(error: unknown): boolean {
  return error instanceof ProviderError && error.retryable && error.kind !== 'rate_limited';
}

/** Sends one update, attempt after attempt (`send`), reading the machine before any resend. */
export class UpdateSend {
  /** An attempt's answer was lost: the update may have happened. */
  private lost = false;
  /** One attempt. */
  readonly send: () => Promise<Machine>;
  private readonly markLost: (error: unknown) => never;

  constructor(
    private readonly inner: Provider,
    /** Counts an update found done after a lost answer. */
    private readonly recovered: () => void,
    private readonly scope: FleetScope,
    private readonly id: string,
    private readonly update: MachineUpdate,
  ) {
    this.markLost = (error) => {
      if (lostAnswer(error)) this.lost = true;
      throw error;
    };
    this.send = () => {
      if (this.lost) return this.again();
      let answer: Promise<Machine>;
      try {
        answer = this.inner.update(this.scope, this.id, this.update);
      } catch (error) {
        if (lostAnswer(error)) this.lost = true;
        return Promise.reject(error);
      }
      return answer.then(undefined, this.markLost);
    };
  }

  private async again(): Promise<Machine> {
    const seen = await this.happened();
    if (seen) return seen;
    try {
      return await this.inner.update(this.scope, this.id, this.update);
    } catch (error) {
      if (lostAnswer(error)) this.lost = true;
      else if (error instanceof ProviderError && error.kind === 'conflict') {
        const seen = await this.happened();
        if (seen) return seen;
      }
      throw error;
    }
  }

  /** The machine, when it shows the update done (no resend then); otherwise undefined. */
  private async happened(): Promise<Machine | undefined> {
    const seen = await this.inner.get(this.scope, this.id);
    if (!applied(seen, this.update)) return undefined;
    this.recovered();
    return seen;
  }
}

/**
 * Sends one destroy, attempt after attempt (`send`). After an attempt whose answer was lost the machine
 * is read first: gone (or going) is done, and only a machine still there is sent the destroy again. A
 * resend refused as not found or as a conflict (on Fly, the lease the lost attempt took away with the
 * machine) is settled by another read.
 */
export class DestroySend {
  private lost = false;
  /** One attempt. */
  readonly send: () => Promise<void>;
  private readonly markLost: (error: unknown) => never;

  constructor(
    private readonly inner: Provider,
    private readonly scope: FleetScope,
    private readonly id: string,
  ) {
    this.markLost = (error) => {
      if (lostAnswer(error)) this.lost = true;
      throw error;
    };
    this.send = () => {
      if (this.lost) return this.again();
      let answer: Promise<void>;
      try {
        answer = inner.destroy(scope, id);
      } catch (error) {
        if (lostAnswer(error)) this.lost = true;
        return Promise.reject(error);
      }
      return answer.then(nothing, this.markLost);
    };
  }

  private async again(): Promise<void> {
    if (await this.gone()) return;
    try {
      await this.inner.destroy(this.scope, this.id);
    } catch (error) {
      const refused = error instanceof ProviderError && (error.kind === 'not_found' || error.kind === 'conflict');
      if (refused && (await this.gone())) return;
      throw error;
    }
  }

  /** Whether the machine is destroyed or being destroyed: what a lost attempt may have done. */
  private async gone(): Promise<boolean> {
    try {
      const seen = await this.inner.get(this.scope, this.id);
      return seen.state === 'destroyed' || seen.state === 'destroying';
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') return true;
      throw error;
    }
  }
}

function nothing(): void {}

/** Whether a machine shows an update as done: its release, and the deploy and role it marks. */
function applied(machine: Machine, update: MachineUpdate): boolean {
  if (machine.release !== update.release) return false;
  if (update.deployId !== undefined && machine.deployId !== update.deployId) return false;
  if (update.role !== undefined && machine.role !== update.role) return false;
  return machine.state !== 'destroyed';
}
