// One wait call on the sim, from its answer to its verdict: the one object the call keeps while it
// waits. A wait call's promise used to be resolved with the fleet's wait promise, so that each wait
// kept two promises, their resolving functions, the adoption's reaction and the judging closures for
// the seconds its machine takes to boot and pass checks (most of it copied out of the young
// generation). It settles the call's promise on the very tick the adoption did: a microtask after the
// answer stands for the adoption (`then` on the fleet's promise), and the call settles one microtask
// after both that and the verdict have come, whichever came last.

import type { FleetScope, Machine } from '../../domain/types.js';
import type { ProviderError, WaitCondition } from '../contract.js';
import { MachineWait, waitTimeoutError, type WaitVerdict } from '../machine-waiters.js';
import type { SimMachineRecord } from './sim-machine.js';

/** What a wait needs of the fleet it waits on (fleet.ts). */
export interface SimWaitHost {
  /** The verdict on `record`, the machine `id` of scope `key` as it is now (undefined: gone). */
  verdict(key: string, id: string, record: SimMachineRecord | undefined, condition: WaitCondition): WaitVerdict;
  find(scope: FleetScope, id: string): SimMachineRecord | undefined;
}

/** Settled before the microtask queue runs: `then` on it is one tick. */
const SETTLED = Promise.resolve();

const noop = (): void => {};

export class SimWait extends MachineWait<SimMachineRecord> {
  /** 'waiting' for the adoption's tick, 'adopted' (a verdict now settles it a tick later), 'delivering'. */
  private stage: 'waiting' | 'adopted' | 'delivering' = 'waiting';
  private verdictIn = false;
  private machine: Machine | undefined = undefined;
  private error: unknown = undefined;
  private resolve: (value: unknown) => void = noop;
  private reject: (error: unknown) => void = noop;
  /** Its scope's key in the fleet (set when it starts). */
  key = '';

  constructor(
    private readonly host: SimWaitHost,
    readonly scope: FleetScope,
    id: string,
    readonly condition: WaitCondition,
    readonly timeoutMs: number,
    signal: AbortSignal | undefined,
  ) {
    super(id, signal);
  }

  /** The call was answered: from now on the wait settles `resolve`/`reject` (the call's promise). */
  begin(resolve: (value: unknown) => void, reject: (error: unknown) => void): void {
    this.resolve = resolve;
    this.reject = reject;
    // The tick the call's promise adopted the fleet's wait promise (then on it).
    void SETTLED.then(this.timeout);
  }

  judge(record: SimMachineRecord | undefined): WaitVerdict {
    return this.host.verdict(this.key, this.id, record, this.condition);
  }

  timedOut(): ProviderError {
    return waitTimeoutError('', this.id, this.condition, this.timeoutMs, this.host.find(this.scope, this.id)?.machine);
  }

  settle(machine: Machine | undefined, error: unknown): void {
    this.verdictIn = true;
    this.machine = machine;
    this.error = error;
    if (this.stage === 'adopted') this.deliverNextTick();
  }

  /**
   * The adoption's tick (first), then the wait's timer, then the tick the call settles on. The timer
   * never comes first (it fires on a later turn of the clock), nor after a verdict (which cancels it).
   */
  protected override fire(): void {
    switch (this.stage) {
      case 'waiting':
        this.stage = 'adopted';
        if (this.verdictIn) this.deliverNextTick();
        return;
      case 'adopted':
        return super.fire();
      case 'delivering':
        if (this.machine) this.resolve(this.machine);
        else this.reject(this.error);
    }
  }

  private deliverNextTick(): void {
    this.stage = 'delivering';
    void SETTLED.then(this.timeout);
  }
}
