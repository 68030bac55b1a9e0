// Fly machine JSON → runway Machine. Runway keeps its own facts in the machine's config.metadata
// (runway_* keys) next to Fly's (fly_process_group, fly_release_version, fly_platform_version), so:
//  - a fleet deployed by flyctl (only fly_* keys) is adopted: group from fly_process_group, release
//    from the image tag, else fly_release_version;
//  - runway's fleet stays readable by flyctl (fly_platform_version = v2, fly_process_group set);
//  - a machine whose image someone changed outside runway (`fly m update --image`) is not believed:
//    runway_release only counts while config.image is still the image runway put there (runway_image).

import type { FleetScope, HealthState, Machine, MachineRole, MachineState } from '../../domain/types.js';
import type { FlyImageRef, FlyMachine, FlyMachineConfig } from './fly-types.js';

export const META = {
  app: 'runway_app',
  env: 'runway_env',
  group: 'runway_group',
  release: 'runway_release',
  role: 'runway_role',
  deploy: 'runway_deploy',
  launch: 'runway_launch',
  /** The deploy that created the machine (runway_deploy is the last one that changed it). */
  createdFor: 'runway_created_for',
  image: 'runway_image',
  flyGroup: 'fly_process_group',
  flyRelease: 'fly_release_version',
  flyPlatform: 'fly_platform_version',
} as const;

/** flyctl's process group of release-command machines (fly-go MachineProcessGroupFlyAppReleaseCommand). */
export const FLY_RELEASE_COMMAND_GROUP = 'fly_app_release_command';
/** Fly's default process group (an app without [processes]). */
export const FLY_DEFAULT_GROUP = 'app';

const ROLES: readonly MachineRole[] = ['serving', 'green', 'canary', 'surge', 'release-command'];

/**
 * Fly states → runway states. Fly's transient update states (replacing, updating) head for started;
 * suspended is as good as stopped for a deploy; launch_failed is a failure.
 */
export function mapState(state: string): MachineState {
  switch (state) {
    case 'created':
      return 'created';
    case 'starting':
    case 'restarting':
    case 'replacing':
    case 'updating':
      return 'starting';
    case 'started':
      return 'started';
    case 'stopping':
    case 'suspending':
      return 'stopping';
    case 'stopped':
    case 'suspended':
      return 'stopped';
    case 'destroying':
      return 'destroying';
    case 'destroyed':
    case 'replaced':
      return 'destroyed';
    case 'failed':
    case 'launch_failed':
      return 'failed';
    default:
      // An unknown transient state: not ready, not gone.
      return 'starting';
  }
}

/**
 * Health from `checks` (Consul statuses). Any critical → critical; all passing → passing; warning
 * (Fly's "not decided yet") → unknown. A started machine without checks has nothing to fail: passing.
 * `bg_deployments_compat*` are fake checks flaps adds for old flyctl bluegreen; ignored as fly-go does.
 */
export function mapHealth(fm: FlyMachine): HealthState {
  const state = mapState(fm.state);
  if (state === 'failed') return 'critical';
  if (state !== 'started') return 'unknown';
  const checks = (fm.checks ?? []).filter((c) => !c.name.startsWith('bg_deployments_compat'));
  if (checks.length === 0) return 'passing';
  if (checks.some((c) => c.status === 'critical')) return 'critical';
  if (checks.every((c) => c.status === 'passing')) return 'passing';
  return 'unknown';
}

/** Split an image reference into registry / repository / tag / digest (Docker's rules). */
export function parseImageRef(image: string): FlyImageRef {
  let rest = image;
  const out: FlyImageRef = {};
  const at = rest.indexOf('@');
  if (at >= 0) {
    out.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    out.tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split('/')[0] ?? '';
  // A first segment with a dot or a port, or "localhost", names a registry (docker.io otherwise).
  if (rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    out.registry = first;
    out.repository = rest.slice(first.length + 1);
  } else {
    out.registry = 'registry-1.docker.io';
    out.repository = rest.includes('/') ? rest : `library/${rest}`;
  }
  return out;
}

export function configOf(fm: FlyMachine): FlyMachineConfig | undefined {
  return fm.config ?? fm.incomplete_config;
}

function imageTag(fm: FlyMachine): string | undefined {
  const image = configOf(fm)?.image;
  const tag = image ? parseImageRef(image).tag : fm.image_ref?.tag;
  return tag || undefined;
}

/**
 * The release a machine runs: runway_release while the image is the one runway put there; else the
 * image tag (runway's default image of release V is `<app>:V`); else `v<fly_release_version>`.
 */
export function releaseOf(fm: FlyMachine): string {
  const config = configOf(fm);
  const md = config?.metadata ?? {};
  const runway = md[META.release];
  if (runway && (md[META.image] === undefined || md[META.image] === config?.image)) return runway;
  const tag = imageTag(fm);
  if (tag && tag !== 'latest') return tag;
  const flyVersion = md[META.flyRelease];
  if (flyVersion) return /^\d+$/.test(flyVersion) ? `v${flyVersion}` : flyVersion;
  return tag ?? 'unknown';
}

export function groupOf(fm: FlyMachine): string {
  const md = configOf(fm)?.metadata ?? {};
  return md[META.group] ?? md[META.flyGroup] ?? md['process_group'] ?? FLY_DEFAULT_GROUP;
}

export function roleOf(fm: FlyMachine): MachineRole {
  const md = configOf(fm)?.metadata ?? {};
  const written = md[META.role];
  if (written && (ROLES as readonly string[]).includes(written)) return written as MachineRole;
  // flyctl's test (fly-go IsReleaseCommandMachine), older metadata included.
  if (md[META.flyGroup] === FLY_RELEASE_COMMAND_GROUP || md['process_group'] === 'release_command')
    return 'release-command';
  return 'serving';
}

/** The exit code of the machine's last exit, from its newest `exit` event (Fly lists events newest first). */
export function exitCodeOf(fm: FlyMachine): number | undefined {
  const exit = (fm.events ?? []).find((e) => e.type === 'exit');
  const code = exit?.request?.MonitorEvent?.exit_event?.exit_code ?? exit?.request?.exit_event?.exit_code;
  return typeof code === 'number' ? code : undefined;
}

function epochMs(text: string | undefined): number {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** A Fly machine as runway sees it, in `scope` (the environment whose Fly app holds it). */
export function toMachine(fm: FlyMachine, scope: FleetScope): Machine {
  const md = configOf(fm)?.metadata ?? {};
  const machine: Machine = {
    id: fm.id,
    app: scope.app,
    env: scope.env,
    group: groupOf(fm),
    release: releaseOf(fm),
    instanceVersion: fm.instance_id ?? '',
    role: roleOf(fm),
    state: mapState(fm.state),
    health: mapHealth(fm),
    // Fly reports `cordoned` on the machine (fly-go Machine.Cordoned); a machine created with
    // skip_service_registration is cordoned until an uncordon.
    cordoned: fm.cordoned === true,
    createdAtMs: epochMs(fm.created_at),
    updatedAtMs: epochMs(fm.updated_at),
  };
  if (fm.region) machine.region = fm.region;
  const volumes = (configOf(fm)?.mounts ?? [])
    .map((m) => m.volume)
    .filter((v): v is string => typeof v === 'string' && v !== '');
  if (volumes.length > 0) machine.volumes = volumes;
  if (md[META.deploy]) machine.deployId = md[META.deploy];
  if (md[META.launch]) machine.launchId = md[META.launch];
  const exitCode = machine.state === 'failed' || machine.state === 'stopped' ? exitCodeOf(fm) : undefined;
  if (exitCode !== undefined) machine.exitCode = exitCode;
  return machine;
}
