// Runs the outbox pump beside a command that has the store open (CLI) and flushes it when the
// command ends, bounded: GitHub or a webhook being down costs the command a request timeout (5 s)
// or two at its end, and whatever is left stays queued for `runway server` or the next command.

import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { OutboxPump } from './pump.js';

export interface AttachedPump {
  pump: OutboxPump;
  close(): Promise<void>;
}

export function attachOutboxPump(
  config: RunwayConfig,
  store: Store,
  processEnv: NodeJS.ProcessEnv,
  log: (line: string) => void,
): AttachedPump | undefined {
  const flushMs = Number(processEnv.RUNWAY_OUTBOX_FLUSH_MS ?? 10_000);
  // A receiver that never answers costs a command at most this long at its end.
  const pump = new OutboxPump({
    store,
    config,
    processEnv,
    log,
    requestTimeoutMs: Math.max(1000, Math.min(5000, flushMs)),
  });
  if (!pump.enabled) return undefined;
  pump.start(Number(processEnv.RUNWAY_OUTBOX_INTERVAL_MS ?? 1000));
  return {
    pump,
    async close() {
      await pump.stop();
      await pump.flush(flushMs).catch((err: Error) => log(`outbox: ${err.message}`));
    },
  };
}
