// `/_sim/seed` (not Fly's API): started machines passing checks, at once (no latency, no rate limits),
// with the configs and metadata runway or flyctl would have left on them, spread over regions, each
// with its volume when asked.

import type { Machine } from '../../../domain/types.js';
import type { MachineExtra } from './machine-json.js';
import type { SimVolumes } from './volumes.js';

export interface SeedRequest {
  groups: { name: string; count: number }[];
  release: string;
  image?: string;
  /** `runway`: runway's metadata; `flyctl`: only what flyctl writes (fly_*), to test adoption. */
  style?: 'runway' | 'flyctl';
  /** `runway` style: environment written into runway_env (default: the app name's suffix). */
  env?: string;
  /** Regions the machines are spread over, round robin (default: one region, `sim`). */
  regions?: string[];
  /** A volume per machine (of `groups`, default every group), in the machine's region, mounted at `path`. */
  volumes?: { name: string; path: string; size_gb?: number; groups?: string[] };
}

/** What Fly would know of each seeded machine (the sim already runs them). */
export function seededExtras(
  app: string,
  machines: Machine[],
  request: SeedRequest,
  volumes: SimVolumes,
): [string, MachineExtra][] {
  const image = request.image ?? `registry.fly.io/${app}:${request.release}`;
  const regions = request.regions?.length ? request.regions : ['sim'];
  return machines.map((m, i) => {
    const region = regions[i % regions.length]!;
    const v = request.volumes;
    const mounts =
      v && (!v.groups || v.groups.includes(m.group))
        ? [{ volume: volumes.seed(app, m.id, v.name, region, v.size_gb ?? 1).id, path: v.path, name: v.name }]
        : undefined;
    const metadata: Record<string, string> =
      request.style === 'flyctl'
        ? {
            fly_platform_version: 'v2',
            fly_process_group: m.group,
            fly_release_id: `rel_${request.release}`,
            fly_release_version: request.release.replace(/^v/, ''),
            fly_flyctl_version: '0.3.0',
          }
        : {
            fly_platform_version: 'v2',
            fly_process_group: m.group,
            runway_app: app.replace(/-[^-]+$/, ''),
            runway_env: request.env ?? app.replace(/^.*-/, ''),
            runway_group: m.group,
            runway_release: request.release,
            runway_image: image,
            runway_role: 'serving',
          };
    const extra: MachineExtra = {
      name: `${app}-${m.id.slice(-6)}`,
      region,
      bornAtMs: 0,
      config: {
        image,
        init: { cmd: [`bin/${m.group}`] },
        guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
        metadata,
        services:
          m.group === 'web'
            ? [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 443, handlers: ['tls', 'http'] }] }]
            : [],
        checks: { up: { type: 'http', port: 8080, path: '/up', interval: '5s', timeout: '2s' } },
        ...(mounts ? { mounts } : {}),
      },
    };
    return [m.id, extra];
  });
}
