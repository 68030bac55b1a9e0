// `runway status --env E [--json]`: the fleet's version spread, unhealthy and cordoned machines, the
// lock and the last deploy.

import { pc } from '../colors.js';
import type { Machine } from '../../domain/types.js';
import { countFleet, formatSpread, type FleetCounts } from '../fleet-tally.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { printJson, type Io } from '../io.js';
import { openProviderSession } from '../../providers/open-session.js';
import { outOfTraffic } from '../../engine/settle.js';
import { tableRow } from '../table.js';

export interface StatusOptions extends GlobalOptions {
  env?: string;
  json?: boolean;
  machines?: boolean;
}

export async function statusCommand(options: StatusOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const scope = { app: config.app.name, env: env.name };
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const machines = await session.provider.list(scope);
      const [lock, last] = await Promise.all([
        store.getLock(scope.app, scope.env),
        store.listDeploys({ app: scope.app, env: scope.env, limit: 1 }),
      ]);
      const lastDeploy = last[0];
      const groups = Object.fromEntries(
        config.app.processes.map((g) => [g.name, countFleet(machines.filter((m) => m.group === g.name))]),
      );
      const regions = countRegions(machines);
      if (options.json) {
        printJson(io, {
          app: scope.app,
          env: scope.env,
          fleet: countFleet(machines),
          outOfTraffic: outOfTraffic(machines).map((m) => m.id),
          groups,
          // Per region (providers with regions only): the version spread of each.
          regions: regions ?? undefined,
          lock: lock ?? null,
          lastDeploy: lastDeploy
            ? {
                id: lastDeploy.id,
                release: lastDeploy.release,
                status: lastDeploy.status,
                strategy: lastDeploy.strategy,
              }
            : null,
          machines: options.machines ? machines : undefined,
        });
        return 0;
      }
      io.stdout.write(`${pc.bold(`${scope.app}/${scope.env}`)}  provider ${env.provider}  strategy ${env.strategy}\n`);
      // What the fleet should run: the last deploy's release if it succeeded, else what it went back to.
      const expected = lastDeploy
        ? lastDeploy.status === 'succeeded'
          ? lastDeploy.release
          : (lastDeploy.previousRelease ?? undefined)
        : undefined;
      io.stdout.write(formatFleet(machines, expected) + '\n');
      if (lock)
        io.stdout.write(
          `  lock: held by ${lock.holder} (${lock.reason}) since ${new Date(lock.acquiredAtMs).toISOString()}\n`,
        );
      if (lastDeploy)
        io.stdout.write(
          `  last deploy: ${lastDeploy.id} ${lastDeploy.release} ${lastDeploy.strategy} ${lastDeploy.status}\n`,
        );
      if (options.machines) for (const m of machines) io.stdout.write(`  ${formatMachine(m)}\n`);
      return 0;
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
}

/** Per group: version spread and anything not well. */
export function formatFleet(machines: Machine[], target?: string): string {
  const byGroup = new Map<string, Machine[]>();
  for (const m of machines) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m]);
  const lines = [`  fleet: ${machines.length} machines — ${formatSpread(countFleet(machines).byRelease)}`];
  for (const [group, list] of [...byGroup].sort((a, b) => a[0].localeCompare(b[0]))) {
    const c = countFleet(list);
    lines.push(tableRow({ widths: [10], indent: '  ' }, [group, formatSpread(c.byRelease) + problems(c)]));
  }
  const regions = countRegions(machines);
  if (regions) {
    lines.push('  by region:');
    for (const [region, c] of Object.entries(regions))
      lines.push(tableRow({ widths: [8], indent: '    ' }, [region, formatSpread(c.byRelease) + problems(c)]));
  }
  const out = outOfTraffic(machines);
  if (out.length > 0)
    lines.push(
      `  out of traffic (cordoned or stopped): ${out.length} serving machines${out.length <= 20 ? `: ${out.map((m) => m.id).join(', ')}` : ''}`,
    );
  if (target) {
    const off = machines.filter((m) => m.role === 'serving' && m.release !== target);
    if (off.length > 0 && off.length <= 20)
      lines.push(`  not on ${target}: ${off.map((m) => `${m.id} (${m.release}, ${m.state})`).join(', ')}`);
  }
  return lines.join('\n');
}

function problems(c: FleetCounts): string {
  const parts = [
    c.extra ? `${c.extra} extra` : '',
    c.starting ? `${c.starting} starting` : '',
    c.unhealthy ? pc.yellow(`${c.unhealthy} unhealthy`) : '',
    c.failed ? pc.red(`${c.failed} failed`) : '',
    c.stopped ? `${c.stopped} stopped` : '',
    c.cordoned ? `${c.cordoned} cordoned` : '',
  ].filter(Boolean);
  return parts.length ? `  (${parts.join(', ')})` : '';
}

const MACHINES_TABLE = { widths: [16, 8, 10, 8, 9] };

function formatMachine(m: Machine): string {
  const where = m.region ? ` ${m.region}` : '';
  const volumes = m.volumes?.length ? ` volumes ${m.volumes.join(',')}` : '';
  return tableRow(MACHINES_TABLE, [
    m.id,
    m.group,
    m.release,
    m.role,
    m.state,
    `${m.health}${m.cordoned ? ' cordoned' : ''}${where}${volumes}`,
  ]);
}

/** Counts per region, regions sorted; undefined when no machine has a region (sim, local). */
export function countRegions(machines: Machine[]): Record<string, FleetCounts> | undefined {
  if (!machines.some((m) => m.region !== undefined)) return undefined;
  const byRegion = new Map<string, Machine[]>();
  for (const m of machines) {
    const region = m.region ?? '(none)';
    byRegion.set(region, [...(byRegion.get(region) ?? []), m]);
  }
  return Object.fromEntries(
    [...byRegion].sort((a, b) => a[0].localeCompare(b[0])).map(([region, list]) => [region, countFleet(list)]),
  );
}
