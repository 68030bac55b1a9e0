// Fly's machine leases as `sim serve` keeps them: one lease per machine, with a nonce every change of
// the machine must carry while it lives, a TTL in whole seconds, and a refresh that only the holder
// can make. An expired lease is gone: its nonce is refused, as Fly refuses it.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../../domain/clock.js';
import type { FlyLease, FlyLeaseData } from '../../fly/fly-types.js';
import { HttpError } from './http-error.js';

export interface LeaseRecord extends FlyLeaseData {
  /** Server ms. */
  expiresAtMs: number;
}

export class SimLeases {
  private readonly leases = new Map<string, LeaseRecord>();

  constructor(
    private readonly clock: Clock,
    /** Owner shown on leases (Fly shows the token's user). */
    private readonly owner: string,
    /** The machine's current instance, written into a new lease. */
    private readonly versionOf: (id: string) => string | undefined,
    private readonly changed: () => void,
  ) {}

  /** POST …/lease: a new lease, or the holder's refresh (nonce given). */
  acquire(
    id: string,
    ttlSeconds: number,
    description: string | undefined,
    nonce: string | undefined,
  ): { status: number; body: FlyLease } {
    if (!(ttlSeconds >= 1 && ttlSeconds <= 3600))
      throw new HttpError(400, `invalid ttl ${ttlSeconds}: expected seconds between 1 and 3600`);
    const current = this.live(id);
    // A refresh (nonce given) of a lease that is gone is refused, not turned into a new lease.
    if (!current && nonce)
      throw new HttpError(
        409,
        `lease nonce ${nonce.slice(0, 4)}… is not the lease of machine ${id}: the lease expired or was released`,
      );
    if (current) {
      if (nonce !== current.nonce) throw this.held(id, current);
      current.expiresAtMs = this.clock.now() + ttlSeconds * 1000;
      current.expires_at = Math.floor(current.expiresAtMs / 1000);
      this.changed();
      return { status: 200, body: { status: 'success', data: publicLease(current) } };
    }
    const lease = this.create(id, ttlSeconds, description);
    // 200, as the spec declares for Machines_create_lease (a new lease and a refresh alike).
    return { status: 200, body: { status: 'success', data: publicLease(lease) } };
  }

  /** GET …/lease. */
  show(id: string): FlyLease {
    const lease = this.live(id);
    if (!lease) throw new HttpError(404, `machine ${id} has no active lease`);
    return { status: 'success', data: publicLease(lease) };
  }

  /** DELETE …/lease: only with the lease's nonce. */
  release(id: string, nonce: string | undefined): void {
    if (!nonce) throw new HttpError(400, 'the fly-machine-lease-nonce header is required to release a lease');
    const lease = this.live(id);
    if (!lease) throw new HttpError(404, `machine ${id} has no active lease`);
    if (lease.nonce !== nonce)
      throw new HttpError(409, `lease nonce does not match the lease of machine ${id} (held by ${lease.owner})`);
    this.leases.delete(id);
    this.changed();
  }

  /** A new lease on `id` (also what a create with lease_ttl hands over). */
  create(id: string, ttlSeconds: number, description: string | undefined): LeaseRecord {
    const expiresAtMs = this.clock.now() + ttlSeconds * 1000;
    const lease: LeaseRecord = {
      nonce: randomBytes(6).toString('hex'),
      expires_at: Math.floor(expiresAtMs / 1000),
      expiresAtMs,
      owner: this.owner,
      description: description ?? '',
      version: this.versionOf(id) ?? '',
    };
    this.leases.set(id, lease);
    this.changed();
    return lease;
  }

  /** A change of a leased machine must carry the lease's nonce; a nonce of a lease that is gone is refused too. */
  check(id: string, nonce: string | undefined): void {
    const lease = this.live(id);
    if (lease && lease.nonce !== nonce) throw this.held(id, lease);
    if (!lease && nonce)
      throw new HttpError(
        409,
        `lease nonce ${nonce.slice(0, 4)}… is not the lease of machine ${id}: the lease expired or was released`,
      );
  }

  /** The machine is destroyed: its lease goes with it. */
  drop(id: string): void {
    this.leases.delete(id);
  }

  /** Live leases of machines still alive, for the state file. */
  toJSON(alive: Set<string>): [string, LeaseRecord][] {
    return [...this.leases].filter(([id, lease]) => alive.has(id) && lease.expiresAtMs > this.clock.now());
  }

  /** Lease expiry continues where it was: the server's clock starts again where it was saved. */
  load(saved: [string, LeaseRecord][]): void {
    for (const [id, lease] of saved) this.leases.set(id, lease);
  }

  private live(id: string): LeaseRecord | undefined {
    const lease = this.leases.get(id);
    if (lease && lease.expiresAtMs <= this.clock.now()) {
      this.leases.delete(id);
      return undefined;
    }
    return lease;
  }

  private held(id: string, lease: LeaseRecord): HttpError {
    const what = lease.description ? ` (${lease.description})` : '';
    return new HttpError(
      409,
      `machine ${id}: lease currently held by ${lease.owner}${what}, expires at ${new Date(lease.expiresAtMs).toISOString()}`,
    );
  }
}

function publicLease(lease: LeaseRecord): FlyLeaseData {
  const { expiresAtMs: _ms, ...data } = lease;
  return data;
}
