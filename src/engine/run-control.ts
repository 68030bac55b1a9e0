// Who may act on a deploy run, and whether it should stop: the abort signal every in-flight operation
// listens to, an abort request (from the store, a signal, or ownership lost), this process stepping
// back (a `runway server` stopping), and another owner having taken the deploy over.

import { setMaxListeners } from 'node:events';
import { Aborted } from './deploy-request.js';

export class RunControl {
  private controller = new AbortController();
  /** Set once an abort has been acted on: its rollback is not itself aborted by the same request. */
  private abortHandled = false;
  /** Another owner took the deploy over: stop touching the fleet and the record. */
  lostOwnership = false;
  /** This process is stopping: leave the deploy as it is, running and unowned. */
  steppingBack = false;

  constructor(signal?: AbortSignal, stepBack?: AbortSignal) {
    // Every in-flight wait listens to the deploy's abort signal: thousands on a large fleet.
    setMaxListeners(0, this.controller.signal);
    if (stepBack) {
      const onStepBack = () => {
        this.steppingBack = true;
        // Even a rollback already under way stops: whoever goes on with the deploy goes on with it.
        if (!this.controller.signal.aborted) this.controller.abort(new Aborted('the control plane stopping'));
      };
      if (stepBack.aborted) onStepBack();
      else stepBack.addEventListener('abort', onStepBack, { once: true });
    }
    if (signal) {
      if (signal.aborted) this.requestAbort('signal');
      else signal.addEventListener('abort', () => this.requestAbort(String(signal.reason ?? 'signal')), { once: true });
    }
  }

  /** The signal every operation of the run listens to. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** This run leaves the deploy to another (it stepped back, or was taken over): it settles nothing. */
  get leaving(): boolean {
    return this.steppingBack || this.lostOwnership;
  }

  requestAbort(by: string): void {
    if (!this.abortHandled && !this.controller.signal.aborted) this.controller.abort(new Aborted(by));
  }

  ownershipLost(): void {
    this.lostOwnership = true;
    this.requestAbort('ownership lost');
  }

  /** The abort was acted on (nothing new starts); its policy (a rollback) runs on a fresh signal. */
  handleAbort(renew: boolean): void {
    this.abortHandled = true;
    if (!renew) return;
    this.controller = new AbortController();
    setMaxListeners(0, this.controller.signal);
  }
}
