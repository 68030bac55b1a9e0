// Fly volumes as `runway sim serve` models them (the Volumes API and the rules machines obey): a volume
// lives in one region and is attached to at most one machine; a machine mounting a volume runs in the
// volume's region; a machine whose volume is missing, elsewhere, or attached to another machine is not
// created, so it never starts. Destroying a machine detaches its volumes and keeps them (Fly keeps a
// volume until it is destroyed itself). A fork (`source_volume_id`) copies the source volume: same
// name, size and encryption, in the source's region unless another is asked for.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../../../domain/clock.js';
import type { FlyCreateVolumeRequest, FlyMachineConfig, FlyVolume } from '../../fly/fly-types.js';
import { HttpError } from './http-error.js';

export interface VolumeRecord extends FlyVolume {
  app: string;
  /** The volume this one was forked from, if any (not Fly's field: for tests and `_sim` stats). */
  forked_from?: string;
}

const NAME = /^[a-z0-9_]{1,30}$/;

export class SimVolumes {
  private readonly volumes = new Map<string, VolumeRecord>();

  constructor(private readonly clock: Clock) {}

  list(app: string): FlyVolume[] {
    return [...this.volumes.values()].filter((v) => v.app === app).map(publicVolume);
  }

  get(app: string, id: string): FlyVolume {
    return publicVolume(this.need(app, id));
  }

  create(app: string, body: FlyCreateVolumeRequest | undefined): FlyVolume {
    if (!body || typeof body !== 'object') throw new HttpError(400, 'request body is required');
    let source: VolumeRecord | undefined;
    if (body.source_volume_id !== undefined) {
      source = this.volumes.get(body.source_volume_id);
      if (!source || source.app !== app) throw new HttpError(404, `source volume ${body.source_volume_id} not found`);
    }
    const name = body.name ?? source?.name;
    if (typeof name !== 'string' || !NAME.test(name))
      throw new HttpError(
        400,
        `invalid volume name ${JSON.stringify(name)}: 1 to 30 lowercase letters, digits and "_"`,
      );
    const region = body.region ?? source?.region;
    if (typeof region !== 'string' || region === '') throw new HttpError(400, 'region is required');
    const size = body.size_gb ?? source?.size_gb ?? 1;
    if (!Number.isInteger(size) || size < 1) throw new HttpError(400, `invalid size_gb ${size}`);
    if (source && size < source.size_gb)
      throw new HttpError(400, `size_gb ${size} is smaller than the source volume's ${source.size_gb}`);
    const volume: VolumeRecord = {
      id: `vol_${randomBytes(8).toString('hex')}`,
      app,
      name,
      state: 'created',
      region,
      zone: `${region}-${randomBytes(2).toString('hex')}`,
      size_gb: size,
      encrypted: body.encrypted ?? source?.encrypted ?? true,
      fstype: body.fstype ?? source?.fstype ?? 'ext4',
      snapshot_retention: body.snapshot_retention ?? 5,
      created_at: new Date(this.clock.now()).toISOString(),
    };
    if (source) volume.forked_from = source.id;
    this.volumes.set(volume.id, volume);
    return publicVolume(volume);
  }

  destroy(app: string, id: string): FlyVolume {
    const volume = this.need(app, id);
    if (volume.attached_machine_id)
      throw new HttpError(
        412,
        `failed_precondition: volume ${id} is attached to machine ${volume.attached_machine_id}; destroy the machine first`,
      );
    this.volumes.delete(id);
    return publicVolume({ ...volume, state: 'destroyed' });
  }

  /**
   * The region a machine with `config` must run in, after checking that it may mount its volumes
   * (`machineId`: the machine itself on an update). Throws the answer Fly gives otherwise.
   */
  place(app: string, config: FlyMachineConfig, region: string | undefined, machineId?: string): string | undefined {
    let placed = region;
    for (const mount of config.mounts ?? []) {
      if (typeof mount.volume !== 'string' || mount.volume === '')
        throw new HttpError(400, 'config.mounts[].volume is required');
      const volume = this.volumes.get(mount.volume);
      if (!volume || volume.app !== app) throw new HttpError(404, `volume ${mount.volume} not found`);
      if (volume.attached_machine_id && volume.attached_machine_id !== machineId) {
        throw new HttpError(
          412,
          `failed_precondition: volume ${volume.id} is attached to machine ${volume.attached_machine_id}: a volume is mounted by one machine at a time`,
        );
      }
      if (placed !== undefined && placed !== volume.region) {
        throw new HttpError(
          412,
          `failed_precondition: volume ${volume.id} is in region ${volume.region}, the machine in ${placed}`,
        );
      }
      placed = volume.region;
    }
    return placed;
  }

  /** Attach the volumes `config` mounts to `machineId`, detaching those it no longer mounts. */
  attach(machineId: string, config: FlyMachineConfig): void {
    const wanted = new Set((config.mounts ?? []).map((m) => m.volume));
    for (const v of this.volumes.values()) {
      if (v.attached_machine_id === machineId && !wanted.has(v.id)) this.detachOne(v);
    }
    for (const id of wanted) {
      const v = id ? this.volumes.get(id) : undefined;
      if (!v) continue;
      v.attached_machine_id = machineId;
      v.attached_alloc_id = machineId;
      v.state = 'created';
    }
  }

  /** The machine is gone: its volumes stay, detached. */
  detach(machineId: string): void {
    for (const v of this.volumes.values()) if (v.attached_machine_id === machineId) this.detachOne(v);
  }

  /** A new volume attached to `machineId` (seeding a fleet). */
  seed(app: string, machineId: string, name: string, region: string, sizeGb: number): VolumeRecord {
    const volume = this.create(app, { name, region, size_gb: sizeGb }) as VolumeRecord;
    this.attach(machineId, { image: '', mounts: [{ volume: volume.id }] });
    return this.volumes.get(volume.id)!;
  }

  toJSON(): VolumeRecord[] {
    return [...this.volumes.values()].map((v) => ({ ...v }));
  }

  load(saved: readonly VolumeRecord[] | undefined): void {
    for (const v of saved ?? []) this.volumes.set(v.id, { ...v });
  }

  /** Detached: the attachment fields are left out (the spec types them as strings, never null). */
  private detachOne(v: VolumeRecord): void {
    delete v.attached_machine_id;
    delete v.attached_alloc_id;
  }

  private need(app: string, id: string): VolumeRecord {
    const volume = this.volumes.get(id);
    if (!volume || volume.app !== app) throw new HttpError(404, `volume ${id} not found`);
    return volume;
  }
}

function publicVolume(v: VolumeRecord): FlyVolume {
  const { app: _app, forked_from: _from, ...volume } = v;
  return { ...volume };
}
