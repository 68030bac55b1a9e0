// What-if variants for bench/experiments.ts — NOT runway's behaviour, and not used by the benchmark's
// own figures. Each one stands for an engine change the benchmark's numbers point at, so its effect can
// be measured before anyone makes it.

import type { DeployHead, DeployPatch, DeployRecord, Store } from '../src/store/contract.js';

/**
 * "Lean store use": the executor's once-a-second abort poll (`getDeploy`, which reads and JSON-parses the
 * whole deploy row, stored plan included) is answered from the last record read, as a narrow query of
 * the abort columns would be (the benchmark never requests an abort, so the answer is the same); a
 * heartbeat-only `updateDeploy` is not written back and answers that record instead of the row it
 * would return (as an UPDATE of one column without RETURNING would cost next to nothing).
 * Everything else goes to the store unchanged.
 */
export function leanStore(store: Store): Store {
  let last: DeployRecord | undefined;
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'getDeploy') {
        return async (id: string): Promise<DeployRecord | undefined> => {
          if (last?.id === id) return last;
          last = await target.getDeploy(id);
          return last;
        };
      }
      if (key === 'updateDeploy') {
        return async (id: string, patch: DeployPatch): Promise<DeployHead> => {
          const keys = Object.keys(patch);
          if (last?.id === id && keys.length === 1 && keys[0] === 'heartbeatAtMs') return last;
          // updateDeploy answers the head only: the next getDeploy reads the record again.
          last = undefined;
          return target.updateDeploy(id, patch);
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
