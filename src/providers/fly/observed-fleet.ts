// What the fly provider has seen of an app's machines: the last answer per machine, the machine a
// launch id made, the image each release ran with, each group's template for new machines, and the
// creates still inside Fly's eventual consistency (a just-created machine may 404 for a moment).
// Fly pushes no events, so subscribers hear the changes runway observes in its own answers.

import { GIVE_UP, nominalDelay, retrying, type BackoffSchedule } from '../../domain/backoff.js';
import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine } from '../../domain/types.js';
import { ProviderError, type MachineEvent } from '../contract.js';
import type { FlyMachine } from './fly-types.js';
import { configOf, toMachine } from './machine-mapping.js';

/** How a 404 on a just-created machine is retried within the consistency grace. */
const FRESH_404_BACKOFF: BackoffSchedule = { baseDelayMs: 100, maxDelayMs: 1_000 };

export interface Cached {
  fly: FlyMachine;
  machine: Machine;
}

export class ObservedFleet {
  /** Last answer seen per machine, by `app/id`. */
  private readonly cache = new Map<string, Cached>();
  /** Machine id by `app/launchId`. */
  private readonly launches = new Map<string, string>();
  /**
   * `app/launchId` → the name of the launch's latest machine seen, gone or not: where the launch's
   * next create starts counting its incarnations (machine-create.ts).
   */
  private readonly lastNames = new Map<string, string>();
  /** When runway created a machine (`app/id` → client ms), for eventual consistency. */
  private readonly born = new Map<string, number>();
  /** The last seen serving machine per `app/group`: the template of new machines that stand in for none. */
  private readonly templates = new Map<string, FlyMachine>();
  /** Image per `app/release`, from machines seen running it: the image of a release nobody named. */
  private readonly images = new Map<string, string>();
  private readonly listeners = new Map<string, Set<(event: MachineEvent) => void>>();

  constructor(
    private readonly clock: Clock,
    private readonly appFor: (scope: FleetScope) => string,
    private readonly consistencyGraceMs: number,
    /** Called for each 404 absorbed as eventual consistency. */
    private readonly onAbsorbed: () => void,
  ) {}

  cached(app: string, id: string): Cached | undefined {
    return this.cache.get(`${app}/${id}`);
  }

  /** Every machine of `app` as last seen. */
  machinesOf(app: string): Cached[] {
    return [...this.cache].filter(([k]) => k.startsWith(`${app}/`)).map(([, c]) => c);
  }

  launched(app: string, launchId: string): string | undefined {
    return this.launches.get(`${app}/${launchId}`);
  }

  forgetLaunch(app: string, launchId: string): void {
    this.launches.delete(`${app}/${launchId}`);
  }

  rememberLaunch(app: string, launchId: string, id: string, name: string | undefined): void {
    this.launches.set(`${app}/${launchId}`, id);
    if (name) this.lastNames.set(`${app}/${launchId}`, name);
  }

  /** The name of the latest machine of the launch seen, even if it is gone now. */
  lastNameOf(app: string, launchId: string): string | undefined {
    return this.lastNames.get(`${app}/${launchId}`);
  }

  imageOf(app: string, release: string): string | undefined {
    return this.images.get(`${app}/${release}`);
  }

  /** The template of a new machine of `group`; any of the app's (a release command) when group is undefined. */
  templateOf(app: string, group: string | undefined): FlyMachine | undefined {
    if (group !== undefined) return this.templates.get(`${app}/${group}`);
    return [...this.templates].find(([k]) => k.startsWith(`${app}/`))?.[1];
  }

  /** Runway created this machine just now: a 404 on it is Fly catching up, for a while. */
  created(app: string, id: string): void {
    this.born.set(`${app}/${id}`, this.clock.now());
  }

  fresh(app: string, id: string): boolean {
    const at = this.born.get(`${app}/${id}`);
    if (at === undefined) return false;
    if (this.clock.now() - at <= this.consistencyGraceMs) return true;
    this.born.delete(`${app}/${id}`);
    return false;
  }

  /**
   * Retry a 404 on a machine runway created moments ago: Fly has not caught up with its own create yet.
   * Backs off from 100 ms to 1 s without jitter (the grace is short, and only runway's own creates wait).
   */
  absorbFresh<T>(app: string, id: string, signal: AbortSignal | undefined, send: () => Promise<T>): Promise<T> {
    return retrying(
      this.clock,
      () => send(),
      (error, attempt) => {
        const bornAt = this.born.get(`${app}/${id}`);
        if (!(error instanceof ProviderError && error.kind === 'not_found') || bornAt === undefined) return GIVE_UP;
        const left = bornAt + this.consistencyGraceMs - this.clock.now();
        if (left <= 0) return GIVE_UP;
        this.onAbsorbed();
        return Math.min(nominalDelay(FRESH_404_BACKOFF, attempt), left);
      },
      signal,
    );
  }

  /** Remember an answer, tell subscribers what changed, return the machine as runway sees it. */
  observe(scope: FleetScope, fm: FlyMachine): Machine {
    const app = this.appFor(scope);
    const k = `${app}/${fm.id}`;
    const machine = toMachine(fm, scope);
    const before = this.cache.get(k)?.machine;
    this.cache.set(k, { fly: fm, machine });
    if (machine.launchId) this.rememberLaunch(app, machine.launchId, fm.id, fm.name);
    const config = configOf(fm);
    if (config?.image) this.images.set(`${app}/${machine.release}`, config.image);
    if (config && machine.role === 'serving') this.templates.set(`${app}/${machine.group}`, fm);
    this.emit(scope, before, machine);
    return { ...machine };
  }

  /** The machine is gone: forget it and say so. Returns its last known shape, destroyed. */
  gone(scope: FleetScope, id: string): Machine {
    const app = this.appFor(scope);
    const k = `${app}/${id}`;
    const before = this.cache.get(k)?.machine;
    this.cache.delete(k);
    if (before?.launchId) this.launches.delete(`${app}/${before.launchId}`);
    const machine: Machine = before
      ? { ...before, state: 'destroyed', health: 'unknown', updatedAtMs: this.clock.now() }
      : {
          id,
          app: scope.app,
          env: scope.env,
          group: '',
          release: '',
          instanceVersion: '',
          role: 'serving',
          state: 'destroyed',
          health: 'unknown',
          cordoned: false,
          createdAtMs: 0,
          updatedAtMs: this.clock.now(),
        };
    if (before) this.emit(scope, before, machine);
    return { ...machine };
  }

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    const k = scopeKey(scope);
    let set = this.listeners.get(k);
    if (!set) this.listeners.set(k, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(k);
    };
  }

  private emit(scope: FleetScope, before: Machine | undefined, after: Machine): void {
    const listeners = this.listeners.get(scopeKey(scope));
    if (!listeners || listeners.size === 0) return;
    const types: MachineEvent['type'][] = [];
    if (!before) types.push(after.state === 'destroyed' ? 'destroyed' : 'created');
    else if (after.state === 'destroyed' && before.state !== 'destroyed') types.push('destroyed');
    else {
      if (after.instanceVersion !== before.instanceVersion || after.release !== before.release) types.push('updated');
      if (after.state !== before.state) types.push('state');
      if (after.health !== before.health) types.push('health');
      if (after.cordoned !== before.cordoned) types.push('cordon');
    }
    const atMs = this.clock.now();
    for (const type of types) {
      for (const listener of [...listeners]) {
        try {
          listener({ type, machine: { ...after }, atMs });
        } catch {
          // A listener must not break the provider.
        }
      }
    }
  }
}

function scopeKey(scope: FleetScope): string {
  return `${scope.app}\u0000${scope.env}`;
}
