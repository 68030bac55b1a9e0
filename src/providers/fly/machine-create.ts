// Creating a Fly machine, idempotently. Fly has no idempotency key, so runway's launch id goes into the
// machine's metadata (runway_launch): a create whose earlier attempt ended ambiguously (timeout, 5xx,
// connection lost) first lists the app's machines for that launch id, so a create that succeeded
// silently is returned, not repeated. Where the machine goes and what config it gets (a stand-in's
// copy, a group's template, volumes forked or not) is decided by stand-in.ts and machine-config.ts.

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
import type { ObservedFleet } from './observed-fleet.js';
import { placeMachine } from './stand-in.js';
import type { VolumeForks } from './volumes.js';

const AMBIGUOUS = new Set(['timeout', 'unavailable']);

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
  /** `app/launchId` of creates whose last attempt may or may not have happened, and when it was sent. */
  private readonly uncertain = new Map<string, number>();

  constructor(private readonly deps: CreateDeps) {}

  async create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    const { deps } = this;
    const app = deps.appFor(scope);
    const launchKey = `${app}/${spec.launchId}`;
    const known = deps.fleet.launched(app, spec.launchId);
    if (known !== undefined) {
      try {
        return await deps.get(scope, known, options);
      } catch (error) {
        if (!(error instanceof ProviderError && error.kind === 'not_found')) throw error;
        deps.fleet.forgetLaunch(app, spec.launchId); // destroyed since: the launch id may be used again
      }
    }
    const lostSentAt = this.uncertain.get(launchKey);
    if (lostSentAt !== undefined) {
      // The lost attempt may still be on its way: a slow API applies a create after the client gave
      // up on it (request_timeout), and a new machine may not be listed at once. Sent again too soon,
      // the launch makes two machines. So look until the lost attempt has had three request timeouts
      // since it was sent (it already took one), and at least one consistency grace after a first look.
      const settledAt = Math.max(lostSentAt + 3 * deps.client.timeoutMs, deps.clock.now() + deps.consistencyGraceMs);
      let made = await this.findLaunch(scope, spec.launchId, options?.signal);
      while (!made && deps.clock.now() < settledAt) {
        await deps.clock.sleep(Math.min(deps.consistencyGraceMs, settledAt - deps.clock.now()), options?.signal);
        made = await this.findLaunch(scope, spec.launchId, options?.signal);
      }
      if (made) {
        this.uncertain.delete(launchKey);
        deps.onRecovered();
        return made;
      }
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
      { config: createConfig(scope, spec, image, placement.from) },
      await deps.secretsFor(app, options?.signal),
    );
    if (placement.mounts) body.config.mounts = placement.mounts;
    if (placement.region) body.region = placement.region;
    // Created cordoned: no traffic until an uncordon (bluegreen greens, canaries, waves' surge).
    if (spec.cordoned || spec.role === 'release-command') body.skip_service_registration = true;
    // The create hands over a lease with the machine: one request fewer before its first change. A
    // release command destroys itself; nothing to lease.
    if (spec.role !== 'release-command') body.lease_ttl = deps.leases.ttlSeconds;
    let fm: FlyMachine;
    const sentAt = deps.clock.now();
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
      if (error instanceof ProviderError && AMBIGUOUS.has(error.kind)) this.uncertain.set(launchKey, sentAt);
      throw error;
    }
    this.uncertain.delete(launchKey);
    deps.forks.settled(launchKey);
    deps.fleet.created(app, fm.id);
    if (fm.nonce) deps.leases.adopt(app, fm.id, fm.nonce);
    const machine = deps.fleet.observe(scope, fm);
    deps.fleet.rememberLaunch(app, spec.launchId, fm.id);
    return machine;
  }

  /** Machines of the app carrying `launchId` (runway_launch), newest answer from the API. */
  private async findLaunch(scope: FleetScope, launchId: string, signal?: AbortSignal): Promise<Machine | undefined> {
    const app = this.deps.appFor(scope);
    const { body } = await this.deps.client.send<FlyMachine[]>({
      method: 'GET',
      // The whole list: the published spec has no metadata filter on Machines_list.
      path: appPath(app),
      signal,
      op: 'create',
      what: `look for machines of launch ${launchId} in ${app}`,
      label: 'list',
    });
    const found = (Array.isArray(body) ? body : []).find(
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
