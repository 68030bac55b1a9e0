// The end of every deploy that did not simply succeed (failed, halted, aborted, rolled back, given up
// on an outage): leave a fleet that serves. Extra machines that never took traffic are destroyed;
// serving machines left out of traffic go back in (started again when their group lacks them, and
// uncordoned once checked); out-of-traffic machines their group no longer needs (a replaced blue, a
// waves machine whose surge took its place) are destroyed; a group with more machines in traffic than
// it wants (a cutover or surge cut short) keeps one colour or is trimmed to its count. While the provider does not answer, the
// whole pass is tried again with backoff for a bounded time; what could not be put back is named.

import pLimit from 'p-limit';
import { nominalDelay, type BackoffSchedule } from '../domain/backoff.js';
import type { Clock } from '../domain/clock.js';
import type { FleetScope, Machine, ProcessGroup } from '../domain/types.js';
import { ProviderError, type Provider } from '../providers/contract.js';
import { describeError } from './errors.js';

/** Between settle passes while the provider does not answer: 0.5 s, doubling, at most 10 s. */
const SETTLE_BACKOFF: BackoffSchedule = { baseDelayMs: 500, maxDelayMs: 10_000 };

export interface SettleInput {
  provider: Provider;
  scope: FleetScope;
  groups: ProcessGroup[];
  clock: Clock;
  maxConcurrency: number;
  /** How long a started machine may take to pass checks before it is uncordoned. */
  waitTimeoutMs: number;
  /** How long to keep trying while the provider does not answer. */
  patienceMs: number;
  /**
   * The release the fleet served before the deploy. A group with more machines in traffic than it
   * wants (a bluegreen cutover or a surge cut short) keeps this colour when it can fill the group.
   */
  previous?: string | null;
  observe(): Promise<Machine[]>;
}

export interface SettleReport {
  /** Changes made (destroys, starts, uncordons). */
  tidied: number;
  /** Changes tried. */
  attempted: number;
  /** Serving machines still out of traffic (cordoned or stopped) when settling ended. */
  leftOut: string[];
  /** Why settling ended with machines left out, if the provider was the reason. */
  error?: string;
}

/** Serving machines not in traffic: cordoned, or not running. */
export function outOfTraffic(fleet: Machine[]): Machine[] {
  return fleet.filter(
    (m) =>
      m.role === 'serving' &&
      m.state !== 'destroying' &&
      m.state !== 'destroyed' &&
      (m.cordoned || m.state === 'stopped' || m.state === 'stopping' || m.state === 'created'),
  );
}

export async function settleFleet(input: SettleInput): Promise<SettleReport> {
  const deadline = input.clock.now() + input.patienceMs;
  let tidied = 0;
  let attempted = 0;
  let lastError: unknown;
  for (let pass = 0; ; pass++) {
    try {
      const result = await settlePass(input);
      tidied += result.tidied;
      attempted += result.attempted;
      // A pass where every call was answered: what is still out is out for a reason of its own
      // (failed checks), not because the provider was away.
      if (result.unanswered === undefined)
        return { tidied, attempted, leftOut: outOfTraffic(await input.observe()).map((m) => m.id) };
      lastError = result.unanswered;
    } catch (err) {
      lastError = err;
    }
    if (input.clock.now() >= deadline) break;
    await input.clock.sleep(nominalDelay(SETTLE_BACKOFF, pass + 1));
  }
  let leftOut: string[] = [];
  try {
    leftOut = outOfTraffic(await input.observe()).map((m) => m.id);
  } catch {
    leftOut = [];
  }
  return { tidied, attempted, leftOut, error: describeError(lastError) };
}

/** One look at the fleet and the changes it calls for. */
async function settlePass(input: SettleInput): Promise<{ tidied: number; attempted: number; unanswered?: unknown }> {
  const { provider, scope } = input;
  const fleet = await input.observe();
  const desired = new Map(input.groups.map((g) => [g.name, g.count]));
  const { keep, excess } = overServed(fleet, desired, input.previous ?? null);
  const inTraffic = new Map<string, number>();
  for (const m of fleet) {
    if (isInTraffic(m) && !excess.has(m.id)) inTraffic.set(m.group, (inTraffic.get(m.group) ?? 0) + 1);
  }
  const limit = pLimit(Math.max(1, input.maxConcurrency));
  const work: Promise<unknown>[] = [];
  const act = (fn: () => Promise<unknown>) => work.push(limit(fn));
  for (const m of fleet) {
    if (m.role === 'green' || m.role === 'canary' || (m.role === 'surge' && m.cordoned)) {
      act(() => provider.destroy(scope, m.id));
      continue;
    }
    if (m.role !== 'serving' || m.state === 'failed' || m.state === 'destroying') continue;
    const out = m.cordoned || m.state !== 'started';
    if (!out) continue;
    const colour = keep.get(m.group);
    if (colour !== undefined && m.release !== colour) {
      // Not of the colour its group keeps: it would serve next to the other one.
      act(() => provider.destroy(scope, m.id));
      continue;
    }
    const serving = inTraffic.get(m.group) ?? 0;
    const wanted = desired.get(m.group) ?? serving;
    if (serving >= wanted) {
      // Its group is whole without it: it was being replaced. Destroying it leaves the desired count.
      act(() => provider.destroy(scope, m.id));
      continue;
    }
    inTraffic.set(m.group, serving + 1);
    if (m.state === 'started' && m.health === 'passing') {
      act(() => provider.uncordon(scope, m.id, 'serving'));
    } else if (m.state === 'stopped' || m.state === 'started' || m.state === 'starting') {
      act(async () => {
        let machine = m;
        if (m.state === 'stopped') machine = await provider.start(scope, m.id);
        await provider.waitFor(
          scope,
          m.id,
          { state: 'started', healthy: true, release: m.release },
          input.waitTimeoutMs,
        );
        if (machine.cordoned || m.cordoned) await provider.uncordon(scope, m.id, 'serving');
      });
    }
  }
  const results: PromiseSettledResult<unknown>[] = await Promise.allSettled(work);
  // Machines in traffic beyond what their group wants leave only once the others are back: the
  // fleet's capacity never dips below the desired count while it settles.
  if (excess.size > 0 && !results.some((r) => r.status === 'rejected')) {
    for (const id of excess)
      work.push(
        limit(async () => {
          await provider.cordon(scope, id);
          await provider.destroy(scope, id);
        }),
      );
    results.push(...(await Promise.allSettled(work.slice(results.length))));
  }
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  // Only a provider that did not answer is worth another pass; a machine that fails its checks is not.
  const unanswered = failures.find((f) => f.reason instanceof ProviderError && f.reason.retryable)?.reason;
  return {
    tidied: work.length - failures.length,
    attempted: work.length,
    ...(unanswered !== undefined ? { unanswered } : {}),
  };
}

function isInTraffic(m: Machine): boolean {
  return m.role === 'serving' && !m.cordoned && m.state === 'started';
}

/**
 * Groups with more machines in traffic than they want: a bluegreen cutover cut short (greens promoted,
 * blues not yet out) or surge machines kept. Such a group keeps one colour, the release that served
 * before, when that release alone can fill it (its other machines go); otherwise it is trimmed to its
 * count, newest release first. Returns the colour kept per group and the machines in traffic to remove.
 */
function overServed(
  fleet: Machine[],
  desired: Map<string, number>,
  previous: string | null,
): { keep: Map<string, string>; excess: Set<string> } {
  const keep = new Map<string, string>();
  const excess = new Set<string>();
  const groups = new Map<string, Machine[]>();
  for (const m of fleet) {
    if (m.role !== 'serving' || m.state === 'failed' || m.state === 'destroying' || m.state === 'destroyed') continue;
    groups.set(m.group, [...(groups.get(m.group) ?? []), m]);
  }
  for (const [group, machines] of groups) {
    const wanted = desired.get(group);
    const serving = machines.filter(isInTraffic);
    if (wanted === undefined || serving.length <= wanted) continue;
    if (previous !== null && machines.filter((m) => m.release === previous).length >= wanted) {
      keep.set(group, previous);
      for (const m of serving) if (m.release !== previous) excess.add(m.id);
      continue;
    }
    const newestFirst = [...serving].sort((a, b) => Number(a.release === previous) - Number(b.release === previous));
    for (const m of newestFirst.slice(0, serving.length - wanted)) excess.add(m.id);
  }
  return { keep, excess };
}
