// The deploy service's hooks that keep the ledger: deploy started (or resumed), ended (finished,
// aborted, rolled back), taken over from a dead instance, and environment locks taken over. A
// deploy that succeeds carrying a secrets version, having replaced every machine, makes that version
// the applied one.

import type { Clock } from '../domain/clock.js';
import { TERMINAL_STATUSES } from '../domain/types.js';
import { appendLedger, ledgerDeployStarted, recordDeployEnd } from '../ledger/ledger.js';
import type { Store } from '../store/contract.js';
import type { DeployHooks } from './deploy-service.js';

export function ledgerHooks(store: Store, clock: Clock, instance: () => string): DeployHooks {
  return {
    started: (deploy, context) => ledgerDeployStarted(store, clock, deploy, context),
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
    async lockTakenOver(deploy, previousHolder) {
      await appendLedger(store, clock, {
        kind: 'lock.taken_over',
        app: deploy.app,
        env: deploy.env,
        deployId: deploy.id,
        responsible: deploy.responsible,
        initiator: deploy.initiator,
        trigger: deploy.trigger,
        reason: `stale lock of ${previousHolder} taken over`,
        emergency: deploy.emergency ?? false,
        data: { previousHolder },
      });
    },
  };
}
