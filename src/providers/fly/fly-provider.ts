// Size: ~650 lines; stand-ins, volumes, leases and app secrets already live in their own files; the
// create and update paths are next to move out (issue 18).
// The `fly` provider: the Provider contract over the Fly Machines REST API. It is always used behind
// the ResilientProvider, which owns rate limits, retries and wait chunking; this class maps calls to
// HTTP requests, answers to ProviderErrors, and handles what only Fly has:
//  - leases (leases.ts): every change of a machine carries the nonce of a lease runway holds;
//  - idempotent creates: the launch id is in the machine's metadata (runway_launch); a create whose
//    earlier attempt ended ambiguously (timeout, 5xx, connection lost) first lists machines with that
//    launch id, so a create that succeeded silently is returned, not repeated;
//  - eventual consistency: a machine runway just created may 404 on get/wait/lease for a moment; such
//    a 404 within `consistencyGraceMs` of the create is retried here (the ResilientProvider never
//    retries not_found, rightly: elsewhere it means gone);
//  - waits: Fly's wait endpoint knows states, not health, and does not fail fast when a machine exits
//    (flyctl#2653). So a wait is sliced: the wait endpoint (pinned to the instance_id via `version`)
//    in slices of at most `waitSliceMs`, a GET after each slice that ran out (exit → machine_failed at
//    once; another instance → reverted, machine_failed), then GET polling for checks;
//  - events: Fly pushes none, so subscribers get the changes runway observes in its own answers.

import type { Clock } from '../../domain/clock.js';
import type { FleetScope, Machine, MachineRole } from '../../domain/types.js';
import {
  meets,
  ProviderError,
  type CallOptions,
  type MachineEvent,
  type MachineSpec,
  type MachineUpdate,
  type Provider,
  type StopOptions,
  type WaitCondition,
} from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import { FLY_MAX_WAIT_SECONDS, type FlyLaunchRequest, type FlyMachine } from './fly-types.js';
import { AppSecrets, deliveredSecrets, withSecrets, type SecretsSource } from './app-secrets.js';
import { LeaseKeeper, type LeaseStats } from './leases.js';
import { createConfig, defaultImage, updatedConfig } from './machine-config.js';
import { configOf, META, toMachine } from './machine-mapping.js';
import { placeMachine } from './stand-in.js';
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

interface Cached {
  fly: FlyMachine;
  machine: Machine;
}

/** Fly's wait slices: long enough to be cheap, short enough that an exit is noticed quickly. */
export const DEFAULT_WAIT_SLICE_MS = 10_000;

export function defaultFlyApp(scope: FleetScope): string {
  return `${scope.app}-${scope.env}`;
}

const AMBIGUOUS = new Set(['timeout', 'unavailable']);

export class FlyProvider implements Provider {
  readonly name = 'fly';
  readonly leases: LeaseKeeper;
  stats: FlyProviderStats = { notFoundAbsorbed: 0, createsRecovered: 0, failedFast: 0 };
  private readonly client: FlyApiClient;
  private readonly clock: Clock;
  private readonly appFor: (scope: FleetScope) => string;
  private readonly waitSliceMs: number;
  /** Last answer seen per machine, by `app/id`. */
  private readonly cache = new Map<string, Cached>();
  /** Machine id by `app/launchId`. */
  private readonly launches = new Map<string, string>();
  /** `app/launchId` of creates whose last attempt may or may not have happened. */
  private readonly uncertain = new Set<string>();
  /** When runway created a machine (`app/id` → client ms), for eventual consistency. */
  private readonly born = new Map<string, number>();
  /** The last seen serving machine per `app/group`: the template of new machines that stand in for none. */
  private readonly templates = new Map<string, FlyMachine>();
  /** Image per `app/release`, from machines seen running it: the image of a release nobody named. */
  private readonly images = new Map<string, string>();
  private readonly listeners = new Map<string, Set<(event: MachineEvent) => void>>();
  private readonly forks: VolumeForks;
  private readonly appSecrets: AppSecrets;

  constructor(private readonly options: FlyProviderOptions) {
    this.client = options.client;
    this.clock = options.clock;
    this.appFor = options.appFor ?? defaultFlyApp;
    this.forks = new VolumeForks(this.client);
    this.waitSliceMs = Math.min(FLY_MAX_WAIT_SECONDS * 1000, Math.max(1000, options.waitSliceMs ?? DEFAULT_WAIT_SLICE_MS));
    this.appSecrets = new AppSecrets(this.client, options.secrets);
    this.leases = new LeaseKeeper(this.client, this.clock, {
      ttlMs: options.leaseTtlMs,
      waitMs: options.leaseWaitMs,
      description: options.leaseDescription ?? `runway session ${Math.random().toString(36).slice(2, 10)}`,
      force: options.forceLeases ?? false,
    });
  }

  get apiStats() {
    return this.client.stats;
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
    for (const [k, cached] of [...this.cache]) {
      if (!k.startsWith(`${app}/`) || seen.has(cached.fly.id) || this.fresh(app, cached.fly.id)) continue;
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

  async create(scope: FleetScope, spec: MachineSpec, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const launchKey = `${app}/${spec.launchId}`;
    const known = this.launches.get(launchKey);
    if (known !== undefined) {
      try {
        return await this.get(scope, known, options);
      } catch (error) {
        if (!(error instanceof ProviderError && error.kind === 'not_found')) throw error;
        this.launches.delete(launchKey); // destroyed since: the launch id may be used again
      }
    }
    if (this.uncertain.has(launchKey)) {
      // The lost attempt may still be on its way (a slow API answers after the client gave up), and
      // a new machine may not be listed at once: look, give it the consistency grace, look again.
      let made = await this.findLaunch(scope, spec.launchId, options?.signal);
      if (!made) {
        await this.clock.sleep(this.options.consistencyGraceMs, options?.signal);
        made = await this.findLaunch(scope, spec.launchId, options?.signal);
      }
      if (made) {
        this.uncertain.delete(launchKey);
        this.stats.createsRecovered++;
        return made;
      }
    }
    const image = spec.image ?? this.images.get(`${app}/${spec.release}`) ?? defaultImage(app, spec.release);
    const template = spec.role === 'release-command' ? [...this.templates].find(([k]) => k.startsWith(`${app}/`))?.[1] : this.templates.get(`${app}/${spec.group}`);
    const placement = await placeMachine({
      app,
      launchKey,
      spec,
      source: spec.standsFor === undefined ? undefined : await this.standingFor(scope, spec.standsFor, options?.signal),
      template,
      defaultRegion: this.options.region,
      forks: this.forks,
      signal: options?.signal,
    });
    const body: FlyLaunchRequest = withSecrets({ config: createConfig(scope, spec, image, placement.from) }, await this.secretsFor(app, options?.signal));
    if (placement.mounts) body.config.mounts = placement.mounts;
    if (placement.region) body.region = placement.region;
    // Created cordoned: no traffic until an uncordon (bluegreen greens, canaries, waves' surge).
    if (spec.cordoned || spec.role === 'release-command') body.skip_service_registration = true;
    // The create hands over a lease with the machine: one request fewer before its first change. A
    // release command destroys itself; nothing to lease.
    if (spec.role !== 'release-command') body.lease_ttl = this.leases.ttlSeconds;
    let fm: FlyMachine;
    try {
      ({ body: fm } = await this.client.send<FlyMachine>({
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
      throw error;
    }
    this.uncertain.delete(launchKey);
    this.forks.settled(launchKey);
    this.born.set(`${app}/${fm.id}`, this.clock.now());
    if (fm.nonce) this.leases.adopt(app, fm.id, fm.nonce);
    const machine = this.observe(scope, fm);
    this.launches.set(launchKey, fm.id);
    return machine;
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
      if (seen.release === update.release && (update.deployId === undefined || seen.deployId === update.deployId)) return seen;
      return this.updateOnce(scope, id, update, options);
    }
  }

  private async updateOnce(scope: FleetScope, id: string, update: MachineUpdate, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    const config = configOf(current.fly);
    if (!config) throw new ProviderError('unavailable', `fly: machine ${id}: its config is not readable now (host ${current.fly.host_status ?? 'unknown'})`, { machineId: id, op: 'update' });
    const image = update.image ?? this.images.get(`${app}/${update.release}`) ?? defaultImage(app, update.release);
    const body: FlyLaunchRequest = withSecrets({ config: updatedConfig(scope, config, update, image, current.machine.group) }, await this.secretsFor(app, options?.signal));
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
    await this.change(app, id, options?.signal, (nonce) =>
      this.client.send({ method: 'POST', path: `${machinePath(app, id)}/start`, nonce, signal: options?.signal, op: 'start', machineId: id, what: `start machine ${id}`, label: 'start' }),
    );
    return this.observe(scope, { ...current.fly, state: current.machine.state === 'started' ? 'started' : 'starting' });
  }

  async stop(scope: FleetScope, id: string, options?: StopOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    const body: { signal?: string; timeout?: string } = {};
    if (options?.killSignal) body.signal = options.killSignal;
    if (options?.timeoutMs !== undefined) body.timeout = `${Math.max(1, Math.ceil(options.timeoutMs / 1000))}s`;
    await this.change(app, id, options?.signal, (nonce) =>
      this.client.send({ method: 'POST', path: `${machinePath(app, id)}/stop`, body, nonce, signal: options?.signal, op: 'stop', machineId: id, what: `stop machine ${id}`, label: 'stop' }),
    );
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
    const cached = this.cache.get(`${app}/${id}`);
    if (cached) this.observe(scope, { ...cached.fly, state: 'destroying' });
  }

  async cordon(scope: FleetScope, id: string, options?: CallOptions): Promise<Machine> {
    const app = this.appFor(scope);
    const current = await this.current(scope, id, options?.signal);
    await this.change(app, id, options?.signal, (nonce) =>
      this.client.send({ method: 'POST', path: `${machinePath(app, id)}/cordon`, nonce, signal: options?.signal, op: 'cordon', machineId: id, what: `cordon machine ${id}`, label: 'cordon' }),
    );
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
      await this.client.send({ method: 'POST', path: `${machinePath(app, id)}/uncordon`, nonce, signal: options?.signal, op: 'uncordon', machineId: id, what: `uncordon machine ${id}`, label: 'uncordon' });
    });
    const config = configOf(current.fly);
    const fly: FlyMachine = { ...current.fly, cordoned: false };
    if (config) fly.config = { ...config, metadata };
    return this.observe(scope, fly);
  }

  // ---- waits ------------------------------------------------------------------------------------

  async waitFor(scope: FleetScope, id: string, condition: WaitCondition, timeoutMs: number, signal?: AbortSignal): Promise<Machine> {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const app = this.appFor(scope);
    const deadline = this.clock.now() + Math.max(0, timeoutMs);
    const unhold = this.leases.hold(app, id);
    try {
      // Fly requires a version to wait for `stopped`; without a pinned one, the instance runway last saw.
      const version = condition.instanceVersion ?? (condition.state === 'stopped' ? this.cache.get(`${app}/${id}`)?.machine.instanceVersion : undefined);
      // 1. The state, from the wait endpoint, slice by slice; a GET after each slice that ran out.
      for (;;) {
        const remaining = deadline - this.clock.now();
        if (remaining <= 0) throw await this.waitTimeout(scope, id, condition, timeoutMs, signal);
        const seconds = Math.max(1, Math.min(FLY_MAX_WAIT_SECONDS, Math.ceil(Math.min(remaining, this.waitSliceMs) / 1000)));
        try {
          await this.absorbFresh(app, id, signal, () =>
            this.client.send({
              method: 'GET',
              path: `${machinePath(app, id)}/wait`,
              query: { state: condition.state, version, timeout: seconds },
              signal,
              timeoutMs: seconds * 1000 + 15_000,
              op: 'wait',
              machineId: id,
              what: `wait for machine ${id} to be ${condition.state}`,
              label: 'wait',
            }),
          );
          break;
        } catch (error) {
          if (!(error instanceof ProviderError)) throw error;
          if (error.kind === 'not_found') {
            if (condition.state === 'destroyed') return this.gone(scope, id);
            this.gone(scope, id);
            throw new ProviderError('not_found', `fly: machine ${id} not found in ${app} (destroyed)`, { status: 404, machineId: id, op: 'wait' });
          }
          if (error.kind !== 'wait_timeout') throw error;
          const settled = await this.look(scope, id, condition, signal);
          if (settled) return settled;
        }
      }
      if (condition.state === 'destroyed') return this.gone(scope, id);
      // 2. What the wait endpoint cannot tell: checks passing, the release. Polled. A machine with
      // checks has not passed them the moment it started: the first look comes one interval later.
      if (condition.healthy && this.hasChecks(app, id)) await this.clock.sleep(Math.min(this.options.pollIntervalMs, Math.max(0, deadline - this.clock.now())), signal);
      for (;;) {
        const settled = await this.look(scope, id, condition, signal);
        if (settled) return settled;
        const remaining = deadline - this.clock.now();
        if (remaining <= 0) throw await this.waitTimeout(scope, id, condition, timeoutMs, signal, true);
        await this.clock.sleep(Math.min(this.options.pollIntervalMs, remaining), signal);
      }
    } finally {
      unhold();
    }
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
  private change<T>(app: string, id: string, signal: AbortSignal | undefined, send: (nonce: string) => Promise<T>): Promise<T> {
    return this.absorbFresh(app, id, signal, () => this.leases.withLease(app, id, send, signal));
  }

  private async fetchMachine(app: string, id: string, signal?: AbortSignal): Promise<FlyMachine> {
    const { body } = await this.absorbFresh(app, id, signal, () =>
      this.client.send<FlyMachine>({ method: 'GET', path: machinePath(app, id), signal, op: 'get', machineId: id, what: `get machine ${id}`, label: 'get' }),
    );
    return body;
  }

  /** The machine as last seen, or fetched when runway has not seen it yet. */
  private async current(scope: FleetScope, id: string, signal?: AbortSignal): Promise<Cached> {
    const app = this.appFor(scope);
    const cached = this.cache.get(`${app}/${id}`);
    if (cached) return cached;
    this.observe(scope, await this.fetchMachine(app, id, signal));
    return this.cache.get(`${app}/${id}`)!;
  }

  /** Whether the machine's config (as last seen) defines health checks, top-level or in services. */
  private hasChecks(app: string, id: string): boolean {
    const config = configOf(this.cache.get(`${app}/${id}`)?.fly ?? { id, state: '' });
    if (!config) return false;
    if (config.checks && Object.keys(config.checks).length > 0) return true;
    return (config.services ?? []).some((s) => Array.isArray((s as { checks?: unknown[] }).checks) && (s as { checks: unknown[] }).checks.length > 0);
  }

  private fresh(app: string, id: string): boolean {
    const at = this.born.get(`${app}/${id}`);
    if (at === undefined) return false;
    if (this.clock.now() - at <= this.options.consistencyGraceMs) return true;
    this.born.delete(`${app}/${id}`);
    return false;
  }

  /** Retry a 404 on a machine runway created moments ago: Fly has not caught up with its own create yet. */
  private async absorbFresh<T>(app: string, id: string, signal: AbortSignal | undefined, send: () => Promise<T>): Promise<T> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await send();
      } catch (error) {
        const bornAt = this.born.get(`${app}/${id}`);
        if (!(error instanceof ProviderError && error.kind === 'not_found') || bornAt === undefined) throw error;
        const left = bornAt + this.options.consistencyGraceMs - this.clock.now();
        if (left <= 0) throw error;
        this.stats.notFoundAbsorbed++;
        await this.clock.sleep(Math.min(delay, left), signal);
      }
    }
  }

  /** The app's secrets as runway stages them, set on Fly once per session (names it delivered before, from the machines it has seen). */
  private secretsFor(app: string, signal?: AbortSignal) {
    return this.appSecrets.sync(app, () => [...this.cache].filter(([k]) => k.startsWith(`${app}/`)).flatMap(([, c]) => deliveredSecrets(configOf(c.fly)?.metadata)), signal);
  }

  /** Machines of the app carrying `launchId` (runway_launch), newest answer from the API. */
  private async findLaunch(scope: FleetScope, launchId: string, signal?: AbortSignal): Promise<Machine | undefined> {
    const app = this.appFor(scope);
    const { body } = await this.client.send<FlyMachine[]>({
      method: 'GET',
      // The whole list: the published spec has no metadata filter on Machines_list.
      path: appPath(app),
      signal,
      op: 'create',
      what: `look for machines of launch ${launchId} in ${app}`,
      label: 'list',
    });
    const found = (Array.isArray(body) ? body : []).find((fm) => fm.state !== 'destroyed' && configOf(fm)?.metadata?.[META.launch] === launchId);
    if (!found) return undefined;
    // The lost answer carried the lease the create handed out: take it up rather than wait it out.
    await this.leases.adoptLost(app, found.id, Date.parse(found.created_at ?? ''), signal);
    const machine = this.observe(scope, found);
    this.launches.set(`${app}/${launchId}`, found.id);
    return machine;
  }

  /**
   * GET the machine and judge it against the wait: the machine when it meets the condition; throws
   * when it never will (exited, another instance, gone); undefined to keep waiting.
   */
  private async look(scope: FleetScope, id: string, condition: WaitCondition, signal?: AbortSignal): Promise<Machine | undefined> {
    const app = this.appFor(scope);
    let fm: FlyMachine;
    try {
      fm = await this.fetchMachine(app, id, signal);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') {
        if (condition.state === 'destroyed') return this.gone(scope, id);
        this.gone(scope, id);
        throw new ProviderError('not_found', `fly: machine ${id} not found in ${app} (destroyed)`, { status: 404, machineId: id, op: 'wait' });
      }
      throw error;
    }
    const m = this.observe(scope, fm);
    if (meets(m, condition)) return m;
    const fail = (message: string) => {
      this.stats.failedFast++;
      return new ProviderError('machine_failed', `fly: machine ${id} ${message}`, { machineId: id, op: 'wait' });
    };
    if (m.state === 'failed') throw fail(`exited (failed) on ${m.release} (${m.instanceVersion})`);
    const pinned = condition.instanceVersion;
    if (pinned !== undefined && m.instanceVersion !== pinned && (m.state === 'started' || m.state === 'stopped')) {
      throw fail(`runs ${m.release} (${m.instanceVersion}) instead of ${pinned}: it reverted, or someone else changed it`);
    }
    if (pinned === undefined && condition.release !== undefined && m.release !== condition.release && m.state === 'started') {
      throw fail(`runs ${m.release} instead of ${condition.release}`);
    }
    if (condition.state === 'started' && m.state === 'stopped') throw fail('is stopped while waiting for it to start');
    return undefined;
  }

  private async waitTimeout(scope: FleetScope, id: string, condition: WaitCondition, timeoutMs: number, signal?: AbortSignal, seenNow = false): Promise<ProviderError> {
    let m = this.cache.get(`${this.appFor(scope)}/${id}`)?.machine;
    if (!seenNow) {
      try {
        m = await this.get(scope, id, { signal });
      } catch {
        // The timeout is the news; what the machine looks like is a detail.
      }
    }
    const seen = m ? `; machine is ${m.state}/${m.health} on ${m.release} (${m.instanceVersion})` : '';
    return new ProviderError('wait_timeout', `fly: machine ${id} did not reach ${describe(condition)} within ${timeoutMs} ms${seen}`, { machineId: id, op: 'wait' });
  }

  /** Remember an answer, tell subscribers what changed, return the machine as runway sees it. */
  private observe(scope: FleetScope, fm: FlyMachine): Machine {
    const app = this.appFor(scope);
    const k = `${app}/${fm.id}`;
    const machine = toMachine(fm, scope);
    const before = this.cache.get(k)?.machine;
    this.cache.set(k, { fly: fm, machine });
    if (machine.launchId) this.launches.set(`${app}/${machine.launchId}`, fm.id);
    const config = configOf(fm);
    if (config?.image) this.images.set(`${app}/${machine.release}`, config.image);
    if (config && machine.role === 'serving') this.templates.set(`${app}/${machine.group}`, fm);
    this.emit(scope, before, machine);
    return { ...machine };
  }

  /** The machine is gone: forget it and say so. Returns its last known shape, destroyed. */
  private gone(scope: FleetScope, id: string): Machine {
    const app = this.appFor(scope);
    const k = `${app}/${id}`;
    const before = this.cache.get(k)?.machine;
    this.cache.delete(k);
    this.leases.forget(app, id);
    if (before?.launchId) this.launches.delete(`${app}/${before.launchId}`);
    const machine: Machine = before
      ? { ...before, state: 'destroyed', health: 'unknown', updatedAtMs: this.clock.now() }
      : { id, app: scope.app, env: scope.env, group: '', release: '', instanceVersion: '', role: 'serving', state: 'destroyed', health: 'unknown', cordoned: false, createdAtMs: 0, updatedAtMs: this.clock.now() };
    if (before) this.emit(scope, before, machine);
    return { ...machine };
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

function appPath(app: string): string {
  return `/v1/apps/${encodeURIComponent(app)}/machines`;
}

function machinePath(app: string, id: string): string {
  return `${appPath(app)}/${encodeURIComponent(id)}`;
}

function scopeKey(scope: FleetScope): string {
  return `${scope.app}\u0000${scope.env}`;
}

function describe(condition: WaitCondition): string {
  const parts: string[] = [condition.state];
  if (condition.healthy) parts.push('healthy');
  if (condition.release !== undefined) parts.push(`on ${condition.release}`);
  if (condition.instanceVersion !== undefined) parts.push(`(${condition.instanceVersion})`);
  return parts.join(' ');
}
