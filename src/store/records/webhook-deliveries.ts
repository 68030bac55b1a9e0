// GitHub webhook deliveries: recorded once (by delivery id and by event key), claimed, finished.

import type { Selectable } from 'kysely';
import { StoreError, type DeliveryStatus, type RecordDeliveryResult, type WebhookDelivery } from '../contract.js';
import type { WebhookDeliveriesTable } from '../schema.js';
import { millis, millisOrNull, documentText, parseDocument } from './column-values.js';
import type { StoreContext } from './store-context.js';

function deliveryFromRow(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: row.id,
    event: row.event,
    eventKey: row.event_key,
    status: row.status as DeliveryStatus,
    receivedAtMs: millis(row.received_at_ms),
    owner: row.owner,
    requests: parseDocument(row.requests),
    result: parseDocument(row.result),
    finishedAtMs: millisOrNull(row.finished_at_ms),
  };
}

export function recordDelivery(
  s: StoreContext,
  delivery: Omit<WebhookDelivery, 'owner' | 'result' | 'finishedAtMs'>,
): Promise<RecordDeliveryResult> {
  return s.run(async () => {
    // One statement; `on conflict do nothing` without a target covers both unique columns (the
    // delivery id and the event key) in SQLite and PostgreSQL alike.
    const inserted = await s.db
      .insertInto('webhook_deliveries')
      .values({
        id: delivery.id,
        event: delivery.event,
        event_key: delivery.eventKey,
        status: delivery.status,
        received_at_ms: delivery.receivedAtMs,
        requests: JSON.stringify(delivery.requests ?? null),
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { recorded: true as const };
    let q = s.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', delivery.id);
    if (delivery.eventKey !== null)
      q = s.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', delivery.id), eb('event_key', '=', delivery.eventKey)]));
    const existing = await q.orderBy('received_at_ms', 'asc').executeTakeFirst();
    if (!existing) throw new StoreError('unavailable', `delivery ${delivery.id} changed while being recorded; retry`);
    return { recorded: false as const, existing: deliveryFromRow(existing) };
  });
}

export function getDelivery(s: StoreContext, id: string): Promise<WebhookDelivery | undefined> {
  return s.run(async () => {
    const row = await s.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row && deliveryFromRow(row);
  });
}

export function listDeliveries(
  s: StoreContext,
  query: { status?: DeliveryStatus[]; limit?: number } = {},
): Promise<WebhookDelivery[]> {
  return s.run(async () => {
    let q = s.db.selectFrom('webhook_deliveries').selectAll();
    if (query.status && query.status.length > 0) q = q.where('status', 'in', query.status);
    q = q.orderBy('received_at_ms', 'desc').orderBy('id', 'desc');
    if (query.limit !== undefined) q = q.limit(Math.max(0, Math.floor(query.limit)));
    return (await q.execute()).map(deliveryFromRow);
  });
}

export function claimDelivery(s: StoreContext, id: string, owner: string): Promise<boolean> {
  return s.run(async () => {
    const result = await s.db
      .updateTable('webhook_deliveries')
      .set({ status: 'processing', owner })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  });
}

export function finishDelivery(
  s: StoreContext,
  id: string,
  status: 'done' | 'failed',
  result: unknown,
  atMs: number,
): Promise<void> {
  return s.run(async () => {
    const updated = await s.db
      .updateTable('webhook_deliveries')
      .set({ status, result: documentText(result), finished_at_ms: atMs })
      .where('id', '=', id)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) throw new StoreError('not_found', `delivery ${id} not found`);
  });
}
