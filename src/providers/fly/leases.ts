// Size: ~430 lines: taking, refreshing and releasing a lease share the held-lease table and its refresher;
// stale-lease recognition is stale-leases.ts.
// Machine leases (Fly's lock on changing a machine), as runway uses them:
//  - acquired lazily, before runway's first change of a machine (or given by the create itself, with
//    `lease_ttl`), and sent as fly-machine-lease-nonce on every change of that machine;
//  - refreshed in the background on the injected Clock every TTL/3 while the machine is in use (a
//    change or a wait in flight, or one in the last TTL/3), and released as soon as it is idle: a
//    lease does not outlive runway's work on the machine, and a 500-machine deploy does not refresh
//    500 leases for its whole duration (what flyctl's rolling does);
//  - all released on close(). A runway that dies leaves leases that lapse within one TTL (30 s by
//    default), not the 30 minutes that blocked redeploys (flyctl#1728);
//  - a lease held by someone else (flyctl, a human, another runway) is waited for, up to `waitMs`,
//    then the change fails with a conflict naming the holder. Runway only clears leases of its own
//    session (one that lapsed while it worked) and of a run of the same environment on this host whose
//    process is gone (killed), unless `force` is set; and the lease Fly handed out with a machine the
//    deploy runway works for created (`lease_ttl`) in an earlier run: that run is dead, or this one
//    would not hold the deploy.
// Retries of refused calls stay the ResilientProvider's: a 429 on a lease call fails the change it
// belongs to, which the ResilientProvider retries.

import pLimit from 'p-limit';
import { AGAIN_AT_ONCE, GIVE_UP, retrying } from '../../domain/backoff.js';
import type { Clock } from '../../domain/clock.js';
import { ProviderError } from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import type { FlyLease, FlyLeaseData } from './fly-types.js';
import { handedToDeploy, heldByDeadRun } from './stale-leases.js';

export interface LeaseSettings {
  ttlMs: number;
  /** Longest wait for a lease someone else holds. */
  waitMs: number;
  /** Written into every lease runway takes; identifies this session's leases. */
  description: string;
  /** Clear leases held by others instead of waiting for them. */
  force: boolean;
}

export interface LeaseStats {
  acquired: number;
  /** Leases Fly handed out with a create (lease_ttl). */
  adopted: number;
  refreshed: number;
  released: number;
  /** Leases lost: a refresh was refused, or a change said the lease was gone. */
  lost: number;
  /** Times runway found a machine leased by someone else and waited. */
  waitedForOthers: number;
  /** Foreign or stale leases cleared (own session's, or any with `force`). */
  cleared: number;
}

interface Held {
  app: string;
  id: string;
  nonce: string;
  /** Client-clock time the lease runs out (as far as runway knows). */
  expiresAtMs: number;
  lastUsedMs: number;
  /** Changes and waits in flight on the machine. */
  busy: number;
}

const key = (app: string, id: string) => `${app}/${id}`;
const machinePath = (app: string, id: string) =>
  `/v1/apps/${encodeURIComponent(app)}/machines/${encodeURIComponent(id)}`;

export class LeaseKeeper {
  stats: LeaseStats = { acquired: 0, adopted: 0, refreshed: 0, released: 0, lost: 0, waitedForOthers: 0, cleared: 0 };
  private readonly held = new Map<string, Held>();
  private readonly acquiring = new Map<string, Promise<Held>>();
  private readonly releasing = new Map<string, Promise<void>>();
  private refresher: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private closed = false;
  /** The deploy runway's changes are for (told by the engine); undefined outside a deploy. */
  private deployId: string | undefined;

  constructor(
    private readonly client: FlyApiClient,
    private readonly clock: Clock,
    private readonly settings: LeaseSettings,
  ) {}

  workingFor(deployId: string): void {
    this.deployId = deployId;
  }

  get ttlSeconds(): number {
    return Math.max(1, Math.round(this.settings.ttlMs / 1000));
  }

  /** Leases held right now. */
  get size(): number {
    return this.held.size;
  }

  has(app: string, id: string): boolean {
    return this.held.has(key(app, id));
  }

  /** A lease Fly handed out with a create (`lease_ttl`): the nonce came with the machine. */
  adopt(app: string, id: string, nonce: string, expiresAtMs?: number): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.held.set(key(app, id), {
      app,
      id,
      nonce,
      expiresAtMs: expiresAtMs ?? now + this.settings.ttlMs,
      lastUsedMs: now,
      busy: 0,
    });
    this.stats.adopted++;
    this.startRefresher();
  }

  /**
   * The lease a create handed out with its machine (lease_ttl) when the create's answer was lost: read
   * it back and hold it, so the machine's first change does not wait out a lease that is runway's own
   * (lease_wait). It is the create's when it runs out one TTL after the machine was made (nobody took
   * or refreshed it since). Held as due for a refresh: the refresh tells whether it is still valid.
   */
  async adoptLost(app: string, id: string, createdAtMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed || this.held.has(key(app, id)) || !Number.isFinite(createdAtMs)) return false;
    // Best effort: when the lease cannot be read, the change takes (or waits for) it as usual.
    const holder = await this.holder(app, id, signal).catch(() => undefined);
    if (!holder || holder.expires_at * 1000 > createdAtMs + this.ttlSeconds * 1000 + 1_000) return false;
    this.adopt(app, id, holder.nonce, this.clock.now());
    return true;
  }

  /**
   * Run `change` holding the machine's lease; it gets the nonce. If Fly says the lease is not ours
   * any more (it lapsed, someone cleared it), the lease is taken again once and the change re-sent.
   */
  withLease<T>(app: string, id: string, change: (nonce: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let lease: Held | undefined;
    return retrying(
      this.clock,
      async () => {
        const taken = (lease = await this.use(app, id, signal));
        try {
          return await change(taken.nonce);
        } finally {
          taken.busy--;
          taken.lastUsedMs = this.clock.now();
        }
      },
      (error, attempt) => {
        if (attempt > 1 || !lease || !isLeaseRefusal(error)) return GIVE_UP;
        this.drop(lease);
        this.stats.lost++;
        return AGAIN_AT_ONCE;
      },
      signal,
    );
  }

  /** Mark the machine in use while a wait runs, so its lease (if any) is refreshed, not released. */
  hold(app: string, id: string): () => void {
    const lease = this.held.get(key(app, id));
    if (!lease) return () => {};
    lease.busy++;
    return () => {
      lease.busy--;
      lease.lastUsedMs = this.clock.now();
    };
  }

  /** The machine is gone: its lease went with it. */
  forget(app: string, id: string): void {
    this.held.delete(key(app, id));
  }

  /** Release every lease (command end). Errors are ignored: an unreleased lease lapses within one TTL. */
  async releaseAll(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    // Refreshes in flight finish first: one landing after its lease's release would take it again.
    await this.refresher;
    await Promise.allSettled([...this.acquiring.values(), ...this.releasing.values()]);
    const limit = pLimit(16);
    const all = [...this.held.values()];
    this.held.clear();
    await Promise.allSettled(all.map((lease) => limit(() => this.release(lease))));
  }

  // ---- acquisition ------------------------------------------------------------------------------

  /** The machine's lease, taken if needed, marked busy (synchronously, so the refresher never releases it under us). */
  private async use(app: string, id: string, signal?: AbortSignal): Promise<Held> {
    for (;;) {
      const k = key(app, id);
      const pendingRelease = this.releasing.get(k);
      if (pendingRelease) await pendingRelease;
      const lease = this.held.get(k);
      if (lease) {
        // A lease about to run out (the refresher is late or failing) is refreshed before it is
        // trusted; one that could not be refreshed and has run out is taken again.
        if (lease.expiresAtMs - this.clock.now() <= Math.min(2_000, this.settings.ttlMs / 4)) {
          await this.refresh(lease);
          if (this.held.get(k) !== lease) continue; // refused: take it again
          if (lease.expiresAtMs <= this.clock.now()) {
            this.drop(lease);
            continue;
          }
          // Refreshed, or (after a transient error) still valid for a moment: use it.
        }
        lease.busy++;
        lease.lastUsedMs = this.clock.now();
        return lease;
      }
      let acquiring = this.acquiring.get(k);
      if (!acquiring) {
        acquiring = this.acquire(app, id, signal).finally(() => this.acquiring.delete(k));
        this.acquiring.set(k, acquiring);
      }
      const got = await acquiring;
      if (this.held.get(k) !== got) continue; // released or lost between acquisition and now
      got.busy++;
      got.lastUsedMs = this.clock.now();
      return got;
    }
  }

  private async acquire(app: string, id: string, signal?: AbortSignal): Promise<Held> {
    if (this.closed) throw new ProviderError('unavailable', 'fly provider is closed', { machineId: id });
    const startedMs = this.clock.now();
    const deadline = startedMs + this.settings.waitMs;
    let waited = false;
    for (;;) {
      try {
        const { body } = await this.client.send<FlyLease>({
          method: 'POST',
          path: `${machinePath(app, id)}/lease`,
          query: { ttl: this.ttlSeconds },
          body: { ttl: this.ttlSeconds, description: this.settings.description },
          signal,
          machineId: id,
          what: `lease machine ${id}`,
          label: 'lease',
        });
        const nonce = body?.data?.nonce;
        if (!nonce)
          throw new ProviderError(
            'unavailable',
            `fly: lease machine ${id}: answer without a nonce (${JSON.stringify(body)})`,
            { machineId: id },
          );
        const now = this.clock.now();
        const lease: Held = { app, id, nonce, expiresAtMs: now + this.settings.ttlMs, lastUsedMs: now, busy: 0 };
        if (this.closed) {
          await this.release(lease);
          throw new ProviderError('unavailable', 'fly provider is closed', { machineId: id });
        }
        this.held.set(key(app, id), lease);
        this.stats.acquired++;
        this.startRefresher();
        return lease;
      } catch (error) {
        if (!(error instanceof ProviderError && error.kind === 'conflict')) throw error;
        const holder = await this.holder(app, id, signal);
        if (!holder) continue; // released between our attempt and our look: try again at once
        if (
          holder.description === this.settings.description ||
          this.settings.force ||
          heldByDeadRun(holder.description ?? '', this.settings.description) ||
          (await handedToDeploy(this.client, app, id, holder, this.deployId, signal))
        ) {
          await this.clear(app, id, holder, signal);
          continue;
        }
        const remaining = deadline - this.clock.now();
        if (remaining <= 0) throw this.heldBy(id, holder, this.clock.now() - startedMs);
        if (!waited) this.stats.waitedForOthers++;
        waited = true;
        // Not a backoff (domain/backoff.ts): what is waited for is a known time, the holder's lease running out.
        // Sleep until then; clamped, because the server's clock may not be ours,
        // and at least 1 s, so looking again stays within Fly's 1 request/s per action and machine.
        const untilExpiry = holder.expires_at * 1000 - this.clock.now();
        await this.clock.sleep(Math.min(remaining, Math.max(1_000, Math.min(5_000, untilExpiry + 100))), signal);
      }
    }
  }

  /** Who holds the machine's lease (GET lease); undefined when nobody does any more. */
  private async holder(app: string, id: string, signal?: AbortSignal): Promise<FlyLeaseData | undefined> {
    try {
      const { body } = await this.client.send<FlyLease>({
        method: 'GET',
        path: `${machinePath(app, id)}/lease`,
        signal,
        machineId: id,
        what: `look up the lease of machine ${id}`,
        label: 'lease',
      });
      return body?.data?.nonce ? body.data : undefined;
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'not_found') return undefined;
      throw error;
    }
  }

  private async clear(app: string, id: string, holder: FlyLeaseData, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send({
        method: 'DELETE',
        path: `${machinePath(app, id)}/lease`,
        nonce: holder.nonce,
        signal,
        machineId: id,
        what: `clear the lease of machine ${id}`,
        label: 'lease',
      });
      this.stats.cleared++;
    } catch (error) {
      // Gone or changed hands meanwhile: the next attempt will see.
      if (!(error instanceof ProviderError && (error.kind === 'not_found' || error.kind === 'conflict'))) throw error;
    }
  }

  private heldBy(id: string, holder: FlyLeaseData, waitedMs: number): ProviderError {
    const until = Number.isFinite(holder.expires_at) ? new Date(holder.expires_at * 1000).toISOString() : 'unknown';
    const what = holder.description ? ` (${holder.description})` : '';
    const waitedText = `; waited ${(waitedMs / 1000).toFixed(1)} s for it (lease_wait ${(this.settings.waitMs / 1000).toFixed(1)} s)`;
    return new ProviderError(
      'conflict',
      `fly: machine ${id} is leased by ${holder.owner || 'someone else'}${what} until ${until}${waitedText}. ` +
        'Another deploy is changing it: let it finish, or clear a stale lease (fly machine leases clear).',
      { status: 409, machineId: id },
    );
  }

  // ---- refresh and release ----------------------------------------------------------------------

  private startRefresher(): void {
    if (this.refresher || this.closed) return;
    this.refresher = this.refreshLoop().finally(() => {
      this.refresher = undefined;
      // A lease taken while the loop was ending needs a loop of its own.
      if (this.held.size > 0 && !this.closed) this.startRefresher();
    });
  }

  /** Runs while leases are held (so an idle provider keeps no timer): refresh busy ones, release idle ones. */
  private async refreshLoop(): Promise<void> {
    const period = Math.max(250, this.settings.ttlMs / 3);
    const limit = pLimit(16);
    while (this.held.size > 0 && !this.closed) {
      try {
        await this.clock.sleep(period, this.stop.signal);
      } catch {
        return;
      }
      const now = this.clock.now();
      const work: Promise<void>[] = [];
      for (const lease of [...this.held.values()]) {
        if (lease.busy > 0 || now - lease.lastUsedMs < period) work.push(limit(() => this.refresh(lease)));
        else {
          // Decided and removed in one synchronous step, so `use` never hands out a lease being released.
          this.held.delete(key(lease.app, lease.id));
          const k = key(lease.app, lease.id);
          const done = this.release(lease).finally(() => this.releasing.delete(k));
          this.releasing.set(k, done);
          work.push(done);
        }
      }
      await Promise.allSettled(work);
    }
  }

  private async refresh(lease: Held): Promise<void> {
    try {
      const { body } = await this.client.send<FlyLease>({
        method: 'POST',
        path: `${machinePath(lease.app, lease.id)}/lease`,
        query: { ttl: this.ttlSeconds },
        body: { ttl: this.ttlSeconds, description: this.settings.description },
        nonce: lease.nonce,
        machineId: lease.id,
        what: `refresh the lease of machine ${lease.id}`,
        label: 'lease',
      });
      if (body?.data?.nonce && body.data.nonce !== lease.nonce) {
        // Fly gave a new lease instead of extending ours: keep the new nonce.
        lease.nonce = body.data.nonce;
      }
      lease.expiresAtMs = this.clock.now() + this.settings.ttlMs;
      this.stats.refreshed++;
    } catch (error) {
      // Refused (someone else holds it now) or the machine is gone: the lease is lost. Anything else
      // (429, 503, timeout): keep it and try again next period; it still has 2/3 of its TTL.
      if (
        error instanceof ProviderError &&
        (error.kind === 'conflict' || error.kind === 'not_found' || error.kind === 'bad_request')
      ) {
        if (this.held.get(key(lease.app, lease.id)) === lease) this.drop(lease);
        this.stats.lost++;
      }
    }
  }

  private async release(lease: Held): Promise<void> {
    try {
      await this.client.send({
        method: 'DELETE',
        path: `${machinePath(lease.app, lease.id)}/lease`,
        nonce: lease.nonce,
        machineId: lease.id,
        what: `release the lease of machine ${lease.id}`,
        label: 'lease',
      });
      this.stats.released++;
    } catch {
      // Already gone (machine destroyed, lease lapsed) or unreachable: it lapses by itself within one TTL.
    }
  }

  private drop(lease: Held): void {
    const k = key(lease.app, lease.id);
    if (this.held.get(k) === lease) this.held.delete(k);
  }
}

/** A change refused because the machine's lease is not (any more) the nonce runway sent. */
export function isLeaseRefusal(error: unknown): boolean {
  return error instanceof ProviderError && error.kind === 'conflict' && /lease|nonce/i.test(error.message);
}
