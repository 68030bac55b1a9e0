// Creating a Fly machine, idempotently. Fly has no idempotency key, but machine names are unique:
// every copy of a create carries the same name, in every runway process of the deploy (machine-name.ts:
// the deploy, the launch and its incarnation), and runway's launch id goes into the machine's metadata
// (runway_launch). A create whose earlier attempt ended ambiguously (timeout, 5xx, connection lost)
// first lists the app's machines for that launch id, so a create that succeeded silently is returned,
// not repeated; a copy the API applies later, past any wait — even one sent by a process since killed —
// is refused for its name, and a create refused for its name adopts the launch's machine, or moves on
// to the launch's next name when the machine holding this one is destroyed. Where the machine goes and
// what config it gets (a stand-in's copy, a group's template, volumes forked or not) is decided by
// stand-in.ts and machine-config.ts.

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
import { LaunchNames, MAX_INCARNATIONS, nameTaken } from './machine-name.js';
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
   * `app/launchId` → the incarnation of the launch's create until it is answered with its machine:
   * every attempt carries its name, so a copy applied late is refused (machine-name.ts).
   */
  private readonly pending = new Map<string, number>();
  /** The salt of names of creates without a deploy id: this process's own. */
  private readonly salt = randomBytes(4).toString('hex');

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
    const names = new LaunchNames(spec.launchId, spec.deployId, this.salt);
    let k = this.incarnation(app, launchKey, names);
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
      { name: names.nameOf(k), config: createConfig(scope, spec, image, placement.from) },
      await deps.secretsFor(app, options?.signal),
    );
    if (placement.mounts) body.config.mounts = placement.mounts;
    if (placement.region) body.region = placement.region;
    // Created cordoned: no traffic until an uncordon (bluegreen greens, canaries, waves' surge).
    if (spec.cordoned || spec.role === 'release-command') body.skip_service_registration = true;
    // The create hands over a lease with the machine: one request fewer before its first change. A
    // release command destroys itself; nothing to lease.
    if (spec.role !== 'release-command') body.lease_ttl = deps.leases.ttlSeconds;
    // Refused for its name, the create is sent again (the same name: always safe; the next one once
    // this one's machine is listed destroyed) until the machine of the launch is found. Waiting is safe
    // and a slow API's tail is long, so the bound is generous: ten request timeouts (5 minutes by
    // default), then a conflict (the step fails; nothing doubled).
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
        const next = await this.taken(scope, names, k, error, options?.signal);
        if (typeof next !== 'number') return next;
        if (next !== k) {
          this.pending.set(launchKey, (k = next));
          body.name = names.nameOf(k);
        } else if (deps.clock.now() >= giveUpAt)
          throw new ProviderError(
            'conflict',
            `${error.message}: the name ${body.name} of launch ${spec.launchId} stayed taken, and no machine of the launch was listed, for ${Math.round((PATIENCE_TIMEOUTS * deps.client.timeoutMs) / 1000)} s`,
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
    this.pending.delete(launchKey);
    this.deps.forks.settled(launchKey);
    return machine;
  }

  /**
   * The incarnation a create of the launch is sent as: the one its earlier attempts were, or the one
   * after the launch's last machine this process saw (gone by now: a live one was returned), or 0.
   *
   * Every process converges on the same name without sharing memory. A launch's names N0, N1, … are
   * the same in each (machine-name.ts), and a process sends N(k+1) only once N(k) is held by a machine
   * that is gone: one it saw itself, or one the app's listing with include_deleted shows destroyed
   * (taken()). Names stay taken once held (Fly keeps destroyed machines; the sim never frees a name),
   * so N0 … N(k) are all held by gone machines, and a process starting lower, with no memory (a resumed
   * deploy), is refused on each and walks up to the same first free name. Starting from k + 1 skips no
   * live machine either: N(k+1) can only have been made after N(k)'s machine was gone. So every copy of
   * the launch's create, the late one of a killed process included, carries one name, and Fly makes at
   * most one of them. This rests on Fly not freeing a destroyed machine's name while a copy of its
   * create may still land; the spec does not say, and the sim takes the other reading.
   */
  private incarnation(app: string, launchKey: string, names: LaunchNames): number {
    const seen = names.incarnationOf(this.deps.fleet.lastNameOf(app, names.launchId));
    const k = Math.max(this.pending.get(launchKey) ?? 0, seen === undefined ? 0 : seen + 1);
    if (k >= MAX_INCARNATIONS) throw tooManyIncarnations(names);
    this.pending.set(launchKey, k);
    return k;
  }

  /**
   * A create refused for its name N(k). The app's machines, destroyed ones included, say why: a
   * machine of the launch is listed (an earlier copy of this create, maybe another process's) → it is
   * adopted, lease included; N(k) is held by a destroyed machine (an earlier incarnation of the launch)
   * → the incarnation to send next, past every name a destroyed machine holds; by a live machine of
   * another launch → a conflict; not listed → that copy is still being applied (Fly answers a create
   * once it is done) or failed and freed the name: k again, after one consistency grace. Retrying
   * through the ResilientProvider instead would read the refusal as an outage and hold back every
   * other call.
   */
  private async taken(
    scope: FleetScope,
    names: LaunchNames,
    k: number,
    refusal: ProviderError,
    signal?: AbortSignal,
  ): Promise<Machine | number> {
    const { deps } = this;
    const app = deps.appFor(scope);
    const { launchId } = names;
    const machines = await this.listApp(app, launchId, signal, true);
    const made = await this.findLaunch(scope, launchId, signal, machines);
    if (made) {
      deps.onRecovered();
      return this.settled(`${app}/${launchId}`, made);
    }
    const holderOf = (name: string) => machines.find((fm) => fm.name === name);
    let next = k;
    let holder = holderOf(names.nameOf(next));
    while (holder && gone(holder)) {
      if (++next >= MAX_INCARNATIONS) throw tooManyIncarnations(names, refusal);
      holder = holderOf(names.nameOf(next));
    }
    if (holder)
      throw new ProviderError(
        'conflict',
        `${refusal.message}: machine ${holder.id} holds the name ${names.nameOf(next)} of launch ${launchId} but is not of that launch`,
        { ...refusal.details, machineId: holder.id },
      );
    if (next === k) await deps.clock.sleep(deps.consistencyGraceMs, signal);
    return next;
  }

  /** `withDestroyed`: destroyed machines too (Machines_list's include_deleted), to see who holds a name. */
  private async listApp(
    app: string,
    launchId: string,
    signal?: AbortSignal,
    withDestroyed = false,
  ): Promise<FlyMachine[]> {
    const { body } = await this.deps.client.send<FlyMachine[]>({
      method: 'GET',
      // The whole list: the published spec has no metadata filter on Machines_list.
      path: withDestroyed ? `${appPath(app)}?include_deleted=true` : appPath(app),
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
      (fm) => !gone(fm) && configOf(fm)?.metadata?.[META.launch] === launchId,
    );
    if (!found) return undefined;
    // The lost answer carried the lease the create handed out: take it up rather than wait it out.
    await this.deps.leases.adoptLost(app, found.id, Date.parse(found.created_at ?? ''), signal);
    const machine = this.deps.fleet.observe(scope, found);
    this.deps.fleet.rememberLaunch(app, launchId, found.id, found.name);
    return machine;
  }
}

/** Destroyed or being destroyed: not a machine to adopt, and its name stays taken. */
function gone(fm: FlyMachine): boolean {
  return fm.state === 'destroyed' || fm.state === 'destroying';
}

function tooManyIncarnations(names: LaunchNames, refusal?: ProviderError): ProviderError {
  return new ProviderError(
    'conflict',
    `launch ${names.launchId} has had ${MAX_INCARNATIONS} machines (their names are taken, up to ${names.nameOf(MAX_INCARNATIONS - 1)}): not making another`,
    refusal?.details ?? {},
  );
}
