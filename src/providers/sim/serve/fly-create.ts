// POST /v1/apps/{app}/machines in `sim serve`, as Fly's behaves under faults: a create applied late
// (createLandsLate) or answered late (createDelayMs), one that timed out after making its machine made
// whole (never a bare machine the API cannot show), machine names unique per app (machine-names.ts),
// and every machine made recorded with its launch, and whether that launch already had one.

import type { Clock } from '../../../domain/clock.js';
import type { FleetScope, Machine } from '../../../domain/types.js';
import type { FlyLaunchRequest, FlyMachine, FlyMachineConfig } from '../../fly/fly-types.js';
import type { SimProvider } from '../sim-provider.js';
import type { BackendFaults, BackendStats } from './backend-types.js';
import type { FleetMirror } from './fleet-mirror.js';
import type { SimAppSecrets } from './fly-secrets.js';
import { simSpecOf, validConfig, type MachineExtra } from './machine-json.js';
import type { SimMachineNames } from './machine-names.js';
import type { SimLeases } from './sim-leases.js';
import type { SimVolumes } from './volumes.js';

/** What a create uses of the backend (fly-backend.ts). */
export interface CreateParts {
  clock: Clock;
  faults: BackendFaults;
  names: SimMachineNames;
  volumes: SimVolumes;
  secrets: SimAppSecrets;
  sim: SimProvider;
  mirror: FleetMirror;
  extras: Map<string, MachineExtra>;
  leases: SimLeases;
  stats: () => BackendStats;
  scope: (app: string) => FleetScope;
  toFly: (m: Machine) => FlyMachine;
  changed: () => void;
}

export async function createLikeFly(parts: CreateParts, app: string, body: FlyLaunchRequest): Promise<FlyMachine> {
  const { clock, faults, names, volumes, secrets, mirror, extras } = parts;
  const name = body.name;
  const late = faults.createDelayCount > 0 && faults.createLandsLate;
  // Names are unique per app (machine-names.ts), judged when the create is applied (or, with
  // createNameFirst, when it arrives): a copy of a create whose name its other copy (or anything)
  // took is refused with 409 and makes nothing. Held while the create is under way, so two creates
  // cannot both take one name, or one volume.
  const early = late && faults.createNameFirst ? names.claim(app, name) : undefined;
  let pending: string;
  let config: FlyMachineConfig;
  let region: string | undefined;
  try {
    if (late) {
      faults.createDelayCount--;
      await clock.sleep(faults.createDelayMs);
    }
    config = validConfig(body);
    secrets.check(app, body.min_secrets_version);
    // A machine mounting volumes runs where they are, and only if no other machine has them.
    region = volumes.place(app, config, body.region);
    pending = early ?? names.claim(app, name);
  } catch (error) {
    if (early !== undefined) names.release(app, name, early);
    throw error;
  }
  volumes.attach(pending, config);
  // Fly has no idempotency key: every create is a new machine, unless its name is taken.
  const spec = simSpecOf(config, body, names.launchId());
  const runOnce = spec.role === 'release-command';
  const made = (id: string): void => {
    extras.set(id, { name: name ?? `${app}-${id.slice(-6)}`, region: region ?? 'sim', config, bornAtMs: clock.now() });
    names.settle(app, extras.get(id)!.name, id);
    volumes.attach(id, config);
    secrets.deliver(app, id);
    recordCreate(parts, id, config);
  };
  let machine: Machine;
  try {
    machine = await parts.sim.create(parts.scope(app), spec);
  } catch (error) {
    // A create that timed out may still have made its machine: then it is made whole (config,
    // metadata, image, volumes), as Fly's would be, never a bare machine the API cannot show.
    const bare = mirror.launched(app, spec.launchId);
    if (bare && !extras.has(bare.id)) {
      volumes.detach(pending);
      made(bare.id);
    }
    throw error;
  } finally {
    volumes.detach(pending);
    names.release(app, name, pending);
  }
  mirror.set(machine);
  made(machine.id);
  const answer = parts.toFly(machine);
  if (body.lease_ttl && !runOnce)
    answer.nonce = parts.leases.create(machine.id, body.lease_ttl, 'created with lease_ttl').nonce;
  parts.changed();
  if (faults.createDelayCount > 0) {
    // The machine exists already; the answer is late, so the client may give up on it (a timeout after which the change happened).
    faults.createDelayCount--;
    await clock.sleep(faults.createDelayMs);
  }
  return answer;
}

/** Recorded with the machine of the same launch that was not destroyed when this one was made, if any. */
function recordCreate(parts: CreateParts, id: string, config: FlyMachineConfig): void {
  const launchId = config.metadata?.runway_launch ?? null;
  const app = parts.mirror.get(id)?.app;
  const twin =
    launchId === null
      ? undefined
      : [...parts.extras].find(
          ([other, extra]) =>
            other !== id && extra.config.metadata?.runway_launch === launchId && parts.mirror.get(other)?.app === app,
        );
  parts.stats().creates.push({
    machineId: id,
    launchId,
    deployId: config.metadata?.runway_deploy ?? null,
    duplicateOf: twin?.[0] ?? null,
  });
  parts.changed();
}
