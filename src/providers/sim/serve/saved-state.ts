// `sim serve`'s whole state as JSON (`--state FILE`): what the backend saves, and how a saved state
// is loaded back into a new backend.

import type { Clock } from '../../../domain/clock.js';
import type { Machine } from '../../../domain/types.js';
import type { SimProvider } from '../sim-provider.js';
import type { BackendStats, SimServeState } from './backend-types.js';
import type { SimDestroyedMachines } from './destroyed-machines.js';
import type { FleetMirror } from './fleet-mirror.js';
import type { MachineExtra } from './machine-json.js';
import type { SimMachineNames } from './machine-names.js';
import type { SimApps } from './sim-apps.js';
import type { SimLeases } from './sim-leases.js';
import type { SimVolumes } from './volumes.js';

/** The parts of the backend that are saved. */
export interface StateParts {
  clock: Clock;
  sim: SimProvider;
  apps: SimApps;
  extras: Map<string, MachineExtra>;
  mirror: FleetMirror;
  names: SimMachineNames;
  leases: SimLeases;
  volumes: SimVolumes;
  destroyed: SimDestroyedMachines;
  stats: BackendStats;
}

export function saveState(p: StateParts): SimServeState {
  const sim = p.sim.toJSON();
  const alive = new Set(sim.fleet.machines.map((m) => m.id));
  return {
    format: 'runway-sim-serve/1',
    savedAtMs: p.clock.now(),
    sim,
    apps: p.apps.toJSON(),
    machines: [...p.extras].filter(([id]) => alive.has(id)),
    leases: p.leases.toJSON(alive),
    updates: p.stats.updates,
    creates: p.stats.creates,
    volumes: p.volumes.toJSON(),
    names: p.names.toJSON(),
    destroyed: p.destroyed.toJSON(),
  };
}

/** Into a new backend (its sim already loaded from `saved.sim`). `bury`: a machine found gone. */
export function loadState(p: StateParts, saved: SimServeState, bury: (machine: Machine) => void): void {
  p.apps.load(saved.apps);
  p.mirror.load(saved.sim);
  for (const [id, extra] of saved.machines) p.extras.set(id, { ...extra, bornAtMs: 0 });
  p.names.load(
    saved.names,
    saved.machines.flatMap(([id, extra]) => {
      const app = p.mirror.get(id)?.app;
      return app === undefined ? [] : [{ id, app, name: extra.name }];
    }),
    saved.sim.fleet.machines.map((m) => m.launchId),
  );
  p.leases.load(saved.leases);
  p.stats.updates = [...(saved.updates ?? [])];
  p.stats.creates = [...(saved.creates ?? [])];
  p.volumes.load(saved.volumes);
  p.destroyed.load(saved.destroyed);
  // Saved while being destroyed (or a release command that had run): the loaded sim settled them gone,
  // with no event to say so. Listed as destroyed, as they would have been had the server run on.
  for (const m of saved.sim.fleet.machines) {
    if (!p.extras.has(m.id) || p.mirror.get(m.id)) continue;
    const { target: _t, machineEnv: _e, command: _c, revertedFrom: _r, revertedRelease: _rr, ...machine } = m;
    bury(machine);
  }
}
