// Leases a crashed runway left behind. Every lease runway takes says whose it is in its description
// (`runway <app>/<env> pid <pid>@<host> <session>`); a runway that dies leaves them until their TTL
// runs out, and the next deploy waits for them. `runway recover` finds the ones runway's own runs
// of this environment left (never flyctl's or a human's) and releases them with their nonce. A deploy
// clears at once those of killed runs of this environment on this host, and the leases Fly handed its
// own earlier run with the machines that run created.

import pLimit from 'p-limit';
import { ProviderError } from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import type { FlyLease, FlyLeaseData, FlyMachine } from './fly-types.js';
import { configOf, META } from './machine-mapping.js';

export interface StaleLease {
  machineId: string;
  nonce: string;
  description: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** The description prefix of every lease runway takes for `app`/`env` (see session.ts). */
export function leaseOwnerPrefix(app: string, env: string): string {
  return `runway ${app}/${env} `;
}

/** `runway <app>/<env> pid <pid>@<host> <session>`: whose a lease runway took is (fly/session.ts). */
const RUN = /^runway (\S+) pid (\d+)@(\S+) \S+$/;

/**
 * A lease another runway run of the same environment took on this host, and whose process is gone (it
 * was killed): nobody will release or refresh it, so it is cleared rather than waited out (a resumed
 * deploy would otherwise wait lease_wait per machine). Runs on other hosts cannot be judged: waited for.
 */
export function heldByDeadRun(holder: string, own: string): boolean {
  const theirs = RUN.exec(holder);
  const mine = RUN.exec(own);
  if (!theirs || !mine || theirs[1] !== mine[1] || theirs[3] !== mine[3] || theirs[2] === mine[2]) return false;
  try {
    process.kill(Number(theirs[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * A lease no runway run took (Fly's own, handed out by a create with lease_ttl) on a machine runway
 * created for `deployId`, the deploy this run works for. The create was an earlier run of this deploy,
 * dead (killed, or stepped back), since this run holds the deploy; the create's answer, and the nonce
 * in it, died with it. Waiting would cost a lease TTL per machine (and fail if lease_wait is shorter).
 */
export async function handedToDeploy(
  client: FlyApiClient,
  flyApp: string,
  id: string,
  holder: FlyLeaseData,
  deployId: string | undefined,
  signal?: AbortSignal,
): Promise<boolean> {
  if (deployId === undefined || RUN.test(holder.description ?? '')) return false;
  try {
    const { body } = await client.send<FlyMachine>({
      method: 'GET',
      path: `/v1/apps/${encodeURIComponent(flyApp)}/machines/${encodeURIComponent(id)}`,
      signal,
      machineId: id,
      what: `look up which deploy created machine ${id}`,
      label: 'get',
    });
    return configOf(body)?.metadata?.[META.createdFor] === deployId;
  } catch (error) {
    if (error instanceof ProviderError && error.kind === 'not_found') return false;
    throw error;
  }
}

const leasePath = (flyApp: string, id: string) =>
  `/v1/apps/${encodeURIComponent(flyApp)}/machines/${encodeURIComponent(id)}/lease`;

/** The leases on `machineIds` whose description starts with `prefix` and is not `ownDescription` (this session's). */
export async function findStaleLeases(
  client: FlyApiClient,
  flyApp: string,
  machineIds: string[],
  prefix: string,
  ownDescription: string,
): Promise<StaleLease[]> {
  const limit = pLimit(8);
  const found = await Promise.all(
    machineIds.map((id) =>
      limit(async (): Promise<StaleLease | undefined> => {
        try {
          const { body } = await client.send<FlyLease>({
            method: 'GET',
            path: leasePath(flyApp, id),
            machineId: id,
            what: `look up the lease of machine ${id}`,
            label: 'lease',
          });
          const data = body?.data;
          if (!data?.nonce || !data.description?.startsWith(prefix) || data.description === ownDescription)
            return undefined;
          return { machineId: id, nonce: data.nonce, description: data.description, expiresAt: data.expires_at };
        } catch (error) {
          if (error instanceof ProviderError && error.kind === 'not_found') return undefined; // no lease (or no machine)
          throw error;
        }
      }),
    ),
  );
  return found.filter((l): l is StaleLease => l !== undefined);
}

/** Release each lease with its own nonce. A lease gone meanwhile counts as released. */
export async function releaseStaleLeases(
  client: FlyApiClient,
  flyApp: string,
  leases: StaleLease[],
): Promise<{ released: string[]; failed: string[] }> {
  const limit = pLimit(8);
  const released: string[] = [];
  const failed: string[] = [];
  await Promise.all(
    leases.map((lease) =>
      limit(async () => {
        try {
          await client.send({
            method: 'DELETE',
            path: leasePath(flyApp, lease.machineId),
            nonce: lease.nonce,
            machineId: lease.machineId,
            what: `release the stale lease of machine ${lease.machineId}`,
            label: 'lease',
          });
          released.push(lease.machineId);
        } catch (error) {
          if (error instanceof ProviderError && error.kind === 'not_found') released.push(lease.machineId);
          else failed.push(`${lease.machineId}: ${(error as Error).message}`);
        }
      }),
    ),
  );
  return { released, failed };
}
