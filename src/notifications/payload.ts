// What the outbox queues for a notification target: the facts every format renders. Defined here,
// beside the formats and the sending, so that the outbox depends on notifications and never the reverse.

import type { NotificationEvent } from '../config/integrations-schema.js';
import type { DeployStatus } from '../domain/types.js';

/** A notification row's payload: the facts every format renders. */
export interface NotificationPayload {
  event: NotificationEvent;
  deployId: string;
  app: string;
  env: string;
  release: string;
  previousRelease: string | null;
  strategy: string;
  status: DeployStatus;
  responsible: string;
  initiator: string;
  trigger: string;
  emergency: boolean;
  reason: string | null;
  error: string | null;
  stragglers: number;
  url: string | null;
  atMs: number;
}
