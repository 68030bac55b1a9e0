// POST /webhooks/github, and the deliveries it recorded (GET /api/deliveries, /api/deliveries/:id).
//
// Order matters: size limit (413), then the signature over the raw bytes (401; nothing is parsed or
// recorded before it passes), then headers and JSON (400), then the event. A delivery that maps to
// deploys is recorded (unique by X-GitHub-Delivery and by what the event is about) and queued; the
// answer (202) goes out at once, well within GitHub's 10 s. A redelivery, to this or another
// instance, answers 200 `duplicate` and starts nothing.

import type { Hono } from 'hono';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  mapGithubEvent,
  SIGNATURE_HEADER,
  verifySignature,
} from '../../triggers/github-webhook.js';
import { ApiError, positiveInt, readRawBody, type ApiEnv, type ControlPlane } from './http.js';

const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function webhookRoutes(app: Hono, cp: ControlPlane): void {
  app.post('/webhooks/github', async (c) => {
    if (cp.webhookSecret === undefined) {
      throw new ApiError(
        503,
        'the GitHub webhook endpoint is off: no webhook secret (set RUNWAY_GITHUB_WEBHOOK_SECRET or [github] webhook_secret_file)',
      );
    }
    const raw = await readRawBody(c, cp.maxWebhookBodyBytes);
    if (!verifySignature(cp.webhookSecret, raw, c.req.header(SIGNATURE_HEADER))) {
      throw new ApiError(401, `missing or wrong ${SIGNATURE_HEADER} signature`);
    }
    const event = c.req.header(EVENT_HEADER);
    const delivery = c.req.header(DELIVERY_HEADER);
    if (!event) throw new ApiError(400, `missing ${EVENT_HEADER} header`);
    if (!delivery || !DELIVERY_ID.test(delivery))
      throw new ApiError(400, `missing or malformed ${DELIVERY_HEADER} header`);
    let payload: unknown;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ApiError(400, 'payload is not JSON (set the webhook content type to application/json)');
    }
    const mapping = mapGithubEvent(event, payload, cp.config);
    if (mapping.kind === 'ping') return c.json({ ok: true, event, deliveryId: delivery, zen: mapping.zen });
    if (mapping.kind === 'ignored') {
      if (mapping.otherRepository) cp.log(`github delivery ${delivery} (${event}) ignored: ${mapping.why}`);
      return c.json({ ignored: true, event, deliveryId: delivery, why: mapping.why }, 202);
    }
    const recorded = await cp.store.recordDelivery({
      id: delivery,
      event,
      eventKey: mapping.eventKey,
      status: 'queued',
      receivedAtMs: cp.clock.now(),
      requests: mapping.requests,
    });
    if (!recorded.recorded) {
      const original = recorded.existing;
      cp.log(`github delivery ${delivery} (${event}) is a duplicate of ${original.id}: nothing started`);
      return c.json({
        duplicate: true,
        event,
        deliveryId: delivery,
        original: { id: original.id, status: original.status },
      });
    }
    cp.webhooks.enqueue(delivery);
    return c.json(
      { accepted: true, event, deliveryId: delivery, environments: mapping.requests.map((r) => r.env) },
      202,
    );
  });
}

export function deliveryRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  api.get('/deliveries', async (c) =>
    c.json(await cp.store.listDeliveries({ limit: positiveInt(c.req.query('limit'), 'limit') ?? 50 })),
  );
  api.get('/deliveries/:id', async (c) => {
    const d = await cp.store.getDelivery(c.req.param('id'));
    if (!d) throw new ApiError(404, `no delivery ${c.req.param('id')}`);
    return c.json(d);
  });
}
