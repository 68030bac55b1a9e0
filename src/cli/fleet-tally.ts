// Live counts of a fleet by release and state, kept from provider events; what progress lines and
// `runway status` show.

import type { Machine } from '../domain/types.js';

export interface FleetCounts {
  total: number;
  /** Serving machines by release version. */
  byRelease: Record<string, number>;
  /** Extra machines (green, canary, surge not yet serving). */
  extra: number;
  starting: number;
  unhealthy: number;
  failed: number;
  stopped: number;
  cordoned: number;
}

export class FleetTally {
  private readonly machines = new Map<string, Machine>();

  constructor(initial: Machine[] = []) {
    for (const m of initial) this.machines.set(m.id, m);
  }

  apply(machine: Machine): void {
    if (machine.state === 'destroyed') this.machines.delete(machine.id);
    else this.machines.set(machine.id, machine);
  }

  counts(): FleetCounts {
    return countFleet([...this.machines.values()]);
  }
}

export function countFleet(machines: Machine[]): FleetCounts {
  const counts: FleetCounts = {
    total: 0,
    byRelease: {},
    extra: 0,
    starting: 0,
    unhealthy: 0,
    failed: 0,
    stopped: 0,
    cordoned: 0,
  };
  for (const m of machines) {
    if (m.state === 'destroyed' || m.role === 'release-command') continue;
    counts.total++;
    if (m.role === 'serving') counts.byRelease[m.release] = (counts.byRelease[m.release] ?? 0) + 1;
    else counts.extra++;
    if (m.state === 'created' || m.state === 'starting' || m.state === 'stopping') counts.starting++;
    else if (m.state === 'failed') counts.failed++;
    else if (m.state === 'stopped') counts.stopped++;
    else if (m.state === 'started' && m.health === 'critical') counts.unhealthy++;
    if (m.cordoned) counts.cordoned++;
  }
  return counts;
}

/** `400 on v2 · 100 on v1` — most common release first. */
export function formatSpread(byRelease: Record<string, number>): string {
  const entries = Object.entries(byRelease).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? 'no serving machines' : entries.map(([release, n]) => `${n} on ${release}`).join(' · ');
}
