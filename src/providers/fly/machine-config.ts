// The machine configs runway sends. Fly's update replaces the whole config (no partial updates), so an
// update starts from the machine's current config and changes only the image and runway's metadata:
// services, guest size, checks and whatever flyctl put there survive. A new machine copies the config
// of a machine of its group (its services, checks, size), or starts from a minimal one.

import type { FleetScope } from '../../domain/types.js';
import type { MachineSpec, MachineUpdate } from '../contract.js';
import type { FlyMachineConfig } from './fly-types.js';
import { FLY_RELEASE_COMMAND_GROUP, META } from './machine-mapping.js';

/** Where release V's image is when nobody said: Fly's registry, tagged with the version. */
export function defaultImage(flyApp: string, release: string): string {
  return `registry.fly.io/${flyApp}:${release}`;
}

/** Metadata keys that describe one machine's history, not its group: never copied to a new machine. */
const PER_MACHINE_KEYS = new Set<string>([META.launch, META.deploy, META.role, META.release, META.image, 'fly_bluegreen_deployment_tag', 'fly_previous_alloc']);

function commandArgs(command: string): string[] {
  return command.trim().split(/\s+/).filter(Boolean);
}

/**
 * A config for a new machine of `spec`. `template` is the config of a machine of the same group, if
 * runway has seen one; its volumes are dropped (a volume belongs to one machine).
 */
export function createConfig(scope: FleetScope, spec: MachineSpec, image: string, template?: FlyMachineConfig): FlyMachineConfig {
  const base: FlyMachineConfig = template ? structuredClone(template) : { image, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } };
  delete base.mounts;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(base.metadata ?? {})) if (!PER_MACHINE_KEYS.has(key)) metadata[key] = value;
  Object.assign(metadata, {
    [META.flyPlatform]: 'v2',
    [META.flyGroup]: spec.role === 'release-command' ? FLY_RELEASE_COMMAND_GROUP : spec.group,
    [META.app]: scope.app,
    [META.env]: scope.env,
    [META.group]: spec.group,
    [META.release]: spec.release,
    [META.image]: image,
    [META.role]: spec.role,
    [META.launch]: spec.launchId,
  });
  if (spec.deployId !== undefined) metadata[META.deploy] = spec.deployId;
  const config: FlyMachineConfig = { ...base, image, metadata };
  if (spec.env) config.env = { ...base.env, ...spec.env };
  if (spec.command !== undefined) config.init = { ...base.init, cmd: commandArgs(spec.command) };
  if (spec.role === 'release-command') {
    // As flyctl runs release commands: once, never restarted, no traffic, gone when done.
    config.auto_destroy = true;
    config.restart = { policy: 'no' };
    delete config.services;
    config.env = { ...config.env, RELEASE_COMMAND: '1' };
  }
  return config;
}

/** `current` with the update's image and runway metadata; everything else as it was. */
export function updatedConfig(scope: FleetScope, current: FlyMachineConfig, update: MachineUpdate, image: string, group: string): FlyMachineConfig {
  const config = structuredClone(current);
  config.image = image;
  const metadata = { ...config.metadata };
  metadata[META.flyPlatform] = 'v2';
  metadata[META.flyGroup] ??= group;
  metadata[META.app] = scope.app;
  metadata[META.env] = scope.env;
  metadata[META.group] = group;
  metadata[META.release] = update.release;
  metadata[META.image] = image;
  if (update.role !== undefined) metadata[META.role] = update.role;
  if (update.deployId !== undefined) metadata[META.deploy] = update.deployId;
  config.metadata = metadata;
  return config;
}
