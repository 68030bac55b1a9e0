// Destroyed machines in `sim serve`, for Machines_list's `include_deleted=true` ("Include deleted
// machines", the spec's only word on it): listed with state `destroyed`, their name, region, metadata
// and config as they had them, never without the parameter. Fly does not say how long it lists them;
// the sim keeps the last DESTROYED_KEPT per app (the benchmarks make and destroy thousands), each as
// the listing shows it and no more: the machine as of its destroy and its extra (name, region,
// config), which the live machine had already. Its name stays taken for good (machine-names.ts)
// whether or not it is still listed: the hardest reading for a client.

import type { Machine } from '../../../domain/types.js';
import type { FlyMachine } from '../../fly/fly-types.js';
import { toFlyMachine, type MachineExtra } from './machine-json.js';

/** Destroyed machines listed per app, oldest dropped first. */
export const DESTROYED_KEPT = 10_000;

export interface DestroyedRecord {
  machine: Machine;
  extra: MachineExtra;
}

export class SimDestroyedMachines {
  /** app → id → the machine as destroyed, in order of destroy. */
  private readonly byApp = new Map<string, Map<string, DestroyedRecord>>();

  constructor(private readonly kept = DESTROYED_KEPT) {}

  add(machine: Machine, extra: MachineExtra): void {
    let app = this.byApp.get(machine.app);
    if (!app) this.byApp.set(machine.app, (app = new Map()));
    app.delete(machine.id);
    app.set(machine.id, {
      machine: { ...machine, state: 'destroyed', health: 'unknown' },
      extra: { ...extra, bornAtMs: 0 },
    });
    if (app.size > this.kept) app.delete(app.keys().next().value!);
  }

  extraOf(machine: Machine): MachineExtra | undefined {
    return this.byApp.get(machine.app)?.get(machine.id)?.extra;
  }

  /** The app's destroyed machines as the Machines API lists them. */
  list(app: string): FlyMachine[] {
    return [...(this.byApp.get(app)?.values() ?? [])].map(({ machine, extra }) => ({
      ...toFlyMachine(machine, extra),
      // A destroyed machine runs nothing: no check has a status.
      checks: [],
    }));
  }

  toJSON(): [string, DestroyedRecord][] {
    return [...this.byApp.values()].flatMap((app) => [...app]);
  }

  load(saved: [string, DestroyedRecord][] | undefined): void {
    for (const [, record] of saved ?? []) this.add(record.machine, record.extra);
  }
}
