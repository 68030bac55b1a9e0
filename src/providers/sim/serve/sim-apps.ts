// Fly apps as `sim serve` keeps them: a name (Fly's rules), an organisation, and the machines of the
// app counted from the fleet. The app is the unit of rate limits, as on Fly.

import type { Clock } from '../../../domain/clock.js';
import type { FlyApp } from '../../fly/fly-types.js';
import { HttpError } from './http-error.js';

export interface AppRecord {
  name: string;
  org: string;
  createdAtMs: number;
}

export class SimApps {
  private readonly records = new Map<string, AppRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly defaultOrg: string,
    /** A new (or loaded) app: its machines are to be followed from here on. */
    private readonly added: (name: string) => void,
    private readonly machineCount: (app: string) => number,
  ) {}

  create(name: string, org = this.defaultOrg): FlyApp {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new HttpError(422, `invalid app name "${name}"`);
    if (this.records.has(name)) throw new HttpError(422, 'Name has already been taken');
    this.add({ name, org, createdAtMs: this.clock.now() });
    return this.json(name);
  }

  ensure(name: string): void {
    if (!this.records.has(name)) this.create(name);
  }

  get(name: string): FlyApp {
    this.require(name);
    return this.json(name);
  }

  list(): FlyApp[] {
    return [...this.records.keys()].sort().map((name) => this.json(name));
  }

  /** 404 for an app Fly does not have. */
  require(app: string): void {
    if (!this.records.has(app)) throw new HttpError(404, `app not found: ${app}`);
  }

  toJSON(): AppRecord[] {
    return [...this.records.values()];
  }

  load(saved: AppRecord[]): void {
    for (const record of saved) this.add(record);
  }

  private add(record: AppRecord): void {
    this.records.set(record.name, record);
    this.added(record.name);
  }

  private json(name: string): FlyApp {
    const record = this.records.get(name)!;
    const count = this.machineCount(name);
    return {
      id: name,
      name,
      status: count > 0 ? 'deployed' : 'pending',
      machine_count: count,
      organization: { slug: record.org, name: record.org },
    };
  }
}
