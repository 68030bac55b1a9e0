// The simulated fleet behind a Fly-compatible API: what `runway sim serve` answers, without HTTP.
// Every Machines API call goes through the SimProvider, so it costs the sim's API latency, obeys Fly's
// documented rate limits (429 + Retry-After) and the configured faults. What Fly has and the sim does
// not is kept here: apps, machine configs (metadata, image, services…), leases, eventual consistency
// (a just-created machine 404s for a while), and Fly's wait semantics (a wait for `started` does not
// end when the machine exits: it runs to its timeout, as Fly's does — flyctl#2653). Each of those is
// its own file beside this one (sim-apps.ts, machine-json.ts, sim-leases.ts, fly-wait.ts, volumes.ts,
// fly-secrets.ts, fleet-mirror.ts, one-at-a-time.ts, per-machine-calls.ts, seed.ts, machine-names.ts,
// destroyed-machines.ts), and so are the create (fly-create.ts) and the state the server saves
// (saved-state.ts); this file holds the Machines API operations over them.

import type { Clock } from '../../../domain/clock.js';
import type { FleetScope, Machine } from '../../../domain/types.js';
import { ProviderError } from '../../contract.js';
import type {
  FlyApp,
  FlyCreateVolumeRequest,
  FlyVolume,
  FlyLaunchRequest,
  FlyLease,
  FlyMachine,
  FlyMachineConfig,
} from '../../fly/fly-types.js';
import { releaseOf } from '../../fly/machine-mapping.js';
import type { BackendFaults, BackendOptions, BackendStats, SimServeState } from './backend-types.js';
import { FleetMirror } from './fleet-mirror.js';
import { SimDestroyedMachines } from './destroyed-machines.js';
import { createLikeFly, type CreateParts } from './fly-create.js';
import { SimAppSecrets } from './fly-secrets.js';
import { checkWaitRequest, waitLikeFly } from './fly-wait.js';
import { HttpError } from './http-error.js';
import { toFlyMachine, validConfig, type MachineExtra } from './machine-json.js';
import { MachineTurns } from './machine-turns.js';
import { PerMachineCalls } from './per-machine-calls.js';
import { SeededRandom } from '../random.js';
import { loadState, saveState, type StateParts } from './saved-state.js';
import { seededExtras, type SeedRequest } from './seed.js';
import { SimApps } from './sim-apps.js';
import { SimLeases } from './sim-leases.js';
import { SimMachineNames } from './machine-names.js';
import { SimProvider } from '../sim-provider.js';
import { SimVolumes } from './volumes.js';

export { HttpError } from './http-error.js';
export type { SeedRequest } from './seed.js';
export type { BackendFaults, BackendOptions, BackendStats, SimServeState } from './backend-types.js';

const NOT_STOPPED =
  'failed_precondition: unable to destroy machine, not currently stopped, suspended, or failed (use kill=true)';

/** The sim scope of a Fly app: the app is the unit of rate limits, as on Fly. */
export const FLY_SIM_ENV = 'fly';

export class SimFlyBackend {
  /** Fly's app secrets (fly-secrets.ts): values never enter a machine's config. */
  readonly secrets = new SimAppSecrets(() => this.clock.now());
  readonly sim: SimProvider;
  readonly faults: BackendFaults;
  stats: BackendStats = { requests: 0, byRoute: {}, byStatus: {}, updates: [], creates: [] };
  private readonly clock: Clock;
  private readonly apps: SimApps;
  /** What Fly knows of each live machine and the sim does not; a destroyed one's moves to `destroyed`. */
  private readonly extras = new Map<string, MachineExtra>();
  /** Destroyed machines, for Machines_list's include_deleted (destroyed-machines.ts). */
  private readonly destroyed = new SimDestroyedMachines();
  /** Machine names taken per app, and the sim's own launch ids (machine-names.ts). */
  private readonly names = new SimMachineNames();
  private readonly leases: SimLeases;
  readonly volumes: SimVolumes;
  /** Every machine as of its last event (free to read; the sim's own reads cost API calls). */
  private readonly mirror: FleetMirror;
  /** The changes of each machine, one at a time (machine-turns.ts). */
  readonly turns: MachineTurns;
  private readonly calls: PerMachineCalls;
  private readonly createParts: CreateParts;
  /** Set on every change; the server saves when it is set. */
  dirty = false;

  constructor(options: BackendOptions, saved?: SimServeState) {
    this.clock = options.clock;
    this.sim = saved
      ? SimProvider.fromJSON(saved.sim, options.clock, options.sim ?? {}, options.simSettings ?? {})
      : new SimProvider(options.clock, options.sim ?? {}, options.simSettings ?? {});
    this.volumes = new SimVolumes(options.clock);
    const changed = () => void (this.dirty = true);
    this.mirror = new FleetMirror(this.sim, (machine) => this.bury(machine), changed);
    this.faults = { createDelayMs: 0, createDelayCount: 0, eventualConsistencyMs: 0, ...options.faults };
    this.turns = new MachineTurns(options.clock, this.faults);
    this.calls = new PerMachineCalls(options.clock, this.sim, SeededRandom.fromSeed(this.sim.options.seed + 1));
    this.leases = new SimLeases(
      options.clock,
      options.leaseOwner ?? 'sim@runway.local',
      (id) => this.mirror.get(id)?.instanceVersion,
      changed,
    );
    this.apps = new SimApps(
      options.clock,
      options.org ?? 'personal',
      (name) => {
        this.mirror.follow(this.scope(name));
        this.dirty = true;
      },
      (name) => this.mirror.countOf(name),
    );
    this.createParts = {
      clock: this.clock,
      faults: this.faults,
      names: this.names,
      volumes: this.volumes,
      secrets: this.secrets,
      sim: this.sim,
      mirror: this.mirror,
      extras: this.extras,
      leases: this.leases,
      stats: () => this.stats,
      scope: (app) => this.scope(app),
      toFly: (m) => this.toFly(m),
      changed,
    };
    if (saved) {
      loadState(this.stateParts(), saved, (machine) => this.bury(machine));
      this.dirty = false;
    }
  }

  // ---- apps -------------------------------------------------------------------------------------

  createApp(name: string, org?: string): FlyApp {
    return this.apps.create(name, org);
  }

  ensureApp(name: string): void {
    this.apps.ensure(name);
  }

  getApp(name: string): FlyApp {
    return this.apps.get(name);
  }

  listApps(): FlyApp[] {
    return this.apps.list();
  }

  // ---- machines ---------------------------------------------------------------------------------

  async listMachines(app: string, query: Record<string, string>): Promise<FlyMachine[]> {
    this.apps.require(app);
    const machines = await this.sim.list(this.scope(app));
    const filters = Object.entries(query).filter(([k]) => k.startsWith('metadata.'));
    const out: FlyMachine[] = [];
    // Destroyed machines only when asked for (the spec's include_deleted), after the live ones.
    const listed = machines.map((m) => this.toFly(m));
    if (query.include_deleted === 'true') listed.push(...this.destroyed.list(app));
    for (const fm of listed) {
      if (query.region && fm.region !== query.region) continue;
      if (filters.some(([k, v]) => fm.config?.metadata?.[k.slice('metadata.'.length)] !== v)) continue;
      out.push(fm);
    }
    return out;
  }

  /** POST …/machines (fly-create.ts). */
  createMachine(app: string, body: FlyLaunchRequest): Promise<FlyMachine> {
    this.apps.require(app);
    return createLikeFly(this.createParts, app, body);
  }

  async getMachine(app: string, id: string): Promise<FlyMachine> {
    this.visible(app, id);
    return this.toFly(await this.sim.get(this.scope(app), id));
  }

  async updateMachine(app: string, id: string, body: FlyLaunchRequest, nonce: string | undefined): Promise<FlyMachine> {
    this.visible(app, id);
    const config = validConfig(body);
    this.leases.check(id, nonce);
    this.secrets.check(app, body.min_secrets_version);
    this.volumes.place(app, config, this.extras.get(id)!.region, id);
    // Updates of one machine apply one after another, and `current_version` is judged when a
    // request's turn comes: a late copy of an update that was already applied is refused, not
    // applied twice.
    let versionBefore: string | undefined;
    const turn = this.turns.change(id, async () => {
      versionBefore = this.mirror.get(id)?.instanceVersion;
      if (body.current_version !== undefined && versionBefore !== undefined && body.current_version !== versionBefore) {
        throw new HttpError(
          412,
          `failed_precondition: machine ${id} is at version ${versionBefore}, not ${body.current_version}`,
        );
      }
      const updated = await this.sim.update(this.scope(app), id, {
        release: releaseOf({ id, state: 'started', config }),
      });
      this.secrets.deliver(app, id);
      return updated;
    });
    let machine: Machine;
    try {
      machine = await turn;
    } catch (error) {
      // Answered with an error after the change happened (a timeout): it is recorded, config and all.
      const now = this.mirror.get(id);
      if (error instanceof ProviderError && now && versionBefore !== undefined && now.instanceVersion !== versionBefore)
        this.recordUpdate(id, now, config);
      throw error;
    }
    this.recordUpdate(id, machine, config);
    return this.toFly(machine);
  }

  private recordUpdate(id: string, machine: Machine, config: FlyMachineConfig): void {
    this.stats.updates.push({
      machineId: id,
      release: machine.release,
      deployId: config.metadata?.runway_deploy ?? null,
    });
    const extra = this.extras.get(id);
    if (extra) extra.config = config; // else destroyed meanwhile: listed as it was
    this.volumes.attach(id, config);
    this.mirror.set(machine);
    this.dirty = true;
  }

  async startMachine(
    app: string,
    id: string,
    nonce: string | undefined,
  ): Promise<{ previous_state: string; migrated: boolean; new_host: string }> {
    this.visible(app, id);
    this.leases.check(id, nonce);
    const before = this.mirror.get(id)?.state ?? 'stopped';
    await this.turns.action(id, () => this.sim.start(this.scope(app), id));
    this.dirty = true;
    return { previous_state: before, migrated: false, new_host: '' };
  }

  async stopMachine(app: string, id: string, nonce: string | undefined): Promise<{ ok: true }> {
    this.visible(app, id);
    this.leases.check(id, nonce);
    await this.turns.action(id, () => this.sim.stop(this.scope(app), id));
    this.dirty = true;
    return { ok: true };
  }

  async destroyMachine(app: string, id: string, nonce: string | undefined, force: boolean): Promise<{ ok: true }> {
    this.visible(app, id);
    this.leases.check(id, nonce);
    await this.turns.change(id, () => {
      const state = this.mirror.get(id)?.state;
      if (!force && (state === 'started' || state === 'starting' || state === 'stopping'))
        throw new HttpError(412, NOT_STOPPED);
      return this.sim.destroy(this.scope(app), id);
    });
    this.leases.drop(id);
    this.dirty = true;
    return { ok: true };
  }

  async cordonMachine(app: string, id: string, nonce: string | undefined, cordon: boolean): Promise<{ ok: true }> {
    this.visible(app, id);
    this.leases.check(id, nonce);
    await this.turns.action(id, () =>
      cordon ? this.sim.cordon(this.scope(app), id) : this.sim.uncordon(this.scope(app), id),
    );
    this.dirty = true;
    return { ok: true };
  }

  /** GET …/wait (fly-wait.ts). */
  async waitMachine(
    app: string,
    id: string,
    state: string,
    version: string | undefined,
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<{ ok: true }> {
    checkWaitRequest(state, timeoutSeconds);
    this.apps.require(app);
    if (state !== 'destroyed') this.visible(app, id);
    return waitLikeFly({
      sim: this.sim,
      clock: this.clock,
      scope: this.scope(app),
      id,
      state,
      version,
      timeoutSeconds,
      mirrored: (m) => this.mirror.get(m),
      signal,
    });
  }

  // ---- volumes ----------------------------------------------------------------------------------

  listVolumes(app: string): FlyVolume[] {
    this.apps.require(app);
    return this.volumes.list(app);
  }

  getVolume(app: string, id: string): FlyVolume {
    this.apps.require(app);
    return this.volumes.get(app, id);
  }

  createVolume(app: string, body: FlyCreateVolumeRequest | undefined): FlyVolume {
    this.apps.require(app);
    const volume = this.volumes.create(app, body);
    this.dirty = true;
    return volume;
  }

  destroyVolume(app: string, id: string): FlyVolume {
    this.apps.require(app);
    const volume = this.volumes.destroy(app, id);
    this.dirty = true;
    return volume;
  }

  // ---- leases and metadata ----------------------------------------------------------------------

  async acquireLease(
    app: string,
    id: string,
    ttlSeconds: number,
    description: string | undefined,
    nonce: string | undefined,
  ): Promise<{ status: number; body: FlyLease }> {
    this.visible(app, id);
    await this.calls.charge('leaseAcquire', app, id, 'lease');
    return this.leases.acquire(id, ttlSeconds, description, nonce);
  }

  async getLease(app: string, id: string): Promise<FlyLease> {
    this.visible(app, id);
    await this.calls.charge('leaseGet', app, id, 'get lease');
    return this.leases.show(id);
  }

  async releaseLease(app: string, id: string, nonce: string | undefined): Promise<Record<string, never>> {
    this.visible(app, id);
    await this.calls.charge('leaseRelease', app, id, 'release lease');
    this.leases.release(id, nonce);
    return {};
  }

  async getMetadata(app: string, id: string): Promise<Record<string, string>> {
    this.visible(app, id);
    await this.calls.charge('metadataGet', app, id, 'get metadata');
    return { ...this.extras.get(id)?.config.metadata };
  }

  async setMetadata(
    app: string,
    id: string,
    key: string,
    value: string | undefined,
    nonce: string | undefined,
  ): Promise<void> {
    this.visible(app, id);
    await this.calls.charge('metadataSet', app, id, 'set metadata');
    this.leases.check(id, nonce);
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
    for (const m of machines) this.mirror.set(m);
    for (const [id, extra] of seededExtras(app, machines, request, this.volumes)) {
      this.extras.set(id, extra);
      this.names.settle(app, extra.name, id);
    }
    this.dirty = true;
    return machines.map((m) => m.id);
  }

  setFaults(faults: Partial<BackendFaults>): BackendFaults {
    for (const [k, v] of Object.entries(faults))
      if ((typeof v === 'number' && v >= 0) || typeof v === 'boolean') Object.assign(this.faults, { [k]: v });
    return { ...this.faults };
  }

  count(route: string, status: number): void {
    this.stats.requests++;
    this.stats.byRoute[route] = (this.stats.byRoute[route] ?? 0) + 1;
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
  }

  toJSON(): SimServeState {
    return saveState(this.stateParts());
  }

  async close(): Promise<void> {
    this.mirror.close();
    await this.sim.close();
  }

  // ---- internals --------------------------------------------------------------------------------

  private scope(app: string): FleetScope {
    return { app, env: FLY_SIM_ENV };
  }

  private stateParts(): StateParts {
    const { clock, sim, apps, extras, mirror, names, leases, volumes, destroyed } = this;
    return { clock, sim, apps, extras, mirror, names, leases, volumes, destroyed, stats: this.stats };
  }

  /** A machine was destroyed: its volumes are free, and include_deleted lists it from now on. */
  private bury(machine: Machine): void {
    this.volumes.detach(machine.id);
    const extra = this.extras.get(machine.id);
    if (!extra) return;
    this.extras.delete(machine.id);
    this.destroyed.add(machine, extra);
    this.dirty = true;
  }

  /** 404 for an unknown machine, or (eventual consistency) one created moments ago. */
  private visible(app: string, id: string): void {
    this.apps.require(app);
    const extra = this.extras.get(id);
    const known = this.mirror.get(id);
    if (!extra || (known && known.app !== app)) throw new HttpError(404, `machine ${id} not found`);
    if (extra.bornAtMs > 0 && this.clock.now() - extra.bornAtMs < this.faults.eventualConsistencyMs)
      throw new HttpError(404, `machine ${id} not found`);
  }

  /** A sim machine as the Machines API shows it. */
  private toFly(m: Machine): FlyMachine {
    // A read the sim answered just before the machine was destroyed still shows it as it was.
    return toFlyMachine(m, this.extras.get(m.id) ?? this.destroyed.extraOf(m));
  }
}
