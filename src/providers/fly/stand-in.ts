// Where a new machine goes and what volumes it gets. A machine created to stand in for another (spec.
// standsFor: a green for its blue, a surge machine for the machine it replaces, a canary for the
// spearhead) is created in that machine's region, from its config; its volumes are forked when the plan
// allows it (spec.forkVolumes) and otherwise the create is refused, so no machine of a group with
// volumes ever starts without one.

import { ProviderError, type MachineSpec } from '../contract.js';
import type { FlyMachine, FlyMachineMount } from './fly-types.js';
import type { ConfigSource } from './machine-config.js';
import { configOf } from './machine-mapping.js';
import { volumeMounts, type VolumeForks } from './volumes.js';

export interface Placement {
  /** The config to start from: the stood-in machine's, else a template's (see createConfig). */
  from: ConfigSource;
  region?: string;
  /** Mounts of the new machine (forks), when the template has volumes. */
  mounts?: FlyMachineMount[];
}

export interface PlacementRequest {
  app: string;
  launchKey: string;
  spec: MachineSpec;
  /** The stood-in machine, when it still exists. */
  source?: FlyMachine;
  /** A machine of the group (the last serving one runway saw); for a release command, of any group. */
  template?: FlyMachine;
  /** The environment's `region` option: where machines standing in for nobody go. */
  defaultRegion?: string;
  forks: VolumeForks;
  signal?: AbortSignal;
}

export async function placeMachine(req: PlacementRequest): Promise<Placement> {
  const { spec, source } = req;
  const templateConfig = req.template ? configOf(req.template) : undefined;
  // A release-command machine runs once, mounts nothing and serves nothing (as flyctl runs it); it
  // copies a serving machine's config (createConfig strips what would keep it alive or serving).
  if (spec.role === 'release-command') {
    const region = req.defaultRegion ?? req.template?.region;
    return {
      from: templateConfig ? { kind: 'template', config: templateConfig } : { kind: 'none' },
      ...(region ? { region } : {}),
    };
  }
  const sourceConfig = source ? configOf(source) : undefined;
  const template = sourceConfig ?? templateConfig;
  const placement: Placement = {
    from: sourceConfig
      ? { kind: 'stand-in', config: sourceConfig }
      : templateConfig
        ? { kind: 'template', config: templateConfig }
        : { kind: 'none' },
  };
  const region = source?.region ?? req.defaultRegion;
  if (region) placement.region = region;
  const mounts = volumeMounts(template?.mounts);
  if (mounts.length === 0) return placement;
  const volumes = mounts.map((m) => m.volume).join(', ');
  if (!source || !spec.forkVolumes) {
    const whose = source ? `machine ${source.id}, which it stands in for,` : `the ${spec.group} group's machines`;
    throw new ProviderError(
      'bad_request',
      `fly: refused to create a ${spec.role} machine of ${spec.group} without volumes: ${whose} mount ${volumes}, and a volume is attached to one machine only; ` +
        `set new_volumes = "fork" to give new machines forks of them, or let the group roll in place`,
      { op: 'create' },
    );
  }
  placement.mounts = await req.forks.fork(req.launchKey, {
    app: req.app,
    sourceMachine: source.id,
    mounts: template!.mounts ?? [],
    region,
    signal: req.signal,
  });
  return placement;
}
