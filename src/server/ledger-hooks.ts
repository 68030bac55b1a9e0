// The deploy service's hooks that keep the ledger: deploy ended (finished, aborted, rolled back) and
// taken over from a dead instance (src/deploys/start.ts records starts and lock takeovers). A
// deploy that succeeds carrying a secrets version, having replaced every machine, makes that version
// the applied one.

import type { Clock } from '../domain/clock.js';
import { TERMINAL_STATUSES } from '../domain/types.js';
import { appendLedger, recordDeployEnd } from '../ledger/ledger.js';
import type { Store } from '../store/contract.js';
import type { DeployHooks } from './deploy-service.js';

export function ledgerHooks(store: Store, clock: Clock, instance: () => string): DeployHooks {
  return {
    async ended(deploy, summary, error) {
      // Stopped with the server, not ended: another instance takes it over and ends it.
      if (!summary && !TERMINAL_STATUSES.includes(deploy.status)) return;
      await recordDeployEnd(store, clock, deploy, summary, error);
    },
    async takenOver(deploy, from) {
      await appendLedger(store, clock, {
        kind: 'deploy.taken_over',
        app: deploy.app,
        env: deploy.env,
        deployId: deploy.id,
        responsible: deploy.responsible,
        initiator: instance(),
        trigger: deploy.trigger,
        reason: deploy.reason,
        emergency: deploy.emergency ?? false,
        data: { from, to: instance() },
      });
    },
  };
}
