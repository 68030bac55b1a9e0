// Size: ~450 lines: one method per Provider call, each a short mapping to the API; what is more than a mapping
// already has its own file (leases, creates, waits, the observed fleet, secrets, volumes).
// The `fly` provider: the Provider contract over the Fly Machines REST API. It is always used behind
// the ResilientProvider, which owns rate limits, retries and wait chunking; this class maps calls to
// HTTP requests, answers to ProviderErrors, and handles what only Fly has:
//  - leases (leases.ts): every change of a machine carries the nonce of a lease runway holds;
//  - idempotent creates (machine-create.ts): the launch id is in the machine's metadata, so a create
//    that succeeded silently is found, not repeated;
//  - eventual consistency (observed-fleet.ts): a machine runway just created may 404 on get/wait/lease
//    for a moment; such a 404 within `consistencyGraceMs` of the create is retried (the
//    ResilientProvider never retries not_found, rightly: elsewhere it means gone);
//  - waits (machine-wait.ts): Fly's wait knows states, not health, and does not fail fast on an exit;
//  - events: Fly pushes none, so subscribers get the changes runway observes in its own answers
//    (observed-fleet.ts).
// Here: reads, in-place changes (update, start, stop, destroy, cordon, uncordon) and closing.

import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import {
  ProviderError,
  type CallOptions,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
  type StopOptions,
  type WaitArgs,
} from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import { appPath, machinePath } from './api-paths.js';
import { FLY_MAX_WAIT_SECONDS, type FlyLaunchRequest, type FlyMachine } from './fly-types.js';
import { AppSecrets, deliveredSecrets, withSecrets, type SecretsSource } from './app-secrets.js';
import { LeaseKeeper, type LeaseStats } from './leases.js';
import { MachineLauncher } from './machine-create.js';
import { defaultImage, updatedConfig } from './machine-config.js';
import { configOf, META } from './machine-mapping.js';
import { MachineWaiter } from './machine-wait.js';
import { ObservedFleet, type Cached } from './observed-fleet.js';
import { VolumeForks } from './volumes.js';

export interface FlyProviderOptions {
  client: FlyApiClient;
  clock: Clock;
  /** The Fly app holding a scope's machines (default `<app>-<env>`). */
  appFor?: (scope: FleetScope) => string;
  region?: string;
  leaseTtlMs: number;
  leaseWaitMs: number;
  pollIntervalMs: number;
  consistencyGraceMs: number;
  /** Clear leases held by others instead of waiting for them. */
  forceLeases?: boolean;
  /** Written into runway's leases; identifies this session's own (default: a random session id). */
  leaseDescription?: string;
  /** Longest single call to the wait endpoint, so an exit is noticed within it (default 10 s). */
  waitSliceMs?: number;
  /** The environment's staged secrets, delivered through Fly's app secrets API before the first change (app-secrets.ts). */
  secrets?: SecretsSource;
}

export interface FlyProviderStats {
  /** 404s on a just-created machine that were retried (eventual consistency). */
  notFoundAbsorbed: number;
  /** Creates answered with a machine an earlier, ambiguous attempt had made. */
  createsRecovered: number;
  /** Waits that failed fast on a GET after a wait slice ran out. */
  failedFast: number;
}

/** Fly's wait slices: long enough to be cheap, short enough that an exit is noticed quickly. */
export const DEFAULT_WAIT_SLICE_MS = 10_000;

export function defaultFlyApp(scope: FleetScope): string {
  return `${scope.app}-${scope.env}`;
}

export class FlyProvider implements Provider {
  readonly name = 'fly';
  readonly leases: LeaseKeeper;
  stats: FlyProviderStats = { notFoundAbsorbed: 0, createsRecovered: 0, failedFast: 0 };
  private readonly client: FlyApiClient;
  private readonly clock: Clock;
  private readonly appFor: (scope: FleetScope) => string;
  private readonly fleet: ObservedFleet;
  private readonly launcher: MachineLauncher;
  private readonly waiter: MachineWaiter;
  private readonly appSecrets: AppSecrets;

  constructor(private readonly options: FlyProviderOptions) {
    this.client = options.client;
    this.clock = options.clock;
    this.appFor = options.appFor ?? defaultFlyApp;
    this.appSecrets = new AppSecrets(this.client, options.secrets);
    this.leases = new LeaseKeeper(this.client, this.clock, {
      ttlMs: options.leaseTtlMs,
      waitMs: options.leaseWaitMs,
      description: options.leaseDescription ?? `runway session ${Math.random().toString(36).slice(2, 10)}`,
      force: options.forceLeases ?? false,
    });
    this.fleet = new ObservedFleet(
      this.clock,
      this.appFor,
      options.consistencyGraceMs,
      () => void this.stats.notFoundAbsorbed++,
    );
    const shared = {
      client: this.client,
      clock: this.clock,
      leases: this.leases,
      fleet: this.fleet,
      appFor: this.appFor,
    };
    this.launcher = new MachineLauncher({
      ...shared,
      forks: new VolumeForks(this.client),
      region: options.region,
      consistencyGraceMs: options.consistencyGraceMs,
      get: (scope, id, options) => this.get(scope, id, options),
      standingFor: (scope, id, signal) => this.standingFor(scope, id, signal),
      secretsFor: (app, signal) => this.secretsFor(app, signal),
      onRecovered: () => void this.stats.createsRecovered++,
    });
    this.waiter = new MachineWaiter({
      ...shared,
      pollIntervalMs: options.pollIntervalMs,
      waitSliceMs: Math.min(FLY_MAX_WAIT_SECONDS * 1000, Math.max(1000, options.waitSliceMs ?? DEFAULT_WAIT_SLICE_MS)),
      fetchMachine: (app, id, signal) => this.fetchMachine(app, id, signal),
      gone: (scope, id) => this.gone(scope, id),
      onFailedFast: () => void this.stats.failedFast++,
    });
  }

  get apiStats() {
    return this.client.stats;
  }

  workingFor(deployId: string): void {
    this.leases.workingFor(deployId);
  }

  /** Every request's answer (leases, wait slices and polls included), not only each call's outcome. */
  onAnswer(listener: () => void): () => void {
    return this.client.onAnswer(listener);
  }

  get leaseStats(): LeaseStats {
    return this.leases.stats;
  }

  // ---- reads ------------------------------------------------------------------------------------

  async list(scope: FleetScope, options?: CallOptions): Promise<Machine[]> {
    const app = this.appFor(scope);
    const { body } = await this.client.send<FlyMachine[]>({
      method: 'GET',
      path: appPath(app),
      signal: options?.signal,
      op: 'list',
      what: `list machines of ${app}`,
      label: 'list',
    });
    const seen = new Set<string>();
    const out: Machine[] = [];
    for (const fm of Array.isArray(body) ? body : []) {
      if (fm.state === 'destroyed') continue;
      seen.add(fm.id);
      out.push(this.observe(scope, fm));
    }
    // Machines runway knew that the list no longer has are gone (unless just created: eventual consistency).
    for (const cached of this.fleet.machinesOf(app)) {
      if (seen.has(cached.fly.id) || this.fleet.fresh(app, cached.fly.id)) continue;
      this.gone(scope, cached.fly.id);
    }
    return out;
  }

  async get(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const fm = await this.fetchMachine(app, id, options?.signal);
    return this.observe(scope, fm);
  }

  // ---- changes ----------------------------------------------------------------------------------

  create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    return this.launcher.create(scope, spec, options);
  }

  /**
   * Sent with `current_version` (the instance runway last saw), so that a late copy of an update whose
   * answer was lost is refused by Fly instead of applied twice. A refusal (412) is settled here: the
   * machine is read again; already on the change → that is the answer; otherwise it is sent once more
   * against the version it has now.
   */
  async update(scope: FleetScope, id: string, update: MachineUpdate, options?: CallOptions): Promise<Machine> {
    try {
      return await this.updateOnce(scope, id, update, options);
    } catch (error) {
      if (!(error instanceof ProviderError && error.details.status === 412)) throw error;
      const seen = await this.get(scope, id, options);
      if (seen.release === update.release && (update.deployId === undefined || seen.deployId === update.deployId))
        return seen;
      return this.updateOnce(scope, id, update, options);
    }
  }

  private async updateOnce(
    scope: FleetScope,
    id: string,
    update: MachineUpdate,
    options?: CallOptions,
  ): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    const config = configOf(current.fly);
    if (!config)
      throw new ProviderError(
        'unavailable',
        `fly: machine ${id}: its config is not readable now (host ${current.fly.host_status ?? 'unknown'})`,
        { machineId: id, op: 'update' },
      );
    const image = update.image ?? this.fleet.imageOf(app, update.release) ?? defaultImage(app, update.release);
    const body: FlyLaunchRequest = withSecrets(
      { config: updatedConfig(scope, config, update, image, current.machine.group) },
      await this.secretsFor(app, options?.signal),
    );
    if (current.fly.instance_id) body.current_version = current.fly.instance_id;
    // A cordoned machine stays out of traffic through its restart; runway uncordons it once checked.
    if (current.machine.cordoned) body.skip_service_registration = true;
    const fm = await this.change(app, id, options?.signal, async (nonce) => {
      const { body: answer } = await this.client.send<FlyMachine>({
        method: 'POST',
        path: machinePath(app, id),
        body,
        nonce,
        signal: options?.signal,
        op: 'update',
        machineId: id,
        what: `update machine ${id} to ${update.release}`,
        label: 'update',
      });
      return answer;
    });
    return this.observe(scope, fm);
  }

  async start(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    await this.change(app, id, options?.signal, (nonce) => this.action(app, id, 'start', nonce, options?.signal));
    return this.observe(scope, { ...current.fly, state: current.machine.state === 'started' ? 'started' : 'starting' });
  }

  async stop(scope: FleetScope, id: string, options?: StopOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    const body: { signal?: string; timeout?: string } = {};
    if (options?.killSignal) body.signal = options.killSignal;
    if (options?.timeoutMs !== undefined) body.timeout = `${Math.max(1, Math.ceil(options.timeoutMs / 1000))}s`;
    await this.change(app, id, options?.signal, (nonce) => this.action(app, id, 'stop', nonce, options?.signal, body));
    return this.observe(scope, { ...current.fly, state: current.machine.state === 'stopped' ? 'stopped' : 'stopping' });
  }

  async destroy(scope: FleetScope, id: string, options?: CallOptions): Promise<void> {
    const app = this.appFor(scope);
    await this.change(app, id, options?.signal, (nonce) =>
      this.client.send({
        method: 'DELETE',
        path: machinePath(app, id),
        // kill: destroy even if running (runway drains and stops first where it matters).
        query: { kill: true },
        nonce,
        signal: options?.signal,
        op: 'destroy',
        machineId: id,
        what: `destroy machine ${id}`,
        label: 'destroy',
      }),
    );
    this.leases.forget(app, id);
    const cached = this.fleet.cached(app, id);
    if (cached) this.observe(scope, { ...cached.fly, state: 'destroying' });
  }

  async cordon(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    await this.change(app, id, options?.signal, (nonce) => this.action(app, id, 'cordon', nonce, options?.signal));
    return this.observe(scope, { ...current.fly, cordoned: true });
  }

  /**
   * Uncordon: Fly registers the machine's services again (a machine created with
   * skip_service_registration has its services in its config all along). A new role is written into
   * the metadata first: if the uncordon then fails, the machine is a cordoned "serving" machine that
   * settle puts back into traffic, never a serving machine labelled green that settle would destroy.
   */
  async uncordon(scope: FleetScope, id: string, role?: MachineRole, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    const metadata = { ...configOf(current.fly)?.metadata };
    await this.change(app, id, options?.signal, async (nonce) => {
      if (role !== undefined && current.machine.role !== role) {
        await this.client.send({
          method: 'POST',
          path: `${machinePath(app, id)}/metadata/${META.role}`,
          body: { value: role },
          nonce,
          signal: options?.signal,
          op: 'uncordon',
          machineId: id,
          what: `set the role of machine ${id} to ${role}`,
          label: 'metadata',
        });
        metadata[META.role] = role;
      }
      await this.action(app, id, 'uncordon', nonce, options?.signal);
    });
    const config = configOf(current.fly);
    const fly: FlyMachine = { ...current.fly, cordoned: false };
    if (config) fly.config = { ...config, metadata };
    return this.observe(scope, fly);
  }

  // ---- waits and events -------------------------------------------------------------------------

  waitFor(...[scope, id, condition, timeoutMs, signal]: WaitArgs): Promise<Machine> {
    return this.waiter.waitFor(scope, id, condition, timeoutMs, signal);
  }

  subscribe(scope: FleetScope, listener: (event: MachineEvent) => void): () => void {
    return this.fleet.subscribe(scope, listener);
  }

  private closing: Promise<void> | undefined;

  /** Release every lease, then close the connections (idempotent). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.leases.releaseAll();
      await this.client.close();
    })();
    return this.closing;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** The machine a new one stands in for, as last seen; undefined when it is gone. */
  private async standingFor(scope: FleetScope, id: string, signal?: AbortSignal): Promise<FlyMachine | undefined> {
    try {
      return (await this.current(scope, id, signal)).fly;
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') return undefined;
      throw error;
    }
  }

  /** A change of a machine under its lease, with eventual consistency absorbed (a new machine's lease may 404). */
  private change<T>(
    app: string,
    id: string,
    signal: AbortSignal | undefined,
    send: (nonce: string) => Promise<T>,
  ): Promise<T> {
    return this.fleet.absorbFresh(app, id, signal, () => this.leases.withLease(app, id, send, signal));
  }

  /** POST one of a machine's actions (start, stop, cordon, uncordon) under its lease nonce. */
  private action(
    app: string,
    id: string,
    action: 'start' | 'stop' | 'cordon' | 'uncordon',
    nonce: string,
    signal: AbortSignal | undefined,
    body?: object,
  ): Promise<unknown> {
    return this.client.send({
      method: 'POST',
      path: `${machinePath(app, id)}/${action}`,
      ...(body ? { body } : {}),
      nonce,
      signal,
      op: action,
      machineId: id,
      what: `${action} machine ${id}`,
      label: action,
    });
  }

  private async fetchMachine(app: string, id: string, signal?: AbortSignal): Promise<FlyMachine> {
    const { body } = await this.fleet.absorbFresh(app, id, signal, () =>
      this.client.send<FlyMachine>({
        method: 'GET',
        path: machinePath(app, id),
        signal,
        op: 'get',
        machineId: id,
        what: `get machine ${id}`,
        label: 'get',
      }),
    );
    return body;
  }

  /** The machine as last seen, or fetched when runway has not seen it yet. */
  private async current(scope: FleetScope, id: string, signal?: AbortSignal): Promise<Cached> {
    const app = this.appFor(scope);
    const cached = this.fleet.cached(app, id);
    if (cached) return cached;
    this.observe(scope, await this.fetchMachine(app, id, signal));
    return this.fleet.cached(app, id)!;
  }

  /** The app's secrets as runway stages them, set on Fly once per session (names it delivered before, from the machines it has seen). */
  private secretsFor(app: string, signal?: AbortSignal) {
    return this.appSecrets.sync(
      app,
      () => this.fleet.machinesOf(app).flatMap((c) => deliveredSecrets(configOf(c.fly)?.metadata)),
      signal,
    );
  }

  private observe(scope: FleetScope, fm: FlyMachine): Machine {
    return this.fleet.observe(scope, fm);
  }

  /** The machine is gone: its lease forgotten, and the fleet told. */
  private gone(scope: FleetScope, id: string): Machine {
    this.leases.forget(this.appFor(scope), id);
    return this.fleet.gone(scope, id);
  }
}
