// The machine configs runway sends. A machine's config belongs to its user: Fly's update replaces the
// whole config (no partial updates), so an update starts from the machine's current config and changes
// only the release fields (image, runway's metadata keys); services, checks, mounts, env, files,
// restart, guest, metrics, statics, processes, dns, stop_config, auto_destroy, standbys, schedule and
// foreign metadata go back exactly as they were. A machine standing in for another (green, surge,
// canary) copies that machine's config; a release-command machine copies a serving machine's, without
// its services and volumes (as flyctl does); a machine of a new scale copies its group's template.

import type { FleetScope } from '../../domain/types.js';
import type { MachineSpec, MachineUpdate } from '../contract.js';
import type { FlyMachineConfig } from './fly-types.js';
import { FLY_RELEASE_COMMAND_GROUP, META } from './machine-mapping.js';

/** Where release V's image is when nobody said: Fly's registry, tagged with the version. */
export function defaultImage(flyApp: string, release: string): string {
  return `registry.fly.io/${flyApp}:${release}`;
}

/** Metadata keys that describe one machine's history, not its group: never copied to a new machine. */
const PER_MACHINE_KEYS = new Set<string>([
  META.launch,
  META.createdFor,
  META.deploy,
  META.role,
  META.release,
  META.image,
  'fly_bluegreen_deployment_tag',
  'fly_previous_alloc',
]);

function commandArgs(command: string): string[] {
  return command.trim().split(/\s+/).filter(Boolean);
}

/**
 * The config of a machine standing in for `source` (its whole config, mounts included), before the
 * new machine's release fields are set. The one place where a stand-in's volumes are decided: a
 * mount names one volume, attached to one machine, so a group with volumes needs its volume handling
 * (fork the source's volume, or roll in place) applied here.
 */
export function standInConfig(source: FlyMachineConfig): FlyMachineConfig {
  return structuredClone(source);
}

/** Where a new machine's config comes from (see createConfig). */
export type ConfigSource =
  { kind: 'stand-in'; config: FlyMachineConfig } | { kind: 'template'; config: FlyMachineConfig } | { kind: 'none' };

/**
 * A config for a new machine of `spec`: a stand-in's copy of its source; else a copy of a template
 * (a machine of the same group runway has seen) without its volumes, which belong to that machine;
 * else a minimal one.
 */
export function createConfig(
  scope: FleetScope,
  spec: MachineSpec,
  image: string,
  from: ConfigSource = { kind: 'none' },
): FlyMachineConfig {
  let base: FlyMachineConfig;
  if (from.kind === 'stand-in') base = standInConfig(from.config);
  else if (from.kind === 'template') {
    base = structuredClone(from.config);
    delete base.mounts;
  } else base = { image, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } };
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
  if (spec.deployId !== undefined) metadata[META.deploy] = metadata[META.createdFor] = spec.deployId;
  const config: FlyMachineConfig = { ...base, image, metadata };
  if (spec.env) config.env = { ...base.env, ...spec.env };
  if (spec.command !== undefined) config.init = { ...base.init, cmd: commandArgs(spec.command) };
  if (spec.role === 'release-command') {
    // As flyctl runs release commands: once, never restarted, no traffic, gone when done.
    config.auto_destroy = true;
    config.restart = { policy: 'no' };
    delete config.services;
    delete config.checks;
    delete config.mounts;
    // Nothing that would keep it alive or restart it elsewhere: it runs once.
    delete config.standbys;
    delete config.schedule;
    config.env = { ...config.env, RELEASE_COMMAND: '1' };
  }
  return config;
}

/** `current` with the update's image and runway metadata; everything else as it was. */
export function updatedConfig(
  scope: FleetScope,
  current: FlyMachineConfig,
  update: MachineUpdate,
  image: string,
  group: string,
): FlyMachineConfig {
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
