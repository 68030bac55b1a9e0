// Queued webhook work. The endpoint records a delivery (unique id and event key) and answers at
// once; this worker then starts the deploys the event asked for, one delivery at a time, and writes
// what came of them into the delivery (GET /api/deliveries/:id). A delivery is claimed before it is
// processed, so with several instances on one store each is processed once; deliveries still queued
// when an instance stopped are picked up when one starts.

import { dispatch, type DispatchContext, type DispatchOutcome } from '../triggers/dispatch.js';
import type { TriggerRequest } from '../triggers/github-webhook.js';

export function webhookInitiatorLabel(request: TriggerRequest): string {
  return request.initiator.kind === 'automation' && request.trigger === 'push'
    ? 'github:push'
    : `github:${request.initiator.name || 'unknown'}`;
}

export class WebhookWorker {
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly ctx: DispatchContext,
    private readonly instanceId: string,
  ) {}

  enqueue(deliveryId: string): void {
    this.chain = this.chain.then(() => this.process(deliveryId));
  }

  /** Queue every delivery left queued (by this or a stopped instance). */
  async resumeQueued(): Promise<void> {
    const queued = await this.ctx.store.listDeliveries({ status: ['queued'] });
    for (const d of queued.reverse()) this.enqueue(d.id);
  }

  /** Resolves when everything queued so far is processed. */
  idle(): Promise<void> {
    return this.chain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  private async process(deliveryId: string): Promise<void> {
    if (this.stopped) return;
    const { store, clock } = this.ctx;
    try {
      if (!(await store.claimDelivery(deliveryId, this.instanceId))) return;
      const delivery = await store.getDelivery(deliveryId);
      const requests = (delivery?.requests ?? []) as TriggerRequest[];
      const outcomes: DispatchOutcome[] = [];
      for (const request of requests) {
        try {
          outcomes.push(
            await dispatch(this.ctx, request, { via: 'webhook', initiatorLabel: webhookInitiatorLabel(request) }),
          );
        } catch (err) {
          outcomes.push({ env: request.env, outcome: 'error', status: 500, error: (err as Error).message });
        }
      }
      for (const o of outcomes) {
        const line =
          o.outcome === 'started'
            ? `started ${o.deployId} (responsible: ${o.responsible})`
            : o.outcome === 'refused'
              ? `refused: ${o.why}`
              : `error: ${o.error}`;
        this.ctx.log?.(`github delivery ${deliveryId} ${delivery?.event ?? ''} -> ${o.env}: ${line}`);
      }
      await store.finishDelivery(deliveryId, 'done', { outcomes }, clock.now());
    } catch (err) {
      this.ctx.log?.(`github delivery ${deliveryId} failed: ${(err as Error).message}`);
      await store.finishDelivery(deliveryId, 'failed', { error: (err as Error).message }, clock.now()).catch(() => {});
    }
  }
}
