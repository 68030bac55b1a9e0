// Creating a Fly machine, idempotently. Fly has no idempotency key, but machine names are unique:
// every attempt of a create carries the same name (machine-name.ts; a new one per machine, never
// reused), and runway's launch id goes into the machine's metadata (runway_launch). A create whose
// earlier attempt ended ambiguously (timeout, 5xx, connection lost) first lists the app's machines
// for that launch id, so a create that succeeded silently is returned, not repeated; one the API
// applies later, past any wait, is refused for its name, and a create refused for its name adopts
// the launch's machine. Where the machine goes and what config it gets (a stand-in's copy, a group's
// template, volumes forked or not) is decided by stand-in.ts and machine-config.ts.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine } from '../../domain/types.js';
import { ProviderError, type CallOptions, type MachineSpec } from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import { appPath } from './api-paths.js';
import { withSecrets, type AppSecretsResult } from './app-secrets.js';
import type { FlyLaunchRequest, FlyMachine } from './fly-types.js';
import type { LeaseKeeper } from './leases.js';
import { createConfig, defaultImage } from './machine-config.js';
import { configOf, META } from './machine-mapping.js';
import { machineNameOf, nameTaken } from './machine-name.js';
import type { ObservedFleet } from './observed-fleet.js';
import { placeMachine } from './stand-in.js';
import type { VolumeForks } from './volumes.js';

const AMBIGUOUS = new Set(['timeout', 'unavailable']);
/** How many request timeouts a create refused for its name waits for the launch's machine to be listed. */
const PATIENCE_TIMEOUTS = 10;

/** What a create uses of the provider. */
export interface CreateDeps {
  client: FlyApiClient;
  clock: Clock;
  leases: LeaseKeeper;
  fleet: ObservedFleet;
  forks: VolumeForks;
  appFor: (scope: FleetScope) => string;
  region: string | undefined;
  consistencyGraceMs: number;
  get: (scope: FleetScope, id: string, options?: CallOptions) => Promise<Machine>;
  /** The machine a new one stands in for, as last seen; undefined when it is gone. */
  standingFor: (scope: FleetScope, id: string, signal?: AbortSignal) => Promise<FlyMachine | undefined>;
  /** The app's staged secrets, set on Fly (app-secrets.ts); what a create must carry. */
  secretsFor: (app: string, signal?: AbortSignal) => Promise<AppSecretsResult>;
  /** Counted when a create is answered with a machine an earlier, ambiguous attempt had made. */
  onRecovered: () => void;
}

export class MachineLauncher {
  /** `app/launchId` of creates whose last attempt may or may not have happened: looked for before a resend. */
  private readonly uncertain = new Set<string>();
  /**
   * `app/launchId` → the machine name of the launch's create until it is answered with its machine:
   * every attempt carries it, so a copy applied late is refused (machine-name.ts).
   */
  private readonly names = new Map<string, string>();
  /** Makes this process's names its own: another runway process never sends one of them. */
  private readonly salt = randomBytes(4).toString('hex');
  private incarnations = 0;

  constructor(private readonly deps: CreateDeps) {}

  async create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    const { deps } = this;
    const app = deps.appFor(scope);
    const launchKey = `${app}/${spec.launchId}`;
    const known = deps.fleet.launched(app, spec.launchId);
    if (known !== undefined) {
      // Destroyed since (Fly may still show a destroyed machine): the launch id may be used again.
      const seen = await deps.get(scope, known, options).catch((error: unknown) => {
        if (error instanceof ProviderError && error.kind === 'not_found') return undefined;
        throw error;
      });
      if (seen && seen.state !== 'destroyed' && seen.state !== 'destroying') return this.settled(launchKey, seen);
      deps.fleet.forgetLaunch(app, spec.launchId);
    }
    if (this.uncertain.has(launchKey)) {
      // The lost attempt may have made its machine, not listed at once: look for one consistency grace,
      // no longer. It may also still be on its way (a slow API applies a create long after the client
      // gave up, past any fixed wait), but it carries the launch's name, so whichever of it and the
      // re-sent copy comes second is refused, and the re-sent one then adopts the machine (taken()).
      const settledAt = deps.clock.now() + deps.consistencyGraceMs;
      let made = await this.findLaunch(scope, spec.launchId, options?.signal);
      while (!made && deps.clock.now() < settledAt) {
        await deps.clock.sleep(Math.min(deps.consistencyGraceMs, settledAt - deps.clock.now()), options?.signal);
        made = await this.findLaunch(scope, spec.launchId, options?.signal);
      }
      if (made) {
        deps.onRecovered();
        return this.settled(launchKey, made);
      }
    }
    // A machine of this launch was seen and is gone (destroyed, a leftover): what follows is a new
    // machine, under a new name; the old name may stay taken.
    if (deps.fleet.sighted(app, spec.launchId)) this.names.delete(launchKey);
    let name = this.names.get(launchKey);
    if (name === undefined) {
      name = machineNameOf(spec.launchId, `${this.salt}.${++this.incarnations}`);
      this.names.set(launchKey, name);
      deps.fleet.unsight(app, spec.launchId);
    }
    const image = spec.image ?? deps.fleet.imageOf(app, spec.release) ?? defaultImage(app, spec.release);
    const template = deps.fleet.templateOf(app, spec.role === 'release-command' ? undefined : spec.group);
    const placement = await placeMachine({
      app,
      launchKey,
      spec,
      source: spec.standsFor === undefined ? undefined : await deps.standingFor(scope, spec.standsFor, options?.signal),
      template,
      defaultRegion: deps.region,
      forks: deps.forks,
      signal: options?.signal,
    });
    const body: FlyLaunchRequest = withSecrets(
      { name, config: createConfig(scope, spec, image, placement.from) },
      await deps.secretsFor(app, options?.signal),
    );
    if (placement.mounts) body.config.mounts = placement.mounts;
    if (placement.region) body.region = placement.region;
    // Created cordoned: no traffic until an uncordon (bluegreen greens, canaries, waves' surge).
    if (spec.cordoned || spec.role === 'release-command') body.skip_service_registration = true;
    // The create hands over a lease with the machine: one request fewer before its first change. A
    // release command destroys itself; nothing to lease.
    if (spec.role !== 'release-command') body.lease_ttl = deps.leases.ttlSeconds;
    // Refused for its name, the create is sent again (the same name: always safe) until the machine
    // of the launch is found. Waiting is safe and a slow API's tail is long, so the bound is generous:
    // ten request timeouts (5 minutes by default), then a conflict (the step fails; nothing doubled).
    const giveUpAt = deps.clock.now() + PATIENCE_TIMEOUTS * deps.client.timeoutMs;
    let fm: FlyMachine | undefined;
    while (fm === undefined) {
      try {
        ({ body: fm } = await deps.client.send<FlyMachine>({
          method: 'POST',
          path: appPath(app),
          body,
          signal: options?.signal,
          op: 'create',
          what: `create a ${spec.group} machine on ${spec.release} in ${app}`,
          label: 'create',
        }));
      } catch (error) {
        if (error instanceof ProviderError && AMBIGUOUS.has(error.kind)) this.uncertain.add(launchKey);
        if (!(error instanceof ProviderError && nameTaken(error.details.status, error.message))) throw error;
        const made = await this.taken(scope, spec.launchId, name, error, options?.signal);
        if (made) return made;
        if (deps.clock.now() >= giveUpAt)
          throw new ProviderError(
            'conflict',
            `${error.message}: the name ${name} of launch ${spec.launchId} stayed taken, and no machine of the launch was listed, for ${Math.round((PATIENCE_TIMEOUTS * deps.client.timeoutMs) / 1000)} s`,
            error.details,
          );
      }
    }
    deps.fleet.created(app, fm.id);
    if (fm.nonce) deps.leases.adopt(app, fm.id, fm.nonce);
    return this.settled(launchKey, deps.fleet.observe(scope, fm));
  }

  /** The launch has its machine: nothing of its create is left in doubt. */
  private settled(launchKey: string, machine: Machine): Machine {
    this.uncertain.delete(launchKey);
    this.names.delete(launchKey);
    this.deps.forks.settled(launchKey);
    return machine;
  }

  /**
   * A create refused for its name. The name is this launch's alone, so an earlier attempt of it holds
   * it: that attempt's machine is adopted, lease included, if listed. Undefined when it is not, after
   * one consistency grace: that attempt is still being applied (Fly answers a create once it is done),
   * or it failed and the name is free again; the caller sends the create again. Retrying through the
   * ResilientProvider instead would read the refusal as an outage and hold back every other call.
   */
  private async taken(
    scope: FleetScope,
    launchId: string,
    name: string,
    refusal: ProviderError,
    signal?: AbortSignal,
  ): Promise<Machine | undefined> {
    const { deps } = this;
    const app = deps.appFor(scope);
    const machines = await this.listApp(app, launchId, signal);
    const made = await this.findLaunch(scope, launchId, signal, machines);
    if (made) {
      deps.onRecovered();
      return this.settled(`${app}/${launchId}`, made);
    }
    const holder = machines.find((fm) => fm.name === name && fm.state !== 'destroyed');
    if (holder)
      throw new ProviderError(
        'conflict',
        `${refusal.message}: machine ${holder.id} holds the name ${name} of launch ${launchId} but is not of that launch`,
        { ...refusal.details, machineId: holder.id },
      );
    await deps.clock.sleep(deps.consistencyGraceMs, signal);
    return undefined;
  }

  private async listApp(app: string, launchId: string, signal?: AbortSignal): Promise<FlyMachine[]> {
    const { body } = await this.deps.client.send<FlyMachine[]>({
      method: 'GET',
      // The whole list: the published spec has no metadata filter on Machines_list.
      path: appPath(app),
      signal,
      op: 'create',
      what: `look for machines of launch ${launchId} in ${app}`,
      label: 'list',
    });
    return Array.isArray(body) ? body : [];
  }

  /** Machines of the app carrying `launchId` (runway_launch), newest answer from the API unless given. */
  private async findLaunch(
    scope: FleetScope,
    launchId: string,
    signal?: AbortSignal,
    listed?: FlyMachine[],
  ): Promise<Machine | undefined> {
    const app = this.deps.appFor(scope);
    const found = (listed ?? (await this.listApp(app, launchId, signal))).find(
      (fm) => fm.state !== 'destroyed' && configOf(fm)?.metadata?.[META.launch] === launchId,
    );
    if (!found) return undefined;
    // The lost answer carried the lease the create handed out: take it up rather than wait it out.
    await this.deps.leases.adoptLost(app, found.id, Date.parse(found.created_at ?? ''), signal);
    const machine = this.deps.fleet.observe(scope, found);
    this.deps.fleet.rememberLaunch(app, launchId, found.id);
    return machine;
  }
}
