// Posts one notification row to its target: Slack incoming webhooks get slackMessage(); generic
// webhooks get webhookDocument(), signed with HMAC-SHA256:
//   X-Runway-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Runway-Timestamp>.<raw body>")>
// Receivers recompute it over the raw body, compare in constant time and reject old timestamps.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NotificationTarget } from '../config/integrations.js';
import type { OutboxItem } from '../store/outbox-contract.js';
import type { NotificationPayload } from './payload.js';
import { slackMessage, webhookDocument } from './format.js';

export const SIGNATURE_HEADER = 'X-Runway-Signature';
export const TIMESTAMP_HEADER = 'X-Runway-Timestamp';
export const EVENT_HEADER = 'X-Runway-Event';
export const DELIVERY_HEADER = 'X-Runway-Delivery';

/** `sha256=` + hex HMAC-SHA256 of `${timestamp}.${body}` under `secret`. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A delivery that must not be retried (the receiver refused it for good). */
export class PermanentDeliveryError extends Error {}

export function targetUrl(target: NotificationTarget, processEnv: NodeJS.ProcessEnv): string {
  const url = target.url ?? (target.urlEnv ? processEnv[target.urlEnv]?.trim() : undefined);
  if (!url) throw new Error(`notification target ${target.name}: $${target.urlEnv} is not set`);
  return url;
}

function targetSecret(target: NotificationTarget, processEnv: NodeJS.ProcessEnv): string {
  const secret = target.secretEnv
    ? processEnv[target.secretEnv]
    : target.secretFile
      ? readFileSync(target.secretFile, 'utf8')
      : undefined;
  if (!secret?.trim())
    throw new Error(
      `notification target ${target.name}: no signing secret (${target.secretEnv ? `$${target.secretEnv}` : target.secretFile} is empty or unset)`,
    );
  return secret.trim();
}

export async function sendNotification(
  item: OutboxItem,
  target: NotificationTarget,
  processEnv: NodeJS.ProcessEnv,
  timeoutMs: number,
  nowMs: number,
): Promise<void> {
  const payload = item.payload as NotificationPayload;
  const url = targetUrl(target, processEnv);
  const deliveryId = `${item.deployId}.${item.seq}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'runway' };
  let body: string;
  if (target.type === 'slack') {
    body = JSON.stringify(slackMessage(payload));
  } else {
    body = JSON.stringify(webhookDocument(payload, deliveryId));
    const timestamp = String(Math.floor(nowMs / 1000));
    headers[TIMESTAMP_HEADER] = timestamp;
    headers[EVENT_HEADER] = payload.event;
    headers[DELIVERY_HEADER] = deliveryId;
    headers[SIGNATURE_HEADER] = signature(targetSecret(target, processEnv), timestamp, body);
  }
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    // Incoming-webhook URLs are secrets: the error kept in the store and shown names the target only.
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new Error(
      `${target.name}: ${e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : why}`.replaceAll(
        url,
        '<url>',
      ),
    );
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return;
  const message = `${target.name}: HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  // 4xx other than timeouts and rate limits: the same request will be refused again.
  if (response.status >= 400 && response.status < 500 && ![408, 409, 425, 429].includes(response.status))
    throw new PermanentDeliveryError(message);
  throw new Error(message);
}
