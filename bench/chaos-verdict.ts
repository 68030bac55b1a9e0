// What a chaos trial (bench/chaos.ts) is judged on once its deploy has ended: the fleet converged
// (target, started, checks passing, in traffic; nothing extra), no machine updated or created twice
// (counted by the sim server, across its restarts), and a record and journal that tell the truth.

import type { Store } from '../src/store/contract.js';
import { fleetApi, type FlyMachineLite } from './chaos-processes.js';

export interface Counts {
  doubleUpdates: number;
  doubleCreates: number;
  extras: number;
  leftOut: number;
  offTarget: number;
}

/** Fills `counts` and adds to `problems` what is wrong with the trial's end. */
export async function judge(trial: {
  url: string;
  flyApp: string;
  n: number;
  deployId: string;
  store: Store;
  counts: Counts;
  problems: string[];
}): Promise<void> {
  const { url, flyApp, n: N, deployId, store, counts, problems } = trial;
  // The fleet converged: target, started, checks passing, in traffic; nothing extra.
  const machines = await fleetApi<FlyMachineLite[]>(url, `/v1/apps/${flyApp}/machines`);
  const live = machines.filter((m) => m.state !== 'destroyed' && m.state !== 'destroying');
  const serving = live.filter((m) => (m.config?.metadata?.runway_role ?? 'serving') === 'serving');
  counts.extras = live.length - N;
  counts.leftOut = serving.filter((m) => m.cordoned || m.state === 'stopped').length;
  counts.offTarget = serving.filter(
    (m) =>
      !(
        m.config?.metadata?.runway_release === 'v2' &&
        m.state === 'started' &&
        !m.cordoned &&
        (m.checks ?? []).every((c) => c.status === 'passing')
      ),
  ).length;
  if (serving.length !== N) problems.push(`${serving.length} serving machines, expected ${N}`);
  if (counts.offTarget)
    problems.push(`${counts.offTarget}/${N} serving machines not converged (v2, started, passing, in traffic)`);
  if (counts.extras > 0) problems.push(`${counts.extras} extra machines left`);
  if (counts.leftOut) {
    const named = serving
      .filter((m) => m.cordoned || m.state === 'stopped')
      .slice(0, 5)
      .map((m) => `${m.id} ${m.state}${m.cordoned ? ' cordoned' : ''} ${m.config?.metadata?.runway_release ?? '?'}`);
    problems.push(`${counts.leftOut} machines left cordoned or stopped (${named.join(', ')})`);
  }

  // No machine updated or created twice (counted by the server, across its restarts).
  const stats = await fleetApi<{
    server: {
      updates: { machineId: string; deployId: string | null }[];
      creates: { machineId: string; launchId: string | null; duplicateOf?: string | null }[];
    };
  }>(url, '/_sim/stats');
  const perMachine = new Map<string, number>();
  for (const u of stats.server.updates)
    if (u.deployId === deployId) perMachine.set(u.machineId, (perMachine.get(u.machineId) ?? 0) + 1);
  counts.doubleUpdates = [...perMachine.values()].filter((n) => n > 1).length;
  // A launch made twice: a machine made while another of its launch was not destroyed (the server
  // judges it when it applies the create). A launch made again after its machine was destroyed is a
  // new machine runway meant, not counted; two creates answered with one machine are a sim fault.
  const doubled = new Set<string>();
  const byMachine = new Map<string, number>();
  for (const c of stats.server.creates) {
    if (c.launchId && c.duplicateOf) doubled.add(c.launchId);
    byMachine.set(c.machineId, (byMachine.get(c.machineId) ?? 0) + 1);
  }
  counts.doubleCreates = doubled.size;
  const relabelled = [...byMachine.values()].filter((n) => n > 1).length;
  if (counts.doubleUpdates) problems.push(`${counts.doubleUpdates} machines updated more than once by the deploy`);
  if (counts.doubleCreates) problems.push(`${counts.doubleCreates} launches created more than one machine`);
  if (relabelled) problems.push(`${relabelled} machines answered to more than one create (sim serve fault)`);

  // The record and the journal tell the true story.
  const record = await store.getDeploy(deployId);
  const journal = await store.listJournal(deployId);
  if (record?.status !== 'succeeded')
    problems.push(`deploy record says ${record?.status}: ${record?.error ?? ''}`.slice(0, 400));
  if (journal.at(-1)?.kind !== 'status' || journal.at(-1)?.message !== 'succeeded')
    problems.push(`journal ends with ${journal.at(-1)?.kind} ${journal.at(-1)?.message}`);
  if (journal.some((e) => e.kind === 'rollback')) problems.push('the deploy rolled back');
}
