// What each environment's fleet looks like, for the overview and runway_fleet_machines, without
// asking the provider on every page load: one `list` per environment at most every `ttlMs` (one
// request in flight per environment, shared by every reader), kept current between lists by the
// machine events of deploys this instance runs. While such a deploy runs, the provider is not asked
// at all (on the sim, another session would only see the fleet as saved before the deploy).

import type { RunwayConfig } from '../../config/types.js';
import type { Clock } from '../../domain/clock.js';
import type { Machine } from '../../domain/types.js';
import type { DeployService } from '../deploy-service.js';

export interface FleetSnapshot {
  env: string;
  machines: Machine[];
  /** Wall-clock ms of the last provider list (events since keep it current). */
  observedAtMs: number;
  error: string | null;
}

interface Entry {
  machines: Map<string, Machine>;
  observedAtMs: number;
  error: string | null;
  loading: Promise<void> | undefined;
}

export class FleetCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly config: RunwayConfig,
    private readonly deploys: DeployService,
    private readonly wall: Clock,
    private readonly ttlMs = 15_000,
    /** Longest a page waits for a provider before showing what it has. */
    private readonly waitMs = 2_000,
  ) {}

  /** A machine changed in a deploy this instance runs. */
  apply(env: string, machine: Machine): void {
    const entry = this.entries.get(env);
    if (!entry) return;
    if (machine.state === 'destroyed') entry.machines.delete(machine.id);
    else entry.machines.set(machine.id, machine);
  }

  private deployRunsHere(env: string): boolean {
    return this.deploys.running().some((d) => d.deploy.env === env);
  }

  private load(env: string, entry: Entry): Promise<void> {
    entry.loading ??= (async () => {
      let session;
      try {
        session = await this.deploys.openSession(env);
        const machines = await session.provider.list({ app: this.config.app.name, env });
        entry.machines = new Map(machines.map((m) => [m.id, m]));
        entry.error = null;
      } catch (err) {
        entry.error = (err as Error).message;
      } finally {
        entry.observedAtMs = this.wall.now();
        await session?.close().catch(() => {});
        entry.loading = undefined;
      }
    })();
    return entry.loading;
  }

  async get(env: string): Promise<FleetSnapshot> {
    let entry = this.entries.get(env);
    if (!entry) {
      entry = { machines: new Map(), observedAtMs: 0, error: null, loading: undefined };
      this.entries.set(env, entry);
    }
    const stale = this.wall.now() - entry.observedAtMs > this.ttlMs;
    // First look: wait (a little) for the provider. Later: serve the cache, refresh behind it.
    if (entry.observedAtMs === 0) {
      await Promise.race([this.load(env, entry), new Promise((r) => setTimeout(r, this.waitMs).unref())]);
    } else if (stale && !this.deployRunsHere(env)) {
      void this.load(env, entry);
    }
    return { env, machines: [...entry.machines.values()], observedAtMs: entry.observedAtMs, error: entry.error };
  }

  async all(): Promise<FleetSnapshot[]> {
    return Promise.all(Object.keys(this.config.environments).map((env) => this.get(env)));
  }
}
