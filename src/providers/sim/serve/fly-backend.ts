// Size: ~770 lines; volumes, secrets and spec checks are their own files; machines, leases and
// persistence are next to split by concept (issue 18).
// The simulated fleet behind a Fly-compatible API: what `runway sim serve` answers, without HTTP.
// Every Machines API call goes through the SimProvider, so it costs the sim's API latency, obeys Fly's
// documented rate limits (429 + Retry-After) and the configured faults. What Fly has and the sim does
// not is kept here: apps, machine configs (metadata, image, services…), leases, eventual consistency
// (a just-created machine 404s for a while), and Fly's wait semantics (a wait for `started` does not
// end when the machine exits: it runs to its timeout, as Fly's does — flyctl#2653).

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../../domain/clock.js';
import type { FleetScope, Machine } from '../../../domain/types.js';
import { ProviderError, type MachineSpec } from '../../contract.js';
import { TokenBucket } from '../../rate-limit/token-bucket.js';
import type {
  FlyApp,
  FlyCreateVolumeRequest,
  FlyVolume,
  FlyCheckStatus,
  FlyLaunchRequest,
  FlyLease,
  FlyLeaseData,
  FlyMachine,
  FlyMachineConfig,
} from '../../fly/fly-types.js';
import { groupOf, parseImageRef, releaseOf, roleOf } from '../../fly/machine-mapping.js';
import { sampleLatency } from '../latency.js';
import { SimAppSecrets } from './fly-secrets.js';
import { SeededRandom } from '../random.js';
import type { SimOptionsInput } from '../resolve-options.js';
import { SimProvider, type SimProviderSettings, type SimState } from '../sim-provider.js';
import { SimVolumes, type VolumeRecord } from './volumes.js';

/** A Docker image reference, as Fly checks one before it pulls it: [registry[:port]/]path[:tag][@algo:digest]. */
const IMAGE_REFERENCE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[a-zA-Z0-9]+)?$/;

/** The sim scope of a Fly app: the app is the unit of rate limits, as on Fly. */
export const FLY_SIM_ENV = 'fly';

/** An answer other than 2xx, with Fly's error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

interface AppRecord {
  name: string;
  org: string;
  createdAtMs: number;
}

/** What Fly knows of a machine that the sim does not. */
interface MachineExtra {
  name: string;
  region: string;
  config: FlyMachineConfig;
  /** Server ms of the create (eventual consistency); 0 for seeded or loaded machines. */
  bornAtMs: number;
}

interface LeaseRecord extends FlyLeaseData {
  /** Server ms. */
  expiresAtMs: number;
}

export interface BackendFaults {
  /** The next `createDelayCount` creates answer this much later (the machine exists at once): client timeouts. */
  createDelayMs: number;
  createDelayCount: number;
  /** A machine 404s on everything but list for this long after its create. */
  eventualConsistencyMs: number;
}

export interface SeedRequest {
  groups: { name: string; count: number }[];
  release: string;
  image?: string;
  /** `runway`: runway's metadata; `flyctl`: only what flyctl writes (fly_*), to test adoption. */
  style?: 'runway' | 'flyctl';
  /** `runway` style: environment written into runway_env (default: the app name's suffix). */
  env?: string;
  /** Regions the machines are spread over, round robin (default: one region, `sim`). */
  regions?: string[];
  /** A volume per machine (of `groups`, default every group), in the machine's region, mounted at `path`. */
  volumes?: { name: string; path: string; size_gb?: number; groups?: string[] };
}

export interface BackendStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  /**
   * Every accepted machine update: which machine went to which release for which runway deploy
   * (metadata `runway_deploy`). Crash tests check from it that no deploy updated a machine twice.
   */
  updates: { machineId: string; release: string; deployId: string | null }[];
  /** Every machine made by a create (answered or not), with runway's launch id: no launch may make two. */
  creates: { machineId: string; launchId: string | null; deployId: string | null }[];
}

/** The whole server state as JSON (`--state FILE`). */
export interface SimServeState {
  format: 'runway-sim-serve/1';
  savedAtMs: number;
  sim: SimState;
  apps: AppRecord[];
  machines: [string, MachineExtra][];
  leases: [string, LeaseRecord][];
  /** Every accepted update so far (BackendStats.updates), so counts survive a restart. */
  updates?: BackendStats['updates'];
  creates?: BackendStats['creates'];
  /** Volumes (absent in files saved before volumes were modelled). */
  volumes?: VolumeRecord[];
}

export interface BackendOptions {
  clock: Clock;
  sim?: SimOptionsInput;
  simSettings?: SimProviderSettings;
  faults?: Partial<BackendFaults>;
  /** Owner shown on leases (Fly shows the token's user). */
  leaseOwner?: string;
  org?: string;
}

const WAIT_STATES = new Set(['started', 'stopped', 'destroyed', 'suspended']);

export class SimFlyBackend {
  /** Fly's app secrets (fly-secrets.ts): values never enter a machine's config. */
  readonly secrets = new SimAppSecrets(() => this.clock.now());
  readonly sim: SimProvider;
  readonly faults: BackendFaults;
  stats: BackendStats = { requests: 0, byRoute: {}, byStatus: {}, updates: [], creates: [] };
  private readonly clock: Clock;
  private readonly apps = new Map<string, AppRecord>();
  private readonly extras = new Map<string, MachineExtra>();
  private readonly leases = new Map<string, LeaseRecord>();
  readonly volumes: SimVolumes;
  /** Every machine as of its last event (free to read; the sim's own reads cost API calls). */
  private readonly mirror = new Map<string, Machine>();
  private readonly unsubscribers: (() => void)[] = [];
  /** The update of a machine being applied, if any (updates of one machine go one at a time). */
  private readonly updating = new Map<string, Promise<void>>();
  // Lease and metadata calls are per-machine actions too (1 req/s, burst 3 each: acquiring or
  // refreshing, looking up, releasing; reading, writing metadata), counted here since the SimProvider
  // has no such operations.
  private readonly buckets = {
    leaseAcquire: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    leaseGet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    leaseRelease: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    metadataGet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    metadataSet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
  };
  private readonly rng: SeededRandom;
  private readonly leaseOwner: string;
  private readonly org: string;
  private launches = 0;
  /** Set on every change; the server saves when it is set. */
  dirty = false;

  constructor(options: BackendOptions, saved?: SimServeState) {
    this.clock = options.clock;
    this.sim = saved
      ? SimProvider.fromJSON(saved.sim, options.clock, options.sim ?? {}, options.simSettings ?? {})
      : new SimProvider(options.clock, options.sim ?? {}, options.simSettings ?? {});
    this.volumes = new SimVolumes(options.clock);
    this.faults = { createDelayMs: 0, createDelayCount: 0, eventualConsistencyMs: 0, ...options.faults };
    this.rng = SeededRandom.fromSeed(this.sim.options.seed + 1);
    this.leaseOwner = options.leaseOwner ?? 'sim@runway.local';
    this.org = options.org ?? 'personal';
    if (saved) this.load(saved);
  }

  // ---- apps -------------------------------------------------------------------------------------

  createApp(name: string, org = this.org): FlyApp {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new HttpError(422, `invalid app name "${name}"`);
    if (this.apps.has(name)) throw new HttpError(422, 'Name has already been taken');
    this.addApp({ name, org, createdAtMs: this.clock.now() });
    return this.appJson(name);
  }

  ensureApp(name: string): void {
    if (!this.apps.has(name)) this.createApp(name);
  }

  getApp(name: string): FlyApp {
    this.requireApp(name);
    return this.appJson(name);
  }

  listApps(): FlyApp[] {
    return [...this.apps.keys()].sort().map((name) => this.appJson(name));
  }

  // ---- machines ---------------------------------------------------------------------------------

  async listMachines(app: string, query: Record<string, string>): Promise<FlyMachine[]> {
    this.requireApp(app);
    const machines = await this.sim.list(this.scope(app));
    const filters = Object.entries(query).filter(([k]) => k.startsWith('metadata.'));
    const out: FlyMachine[] = [];
    for (const m of machines) {
      const fm = this.toFly(m);
      if (query.region && fm.region !== query.region) continue;
      if (filters.some(([k, v]) => fm.config?.metadata?.[k.slice('metadata.'.length)] !== v)) continue;
      out.push(fm);
    }
    return out;
  }

  async createMachine(app: string, body: FlyLaunchRequest): Promise<FlyMachine> {
    this.requireApp(app);
    const config = this.validConfig(body);
    this.secrets.check(app, body.min_secrets_version);
    // A machine mounting volumes runs where they are, and only if no other machine has them.
    const region = this.volumes.place(app, config, body.region);
    // Held while the create is under way, so two creates cannot both take one volume.
    const pending = `pending:${++this.launches}`;
    this.volumes.attach(pending, config);
    const release = releaseOf({ id: '', state: 'created', config });
    // A release command as flyctl and runway make one: its group says so, and it runs once. A serving
    // machine whose user set auto_destroy and restart "no" stays a serving machine.
    const runOnce = config.auto_destroy === true && config.restart?.policy === 'no' && roleOf({ id: '', state: 'created', config }) === 'release-command';
    const spec: MachineSpec = {
      group: groupOf({ id: '', state: 'created', config }),
      release,
      // The sim's release-command role is "runs once, then destroys itself": Fly's auto_destroy + restart no.
      role: runOnce ? 'release-command' : 'serving',
      cordoned: body.skip_service_registration === true,
      // Fly has no idempotency key: every create is a new machine.
      launchId: `sim-serve:${++this.launches}`,
    };
    if (config.env) spec.env = { ...config.env };
    if (config.init?.cmd?.length) spec.command = config.init.cmd.join(' ');
    const extra = (id: string): MachineExtra => ({ name: body.name ?? `${app}-${id.slice(-6)}`, region: region ?? 'sim', config, bornAtMs: this.clock.now() });
    let machine: Machine;
    try {
      machine = await this.sim.create(this.scope(app), spec);
    } catch (error) {
      // A create that timed out may still have made its machine: then it is made whole (config,
      // metadata, image, volumes), as Fly's would be, never a bare machine the API cannot show.
      const made = [...this.mirror.values()].find((m) => m.launchId === spec.launchId && m.app === app);
      if (made && !this.extras.has(made.id)) {
        this.volumes.detach(pending);
        this.extras.set(made.id, extra(made.id));
        this.volumes.attach(made.id, config);
        this.recordCreate(made.id, config);
        this.secrets.deliver(app, made.id);
      }
      throw error;
    } finally {
      this.volumes.detach(pending);
    }
    this.secrets.deliver(app, machine.id);
    this.mirror.set(machine.id, machine);
    this.volumes.attach(machine.id, config);
    this.extras.set(machine.id, extra(machine.id));
    this.recordCreate(machine.id, config);
    const answer = this.toFly(machine);
    if (body.lease_ttl && !runOnce) answer.nonce = this.newLease(machine.id, body.lease_ttl, 'created with lease_ttl').nonce;
    this.dirty = true;
    if (this.faults.createDelayCount > 0) {
      // The machine exists already; the answer is late, so the client may give up on it (a timeout after which the change happened).
      this.faults.createDelayCount--;
      await this.clock.sleep(this.faults.createDelayMs);
    }
    return answer;
  }

  async getMachine(app: string, id: string): Promise<FlyMachine> {
    this.visible(app, id);
    return this.toFly(await this.sim.get(this.scope(app), id));
  }

  async updateMachine(app: string, id: string, body: FlyLaunchRequest, nonce: string | undefined): Promise<FlyMachine> {
    this.visible(app, id);
    const config = this.validConfig(body);
    this.checkLease(id, nonce);
    this.secrets.check(app, body.min_secrets_version);
    this.volumes.place(app, config, this.extras.get(id)!.region, id);
    // Updates of one machine apply one after another, and `current_version` is judged when a
    // request's turn comes: a late copy of an update that was already applied is refused, not
    // applied twice.
    const before = this.updating.get(id) ?? Promise.resolve();
    let versionBefore: string | undefined;
    const turn = before.then(async () => {
      versionBefore = this.mirror.get(id)?.instanceVersion;
      if (body.current_version !== undefined && versionBefore !== undefined && body.current_version !== versionBefore) {
        throw new HttpError(412, `failed_precondition: machine ${id} is at version ${versionBefore}, not ${body.current_version}`);
      }
      const updated = await this.sim.update(this.scope(app), id, { release: releaseOf({ id, state: 'started', config }) });
      this.secrets.deliver(app, id);
      return updated;
    });
    const settled = turn.then(
      () => {},
      () => {},
    );
    this.updating.set(id, settled);
    void settled.then(() => {
      if (this.updating.get(id) === settled) this.updating.delete(id);
    });
    let machine: Machine;
    try {
      machine = await turn;
    } catch (error) {
      // Answered with an error after the change happened (a timeout): it is recorded, config and all.
      const now = this.mirror.get(id);
      if (error instanceof ProviderError && now && versionBefore !== undefined && now.instanceVersion !== versionBefore) this.recordUpdate(id, now, config);
      throw error;
    }
    this.recordUpdate(id, machine, config);
    return this.toFly(machine);
  }

  private recordCreate(id: string, config: FlyMachineConfig): void {
    this.stats.creates.push({ machineId: id, launchId: config.metadata?.runway_launch ?? null, deployId: config.metadata?.runway_deploy ?? null });
    this.dirty = true;
  }

  private recordUpdate(id: string, machine: Machine, config: FlyMachineConfig): void {
    this.stats.updates.push({ machineId: id, release: machine.release, deployId: config.metadata?.runway_deploy ?? null });
    this.extras.get(id)!.config = config;
    this.volumes.attach(id, config);
    this.mirror.set(id, machine);
    this.dirty = true;
  }

  async startMachine(app: string, id: string, nonce: string | undefined): Promise<{ previous_state: string; migrated: boolean; new_host: string }> {
    this.visible(app, id);
    this.checkLease(id, nonce);
    const before = this.mirror.get(id)?.state ?? 'stopped';
    await this.sim.start(this.scope(app), id);
    this.dirty = true;
    return { previous_state: before, migrated: false, new_host: '' };
  }

  async stopMachine(app: string, id: string, nonce: string | undefined): Promise<{ ok: true }> {
    this.visible(app, id);
    this.checkLease(id, nonce);
    await this.sim.stop(this.scope(app), id);
    this.dirty = true;
    return { ok: true };
  }

  async destroyMachine(app: string, id: string, nonce: string | undefined, force: boolean): Promise<{ ok: true }> {
    this.visible(app, id);
    this.checkLease(id, nonce);
    const state = this.mirror.get(id)?.state;
    if (!force && (state === 'started' || state === 'starting' || state === 'stopping')) {
      throw new HttpError(412, 'failed_precondition: unable to destroy machine, not currently stopped, suspended, or failed (use kill=true)');
    }
    await this.sim.destroy(this.scope(app), id);
    this.leases.delete(id);
    this.dirty = true;
    return { ok: true };
  }

  async cordonMachine(app: string, id: string, nonce: string | undefined, cordon: boolean): Promise<{ ok: true }> {
    this.visible(app, id);
    this.checkLease(id, nonce);
    if (cordon) await this.sim.cordon(this.scope(app), id);
    else await this.sim.uncordon(this.scope(app), id);
    this.dirty = true;
    return { ok: true };
  }

  /**
   * GET …/wait: 200 once the machine is in `state` (on instance `version` when given); 408 after
   * `timeoutSeconds` (1..60); 404 if it is or becomes gone (unless waiting for destroyed). Like Fly,
   * a machine that exits does not end a wait for `started`: it runs to its timeout.
   */
  async waitMachine(app: string, id: string, state: string, version: string | undefined, timeoutSeconds: number, signal?: AbortSignal): Promise<{ ok: true }> {
    if (!WAIT_STATES.has(state)) throw new HttpError(400, `invalid state "${state}": expected started, stopped, suspended or destroyed`);
    if (!(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 1 && timeoutSeconds <= 60)) {
      throw new HttpError(400, `invalid timeout ${timeoutSeconds}: expected whole seconds between 1 and 60`);
    }
    this.requireApp(app);
    if (state !== 'destroyed') this.visible(app, id);
    const target = (state === 'suspended' ? 'stopped' : state) as 'started' | 'stopped' | 'destroyed';
    const timeoutMs = timeoutSeconds * 1000;
    const startMs = this.clock.now();
    try {
      await this.sim.waitFor(this.scope(app), id, version === undefined ? { state: target } : { state: target, instanceVersion: version }, timeoutMs, signal);
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      if (error.kind === 'wait_timeout') throw this.waitTimedOut(id, state);
      if (error.kind === 'not_found') throw new HttpError(404, `machine ${id} not found`);
      if (error.kind !== 'machine_failed') throw error;
    }
    // The machine exited (or reverted): Fly keeps waiting, and so do we, quietly, until the timeout.
    const left = startMs + timeoutMs - this.clock.now();
    const outcome = await this.waitQuietly(app, id, target, version, left, signal);
    if (outcome === 'ok') return { ok: true };
    if (outcome === 'gone') throw new HttpError(404, `machine ${id} not found`);
    throw this.waitTimedOut(id, state);
  }

  // ---- volumes ----------------------------------------------------------------------------------

  listVolumes(app: string): FlyVolume[] {
    this.requireApp(app);
    return this.volumes.list(app);
  }

  getVolume(app: string, id: string): FlyVolume {
    this.requireApp(app);
    return this.volumes.get(app, id);
  }

  createVolume(app: string, body: FlyCreateVolumeRequest | undefined): FlyVolume {
    this.requireApp(app);
    const volume = this.volumes.create(app, body);
    this.dirty = true;
    return volume;
  }

  destroyVolume(app: string, id: string): FlyVolume {
    this.requireApp(app);
    const volume = this.volumes.destroy(app, id);
    this.dirty = true;
    return volume;
  }

  // ---- leases and metadata ----------------------------------------------------------------------

  async acquireLease(app: string, id: string, ttlSeconds: number, description: string | undefined, nonce: string | undefined): Promise<{ status: number; body: FlyLease }> {
    this.visible(app, id);
    this.take(this.buckets.leaseAcquire, app, id, 'lease');
    await this.latency();
    if (!(ttlSeconds >= 1 && ttlSeconds <= 3600)) throw new HttpError(400, `invalid ttl ${ttlSeconds}: expected seconds between 1 and 3600`);
    const current = this.liveLease(id);
    // A refresh (nonce given) of a lease that is gone is refused, not turned into a new lease.
    if (!current && nonce) throw new HttpError(409, `lease nonce ${nonce.slice(0, 4)}… is not the lease of machine ${id}: the lease expired or was released`);
    if (current) {
      if (nonce !== current.nonce) throw this.leaseHeld(id, current);
      current.expiresAtMs = this.clock.now() + ttlSeconds * 1000;
      current.expires_at = Math.floor(current.expiresAtMs / 1000);
      this.dirty = true;
      return { status: 200, body: { status: 'success', data: publicLease(current) } };
    }
    const lease = this.newLease(id, ttlSeconds, description);
    // 200, as the spec declares for Machines_create_lease (a new lease and a refresh alike).
    return { status: 200, body: { status: 'success', data: publicLease(lease) } };
  }

  async getLease(app: string, id: string): Promise<FlyLease> {
    this.visible(app, id);
    this.take(this.buckets.leaseGet, app, id, 'get lease');
    await this.latency();
    const lease = this.liveLease(id);
    if (!lease) throw new HttpError(404, `machine ${id} has no active lease`);
    return { status: 'success', data: publicLease(lease) };
  }

  async releaseLease(app: string, id: string, nonce: string | undefined): Promise<Record<string, never>> {
    this.visible(app, id);
    this.take(this.buckets.leaseRelease, app, id, 'release lease');
    await this.latency();
    if (!nonce) throw new HttpError(400, 'the fly-machine-lease-nonce header is required to release a lease');
    const lease = this.liveLease(id);
    if (!lease) throw new HttpError(404, `machine ${id} has no active lease`);
    if (lease.nonce !== nonce) throw new HttpError(409, `lease nonce does not match the lease of machine ${id} (held by ${lease.owner})`);
    this.leases.delete(id);
    this.dirty = true;
    return {};
  }

  async getMetadata(app: string, id: string): Promise<Record<string, string>> {
    this.visible(app, id);
    this.take(this.buckets.metadataGet, app, id, 'get metadata');
    await this.latency();
    return { ...this.extras.get(id)?.config.metadata };
  }

  async setMetadata(app: string, id: string, key: string, value: string | undefined, nonce: string | undefined): Promise<void> {
    this.visible(app, id);
    this.take(this.buckets.metadataSet, app, id, 'set metadata');
    await this.latency();
    this.checkLease(id, nonce);
    const extra = this.extras.get(id);
    if (!extra) throw new HttpError(404, `machine ${id} not found`);
    const metadata = { ...extra.config.metadata };
    if (value === undefined) delete metadata[key];
    else metadata[key] = value;
    extra.config = { ...extra.config, metadata };
    this.dirty = true;
  }

  // ---- administration (not Fly's API: /_sim) ----------------------------------------------------

  /** Started machines passing checks, at once (no latency, no rate limits), as runway or flyctl would have left them. */
  seed(app: string, request: SeedRequest): string[] {
    this.ensureApp(app);
    const machines = this.sim.seed(this.scope(app), request.groups, request.release);
    const image = request.image ?? `registry.fly.io/${app}:${request.release}`;
    const regions = request.regions?.length ? request.regions : ['sim'];
    for (const [i, m] of machines.entries()) {
      const region = regions[i % regions.length]!;
      const v = request.volumes;
      const mounts = v && (!v.groups || v.groups.includes(m.group)) ? [{ volume: this.volumes.seed(app, m.id, v.name, region, v.size_gb ?? 1).id, path: v.path, name: v.name }] : undefined;
      this.mirror.set(m.id, m);
      const metadata: Record<string, string> =
        request.style === 'flyctl'
          ? { fly_platform_version: 'v2', fly_process_group: m.group, fly_release_id: `rel_${request.release}`, fly_release_version: request.release.replace(/^v/, ''), fly_flyctl_version: '0.3.0' }
          : {
              fly_platform_version: 'v2',
              fly_process_group: m.group,
              runway_app: app.replace(/-[^-]+$/, ''),
              runway_env: request.env ?? app.replace(/^.*-/, ''),
              runway_group: m.group,
              runway_release: request.release,
              runway_image: image,
              runway_role: 'serving',
            };
      this.extras.set(m.id, {
        name: `${app}-${m.id.slice(-6)}`,
        region,
        bornAtMs: 0,
        config: {
          image,
          init: { cmd: [`bin/${m.group}`] },
          guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
          metadata,
          services: m.group === 'web' ? [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 443, handlers: ['tls', 'http'] }] }] : [],
          checks: { up: { type: 'http', port: 8080, path: '/up', interval: '5s', timeout: '2s' } },
          ...(mounts ? { mounts } : {}),
        },
      });
    }
    this.dirty = true;
    return machines.map((m) => m.id);
  }

  setFaults(faults: Partial<BackendFaults>): BackendFaults {
    for (const [k, v] of Object.entries(faults)) if (typeof v === 'number' && v >= 0) Object.assign(this.faults, { [k]: v });
    return { ...this.faults };
  }

  count(route: string, status: number): void {
    this.stats.requests++;
    this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
  }

  toJSON(): SimServeState {
    const sim = this.sim.toJSON();
    const alive = new Set(sim.fleet.machines.map((m) => m.id));
    return {
      format: 'runway-sim-serve/1',
      savedAtMs: this.clock.now(),
      sim,
      apps: [...this.apps.values()],
      machines: [...this.extras].filter(([id]) => alive.has(id)),
      leases: [...this.leases].filter(([id, lease]) => alive.has(id) && lease.expiresAtMs > this.clock.now()),
      updates: this.stats.updates,
      creates: this.stats.creates,
      volumes: this.volumes.toJSON(),
    };
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    await this.sim.close();
  }

  // ---- internals --------------------------------------------------------------------------------

  private scope(app: string): FleetScope {
    return { app, env: FLY_SIM_ENV };
  }

  private addApp(record: AppRecord): void {
    this.apps.set(record.name, record);
    // Machines are mirrored from the sim's events: reading them costs no API call.
    this.unsubscribers.push(
      this.sim.subscribe(this.scope(record.name), (event) => {
        if (event.type === 'destroyed') {
          this.mirror.delete(event.machine.id);
          this.volumes.detach(event.machine.id);
        } else this.mirror.set(event.machine.id, event.machine);
        this.dirty = true;
      }),
    );
    this.dirty = true;
  }

  private load(saved: SimServeState): void {
    for (const app of saved.apps) this.addApp(app);
    for (const m of saved.sim.fleet.machines) {
      if (m.state === 'destroyed' || m.target === 'destroyed') continue;
      const { target: _t, machineEnv: _e, command: _c, revertedFrom: _r, revertedRelease: _rr, ...machine } = m;
      this.mirror.set(machine.id, machine);
    }
    // The loaded fleet settled mid-transition machines: read them back as the sim has them now.
    for (const m of this.sim.toJSON().fleet.machines) {
      const { target: _t, machineEnv: _e, command: _c, revertedFrom: _r, revertedRelease: _rr, ...machine } = m;
      this.mirror.set(machine.id, machine);
    }
    for (const [id, extra] of saved.machines) this.extras.set(id, { ...extra, bornAtMs: 0 });
    // Lease expiry continues where it was: the server's clock starts again where it was saved.
    for (const [id, lease] of saved.leases) this.leases.set(id, lease);
    this.stats.updates = [...(saved.updates ?? [])];
    this.stats.creates = [...(saved.creates ?? [])];
    this.volumes.load(saved.volumes);
    this.dirty = false;
  }

  private appJson(name: string): FlyApp {
    const record = this.apps.get(name)!;
    const count = [...this.mirror.values()].filter((m) => m.app === name).length;
    return { id: name, name, status: count > 0 ? 'deployed' : 'pending', machine_count: count, organization: { slug: record.org, name: record.org } };
  }

  private requireApp(app: string): void {
    if (!this.apps.has(app)) throw new HttpError(404, `app not found: ${app}`);
  }

  /** 404 for an unknown machine, or (eventual consistency) one created moments ago. */
  private visible(app: string, id: string): void {
    this.requireApp(app);
    const extra = this.extras.get(id);
    const known = this.mirror.get(id);
    if (!extra || (known && known.app !== app)) throw new HttpError(404, `machine ${id} not found`);
    if (extra.bornAtMs > 0 && this.clock.now() - extra.bornAtMs < this.faults.eventualConsistencyMs) throw new HttpError(404, `machine ${id} not found`);
  }

  private validConfig(body: FlyLaunchRequest | undefined): FlyMachineConfig {
    const config = body?.config;
    if (!config || typeof config !== 'object') throw new HttpError(400, 'missing config');
    if (typeof config.image !== 'string' || !config.image) throw new HttpError(422, 'config.image is required');
    if (!IMAGE_REFERENCE.test(config.image)) throw new HttpError(422, `invalid image reference "${config.image.slice(0, 200)}": expected [registry/]repository[:tag][@digest]`);
    if (config.metadata !== undefined && (typeof config.metadata !== 'object' || Object.values(config.metadata).some((v) => typeof v !== 'string'))) {
      throw new HttpError(400, 'config.metadata must map strings to strings');
    }
    return structuredClone(config);
  }

  /**
   * One API latency draw, as the SimProvider charges its calls: the rate limit is decided when a call
   * arrives, the change is made when it is answered.
   */
  private async latency(): Promise<void> {
    await this.clock.sleep(sampleLatency(this.sim.options.latency.api, this.rng));
  }

  private take(bucket: TokenBucket, app: string, id: string, what: string): void {
    const wait = this.sim.options.rateLimits ? bucket.take(`${app}/${id}`, this.clock.now()) : 0;
    if (wait > 0) throw new HttpError(429, `rate limit exceeded for ${what} on machine ${id}`, wait);
  }

  private liveLease(id: string): LeaseRecord | undefined {
    const lease = this.leases.get(id);
    if (lease && lease.expiresAtMs <= this.clock.now()) {
      this.leases.delete(id);
      return undefined;
    }
    return lease;
  }

  private newLease(id: string, ttlSeconds: number, description: string | undefined): LeaseRecord {
    const expiresAtMs = this.clock.now() + ttlSeconds * 1000;
    const lease: LeaseRecord = {
      nonce: randomBytes(6).toString('hex'),
      expires_at: Math.floor(expiresAtMs / 1000),
      expiresAtMs,
      owner: this.leaseOwner,
      description: description ?? '',
      version: this.mirror.get(id)?.instanceVersion ?? '',
    };
    this.leases.set(id, lease);
    this.dirty = true;
    return lease;
  }

  /** A change of a leased machine must carry the lease's nonce; a nonce of a lease that is gone is refused too. */
  private checkLease(id: string, nonce: string | undefined): void {
    const lease = this.liveLease(id);
    if (lease && lease.nonce !== nonce) throw this.leaseHeld(id, lease);
    if (!lease && nonce) throw new HttpError(409, `lease nonce ${nonce.slice(0, 4)}… is not the lease of machine ${id}: the lease expired or was released`);
  }

  private leaseHeld(id: string, lease: LeaseRecord): HttpError {
    const what = lease.description ? ` (${lease.description})` : '';
    return new HttpError(409, `machine ${id}: lease currently held by ${lease.owner}${what}, expires at ${new Date(lease.expiresAtMs).toISOString()}`);
  }

  private waitTimedOut(id: string, state: string): HttpError {
    return new HttpError(408, `deadline_exceeded: machine ${id} did not reach state ${state} in time`);
  }

  /** Wait on the mirror (no API cost): 'ok' when the machine is in `state` on `version`, 'gone', or 'timeout'. */
  private waitQuietly(app: string, id: string, state: 'started' | 'stopped' | 'destroyed', version: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<'ok' | 'gone' | 'timeout'> {
    return new Promise((resolve, reject) => {
      const timer = new AbortController();
      let done = false;
      const finish = (outcome: 'ok' | 'gone' | 'timeout' | Error) => {
        if (done) return;
        done = true;
        unsubscribe();
        timer.abort();
        signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const judge = (m: Machine | undefined, destroyed: boolean) => {
        if (destroyed || !m) return finish(state === 'destroyed' ? 'ok' : 'gone');
        if (m.state === state && (version === undefined || m.instanceVersion === version)) finish('ok');
      };
      const unsubscribe = this.sim.subscribe(this.scope(app), (event) => {
        if (event.machine.id === id) judge(event.machine, event.type === 'destroyed');
      });
      const onAbort = () => finish(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      judge(this.mirror.get(id), false);
      this.clock.sleep(Math.max(0, timeoutMs), timer.signal).then(
        () => finish('timeout'),
        () => {},
      );
    });
  }

  /** A sim machine as the Machines API shows it. */
  private toFly(m: Machine): FlyMachine {
    const extra = this.extras.get(m.id);
    const config = extra?.config ?? { image: 'unknown' };
    const fm: FlyMachine = {
      id: m.id,
      name: extra?.name ?? m.id,
      state: m.state,
      region: extra?.region ?? 'sim',
      instance_id: m.instanceVersion,
      private_ip: `fdaa:0:1:a7b:${m.id.slice(0, 4)}:${m.id.slice(4, 8)}:${m.id.slice(8, 12)}:2`,
      created_at: new Date(m.createdAtMs).toISOString(),
      updated_at: new Date(m.updatedAtMs).toISOString(),
      config,
      image_ref: parseImageRef(config.image),
      checks: checksOf(m, config),
      // The sim knows a process's exit code when it died; Fly tells it in an `exit` event.
      events:
        m.exitCode === undefined
          ? []
          : [{ type: 'exit', status: m.state === 'failed' ? 'failed' : 'stopped', source: 'flyd', timestamp: m.updatedAtMs, request: { exit_event: { exit_code: m.exitCode, exited_at: new Date(m.updatedAtMs).toISOString() } } }],
      host_status: 'ok',
      cordoned: m.cordoned,
    };
    return fm;
  }
}

function publicLease(lease: LeaseRecord): FlyLeaseData {
  const { expiresAtMs: _ms, ...data } = lease;
  return data;
}

/**
 * The sim decides one health per machine; Fly reports a status per check. Each configured check gets
 * the machine's health (a synthetic one when the config has none): passing, critical, or warning while
 * undecided (and while the machine is not running).
 */
function checksOf(m: Machine, config: FlyMachineConfig): FlyCheckStatus[] {
  const names = Object.keys(config.checks ?? {});
  const status = m.state !== 'started' ? (m.state === 'failed' ? 'critical' : 'warning') : m.health === 'passing' ? 'passing' : m.health === 'critical' ? 'critical' : 'warning';
  const at = new Date(m.updatedAtMs).toISOString();
  return (names.length > 0 ? names : ['servicecheck-00-sim']).map((name) => ({ name, status, output: status === 'passing' ? 'OK' : '', updated_at: at }));
}

