// Every machine of `sim serve`'s apps as of its last event. The SimProvider's own reads cost API calls
// (latency, rate limits); the server's bookkeeping (whose version, which launch, is it gone) must
// not, so it reads this mirror, kept up to date from the sim's events.

import type { FleetScope, Machine } from '../../../domain/types.js';
import type { SimProvider, SimState } from '../sim-provider.js';

export class FleetMirror {
  private readonly machines = new Map<string, Machine>();
  private readonly unsubscribers: (() => void)[] = [];

  constructor(
    private readonly sim: SimProvider,
    /** A machine was destroyed (its volumes are free again; include_deleted lists it): as of its destroy. */
    private readonly destroyed: (machine: Machine) => void,
    private readonly changed: () => void,
  ) {}

  /** Mirror the machines of `scope` from now on. */
  follow(scope: FleetScope): void {
    this.unsubscribers.push(
      this.sim.subscribe(scope, (event) => {
        if (event.type === 'destroyed') {
          this.machines.delete(event.machine.id);
          this.destroyed(event.machine);
        } else this.machines.set(event.machine.id, event.machine);
        this.changed();
      }),
    );
  }

  get(id: string): Machine | undefined {
    return this.machines.get(id);
  }

  set(machine: Machine): void {
    this.machines.set(machine.id, machine);
  }

  /** The machine a launch made in `app`, if it was made. */
  launched(app: string, launchId: string): Machine | undefined {
    return [...this.machines.values()].find((m) => m.launchId === launchId && m.app === app);
  }

  countOf(app: string): number {
    return [...this.machines.values()].filter((m) => m.app === app).length;
  }

  /** The machines of a saved state, then as the loaded sim has them now (it settled those mid-transition). */
  load(saved: SimState): void {
    for (const m of saved.fleet.machines) {
      if (m.state === 'destroyed' || m.target === 'destroyed') continue;
      const { target: _t, machineEnv: _e, command: _c, revertedFrom: _r, revertedRelease: _rr, ...machine } = m;
      this.machines.set(machine.id, machine);
    }
    for (const m of this.sim.toJSON().fleet.machines) {
      const { target: _t, machineEnv: _e, command: _c, revertedFrom: _r, revertedRelease: _rr, ...machine } = m;
      this.machines.set(machine.id, machine);
    }
  }

  close(): void {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
  }
}
