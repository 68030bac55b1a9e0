// Machine names in `sim serve`, and the counter behind its own launch ids. Fly's spec says only
// "Unique name for this Machine. If omitted, one is generated for you" (CreateMachineRequest.name): it
// names no status for a name in use, no scope (the app, as machines are listed per app, is assumed),
// and does not say whether a destroyed machine's name is free again (Machines_list has
// include_deleted: Fly keeps destroyed machines; so does the sim, destroyed-machines.ts). The sim
// takes the reading that is hardest on a client: a name once used in an app stays taken for good
// (destroyed machines included, across restarts from --state), and a create naming it is refused with
// 409 before it makes anything, judged when the create is applied, so a late copy of a create is
// refused as well. A create that made nothing frees its name.

import { HttpError } from './http-error.js';

/** A name claim of a create still being applied: not a machine id. */
const PENDING = 'pending:';

export class SimMachineNames {
  /** `app/name` → the machine that has it, or the claim of a create under way. */
  private readonly taken = new Map<string, string>();
  /** Claims and `sim-serve:N` launch ids, numbered on from the saved state so none is handed out twice. */
  private serial = 0;

  /** Claim `name` in `app` for a create about to be applied; 409 when it is taken. Returns the claim. */
  claim(app: string, name: string | undefined): string {
    const claim = `${PENDING}${this.next()}`;
    if (name === undefined) return claim;
    const key = `${app}/${name}`;
    if (this.taken.has(key))
      throw new HttpError(409, `already_exists: a machine named ${name} already exists in app ${app}`);
    this.taken.set(key, claim);
    return claim;
  }

  /** The create made its machine: the name is the machine's for good. */
  settle(app: string, name: string, machineId: string): void {
    this.taken.set(`${app}/${name}`, machineId);
  }

  /** The create made nothing: its claim, if it still holds the name, lets go. */
  release(app: string, name: string | undefined, claim: string): void {
    if (name !== undefined && this.taken.get(`${app}/${name}`) === claim) this.taken.delete(`${app}/${name}`);
  }

  /**
   * A fresh launch id for the sim's own fleet (its create is idempotent by launch id). Never one the
   * saved fleet has: numbered from 1 again after a restart, the sim would answer a new create with an
   * old machine and relabel it as the new launch's.
   */
  launchId(): string {
    return `sim-serve:${this.next()}`;
  }

  toJSON(): { names: [string, string][]; serial: number } {
    return { names: [...this.taken].filter(([, id]) => !id.startsWith(PENDING)), serial: this.serial };
  }

  /**
   * From a saved state: its names and serial, or for files saved before names were kept, the names of
   * the machines it has and a serial past every `sim-serve:N` launch id of its fleet.
   */
  load(
    saved: { names?: [string, string][]; serial?: number } | undefined,
    machines: { id: string; app: string; name: string }[],
    launchIds: (string | undefined)[],
  ): void {
    for (const m of machines) this.taken.set(`${m.app}/${m.name}`, m.id);
    for (const [key, id] of saved?.names ?? []) this.taken.set(key, id);
    let serial = saved?.serial ?? 0;
    for (const launchId of launchIds) {
      const n = Number(/^sim-serve:(\d+)$/.exec(launchId ?? '')?.[1] ?? 0);
      if (n > serial) serial = n;
    }
    this.serial = serial;
  }

  private next(): number {
    return ++this.serial;
  }
}
