// Volumes of machines that stand in for others (green, surge, canary). A Fly volume lives in one region
// and is attached to at most one machine, so a new machine cannot share the volume of the machine it
// stands in for: it gets a fork of it (POST /v1/apps/{app}/volumes with `source_volume_id`, the
// Volumes API's fork, as `fly volumes fork` does), in that machine's region, under the same name (so
// fly.toml's `[mounts] source` still matches), or it is not created at all. Runway never deletes a
// volume: the forked-from volumes stay after their machines are destroyed, for the user to keep or
// delete (`fly volumes list`, `fly volumes destroy`).

import { ProviderError } from '../contract.js';
import type { FlyApiClient } from './api-client.js';
import type { FlyCreateVolumeRequest, FlyMachineMount, FlyVolume } from './fly-types.js';

/** Mounts of a config that name a volume. */
export function volumeMounts(mounts: readonly FlyMachineMount[] | undefined): FlyMachineMount[] {
  return (mounts ?? []).filter((m) => typeof m.volume === 'string' && m.volume !== '');
}

export interface ForkRequest {
  app: string;
  /** The machine stood in for, for messages. */
  sourceMachine: string;
  mounts: readonly FlyMachineMount[];
  region: string | undefined;
  signal?: AbortSignal;
}

/**
 * Volume forks already made per launch (`app/launchId` → mounts), so a create that is retried after an
 * ambiguous answer does not fork again. Lives as long as the provider: a fork made by a runway that then
 * crashed is left unattached (visible in `fly volumes list`).
 */
export class VolumeForks {
  private readonly made = new Map<string, FlyMachineMount[]>();

  constructor(private readonly client: FlyApiClient) {}

  /** The mounts with each volume replaced by a fork of it (made once per launch key). */
  async fork(launchKey: string, req: ForkRequest): Promise<FlyMachineMount[]> {
    const known = this.made.get(launchKey);
    if (known) return known.map((m) => ({ ...m }));
    const out: FlyMachineMount[] = [];
    for (const mount of req.mounts) {
      if (typeof mount.volume !== 'string' || mount.volume === '') {
        out.push({ ...mount });
        continue;
      }
      const source = mount.volume;
      const name =
        typeof mount.name === 'string' && mount.name !== ''
          ? mount.name
          : (await this.get(req.app, source, req.signal)).name;
      const body: FlyCreateVolumeRequest = { name, source_volume_id: source };
      if (req.region) body.region = req.region;
      const { body: volume } = await this.client.send<FlyVolume>({
        method: 'POST',
        path: `${volumesPath(req.app)}`,
        body,
        signal: req.signal,
        op: 'create',
        what: `fork volume ${source} of machine ${req.sourceMachine}`,
        label: 'volume-fork',
      });
      if (!volume || typeof volume.id !== 'string') {
        throw new ProviderError('unavailable', `fly: fork volume ${source}: the answer names no volume`, {
          op: 'create',
        });
      }
      // The fork replaces the source in the mount; size and name follow the fork.
      const forked: FlyMachineMount = { ...mount, volume: volume.id, name: volume.name || name };
      out.push(forked);
    }
    this.made.set(launchKey, out);
    return out.map((m) => ({ ...m }));
  }

  /** The launch's machine exists now: its forks need no remembering. */
  settled(launchKey: string): void {
    this.made.delete(launchKey);
  }

  private async get(app: string, id: string, signal?: AbortSignal): Promise<FlyVolume> {
    const { body } = await this.client.send<FlyVolume>({
      method: 'GET',
      path: `${volumesPath(app)}/${encodeURIComponent(id)}`,
      signal,
      op: 'create',
      what: `get volume ${id}`,
      label: 'volume-get',
    });
    return body;
  }
}

function volumesPath(app: string): string {
  return `/v1/apps/${encodeURIComponent(app)}/volumes`;
}
