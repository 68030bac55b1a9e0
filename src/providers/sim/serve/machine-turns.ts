// The changes of one machine (update, start, stop, cordon, uncordon, destroy), applied one
// after another, as Fly applies them: each waits for the ones sent before it to settle. Without this,
// a slow cordon whose client gave up landed after the uncordon runway sent later, and left a machine
// out of traffic after a deploy that had ended.

import type { Clock } from '../../../domain/clock.js';
import type { BackendFaults } from './backend-types.js';
import { OneAtATime } from './one-at-a-time.js';

export class MachineTurns {
  private readonly queue = new OneAtATime();
  /** Actions the `actionDelay` fault held back, applied since. */
  delayedApplied = 0;

  constructor(
    private readonly clock: Clock,
    private readonly faults: BackendFaults,
  ) {}

  /** Applies `change` once every earlier change of machine `id` has settled. */
  change<T>(id: string, change: () => Promise<T>): Promise<T> {
    return this.queue.run(id, change);
  }

  /** An action (start, stop, cordon, uncordon) in its turn; the `actionDelay` fault holds it back first (a slow API). */
  action<T>(id: string, action: () => Promise<T>): Promise<T> {
    if (!((this.faults.actionDelayCount ?? 0) > 0)) return this.queue.run(id, action);
    this.faults.actionDelayCount!--;
    return this.queue.run(id, async () => {
      await this.clock.sleep(this.faults.actionDelayMs ?? 0);
      const done = await action();
      this.delayedApplied++;
      return done;
    });
  }
}
