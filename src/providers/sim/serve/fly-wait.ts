// GET …/wait as Fly answers it: 200 once the machine is in `state` (on instance `version` when
// given); 408 after `timeoutSeconds` (1..60); 404 if it is or becomes gone (unless waiting for
// destroyed). Like Fly, a machine that exits does not end a wait for `started`: it runs to its
// timeout (flyctl#2653), waited out quietly on the mirror of the fleet, at no API cost.

import type { Clock } from '../../../domain/clock.js';
import type { FleetScope, Machine } from '../../../domain/types.js';
import { ProviderError } from '../../contract.js';
import type { SimProvider } from '../sim-provider.js';
import { HttpError } from './http-error.js';

const WAIT_STATES = new Set(['started', 'stopped', 'destroyed', 'suspended']);

export interface FlyWait {
  sim: SimProvider;
  clock: Clock;
  scope: FleetScope;
  id: string;
  state: string;
  version: string | undefined;
  timeoutSeconds: number;
  /** The machine as of its last event (free to read). */
  mirrored: (id: string) => Machine | undefined;
  signal?: AbortSignal;
}

/** The 400s of a wait Fly does not take. */
export function checkWaitRequest(state: string, timeoutSeconds: number): void {
  if (!WAIT_STATES.has(state))
    throw new HttpError(400, `invalid state "${state}": expected started, stopped, suspended or destroyed`);
  if (!(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 1 && timeoutSeconds <= 60)) {
    throw new HttpError(400, `invalid timeout ${timeoutSeconds}: expected whole seconds between 1 and 60`);
  }
}

export async function waitLikeFly(w: FlyWait): Promise<{ ok: true }> {
  const { sim, clock, scope, id, state, version, signal } = w;
  const target = (state === 'suspended' ? 'stopped' : state) as 'started' | 'stopped' | 'destroyed';
  const timeoutMs = w.timeoutSeconds * 1000;
  const startMs = clock.now();
  try {
    await sim.waitFor(
      scope,
      id,
      version === undefined ? { state: target } : { state: target, instanceVersion: version },
      timeoutMs,
      signal,
    );
    return { ok: true };
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    if (error.kind === 'wait_timeout') throw timedOut(id, state);
    if (error.kind === 'not_found') throw new HttpError(404, `machine ${id} not found`);
    if (error.kind !== 'machine_failed') throw error;
  }
  // The machine exited (or reverted): Fly keeps waiting, and so do we, quietly, until the timeout.
  const left = startMs + timeoutMs - clock.now();
  const outcome = await waitQuietly(w, target, left);
  if (outcome === 'ok') return { ok: true };
  if (outcome === 'gone') throw new HttpError(404, `machine ${id} not found`);
  throw timedOut(id, state);
}

function timedOut(id: string, state: string): HttpError {
  return new HttpError(408, `deadline_exceeded: machine ${id} did not reach state ${state} in time`);
}

/** Wait on the mirror (no API cost): 'ok' when the machine is in `state` on `version`, 'gone', or 'timeout'. */
function waitQuietly(
  w: FlyWait,
  state: 'started' | 'stopped' | 'destroyed',
  timeoutMs: number,
): Promise<'ok' | 'gone' | 'timeout'> {
  const { id, version, signal } = w;
  return new Promise((resolve, reject) => {
    const timer = new AbortController();
    let done = false;
    const finish = (outcome: 'ok' | 'gone' | 'timeout' | Error) => {
      if (done) return;
      done = true;
      unsubscribe();
      timer.abort();
      signal?.removeEventListener('abort', onAbort);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const judge = (m: Machine | undefined, destroyed: boolean) => {
      if (destroyed || !m) return finish(state === 'destroyed' ? 'ok' : 'gone');
      if (m.state === state && (version === undefined || m.instanceVersion === version)) finish('ok');
    };
    const unsubscribe = w.sim.subscribe(w.scope, (event) => {
      if (event.machine.id === id) judge(event.machine, event.type === 'destroyed');
    });
    const onAbort = () => finish(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    judge(w.mirrored(id), false);
    w.clock.sleep(Math.max(0, timeoutMs), timer.signal).then(
      () => finish('timeout'),
      () => {},
    );
  });
}
