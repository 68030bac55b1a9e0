// Machines as the Machines API shows them, and machine configs as it takes them: the JSON side of
// `sim serve`'s machines, apart from the fleet the SimProvider runs.

import type { Machine } from '../../../domain/types.js';
import type { MachineSpec } from '../../contract.js';
import type { FlyCheckStatus, FlyLaunchRequest, FlyMachine, FlyMachineConfig } from '../../fly/fly-types.js';
import { groupOf, parseImageRef, releaseOf, roleOf } from '../../fly/machine-mapping.js';
import { HttpError } from './http-error.js';

/** What Fly knows of a machine that the sim does not. */
export interface MachineExtra {
  name: string;
  region: string;
  config: FlyMachineConfig;
  /** Server ms of the create (eventual consistency); 0 for seeded or loaded machines. */
  bornAtMs: number;
}

/** A Docker image reference, as Fly checks one before it pulls it: [registry[:port]/]path[:tag][@algo:digest]. */
const IMAGE_REFERENCE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[a-zA-Z0-9]+)?$/;

/** The config of a create or update, as Fly would take it (a copy), or the error Fly answers. */
export function validConfig(body: FlyLaunchRequest | undefined): FlyMachineConfig {
  const config = body?.config;
  if (!config || typeof config !== 'object') throw new HttpError(400, 'missing config');
  if (typeof config.image !== 'string' || !config.image) throw new HttpError(422, 'config.image is required');
  if (!IMAGE_REFERENCE.test(config.image))
    throw new HttpError(
      422,
      `invalid image reference "${config.image.slice(0, 200)}": expected [registry/]repository[:tag][@digest]`,
    );
  if (
    config.metadata !== undefined &&
    (typeof config.metadata !== 'object' || Object.values(config.metadata).some((v) => typeof v !== 'string'))
  ) {
    throw new HttpError(400, 'config.metadata must map strings to strings');
  }
  return structuredClone(config);
}

/** What the sim runs for a create: the group, release, command and env the config names. */
export function simSpecOf(config: FlyMachineConfig, body: FlyLaunchRequest, launchId: string): MachineSpec {
  const fm = { id: '', state: 'created', config };
  // A release command as flyctl and runway make one: its group says so, and it runs once. A serving
  // machine whose user set auto_destroy and restart "no" stays a serving machine.
  const runOnce = config.auto_destroy === true && config.restart?.policy === 'no' && roleOf(fm) === 'release-command';
  const spec: MachineSpec = {
    group: groupOf(fm),
    release: releaseOf(fm),
    // The sim's release-command role is "runs once, then destroys itself": Fly's auto_destroy + restart no.
    role: runOnce ? 'release-command' : 'serving',
    cordoned: body.skip_service_registration === true,
    launchId,
  };
  if (config.env) spec.env = { ...config.env };
  if (config.init?.cmd?.length) spec.command = config.init.cmd.join(' ');
  return spec;
}

/** A sim machine as the Machines API shows it. */
export function toFlyMachine(m: Machine, extra: MachineExtra | undefined): FlyMachine {
  const config = extra?.config ?? { image: 'unknown' };
  const fm: FlyMachine = {
    id: m.id,
    name: extra?.name ?? m.id,
    state: m.state,
    region: extra?.region ?? 'sim',
    instance_id: m.instanceVersion,
    private_ip: `fdaa:0:1:a7b:${m.id.slice(0, 4)}:${m.id.slice(4, 8)}:${m.id.slice(8, 12)}:2`,
    created_at: new Date(m.createdAtMs).toISOString(),
    updated_at: new Date(m.updatedAtMs).toISOString(),
    config,
    image_ref: parseImageRef(config.image),
    checks: checksOf(m, config),
    // The sim knows a process's exit code when it died; Fly tells it in an `exit` event.
    events:
      m.exitCode === undefined
        ? []
        : [
            {
              type: 'exit',
              status: m.state === 'failed' ? 'failed' : 'stopped',
              source: 'flyd',
              timestamp: m.updatedAtMs,
              request: { exit_event: { exit_code: m.exitCode, exited_at: new Date(m.updatedAtMs).toISOString() } },
            },
          ],
    host_status: 'ok',
    cordoned: m.cordoned,
  };
  return fm;
}

/**
 * The sim decides one health per machine; Fly reports a status per check. Each configured check gets
 * the machine's health (a synthetic one when the config has none): passing, critical, or warning while
 * undecided (and while the machine is not running).
 */
function checksOf(m: Machine, config: FlyMachineConfig): FlyCheckStatus[] {
  const names = Object.keys(config.checks ?? {});
  const status =
    m.state !== 'started'
      ? m.state === 'failed'
        ? 'critical'
        : 'warning'
      : m.health === 'passing'
        ? 'passing'
        : m.health === 'critical'
          ? 'critical'
          : 'warning';
  const at = new Date(m.updatedAtMs).toISOString();
  return (names.length > 0 ? names : ['servicecheck-00-sim']).map((name) => ({
    name,
    status,
    output: status === 'passing' ? 'OK' : '',
    updated_at: at,
  }));
}
