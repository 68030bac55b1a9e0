// `runway local up|status|down --env E`: the supervisor of a local environment (the process that owns
// its machine processes and its proxy; see src/providers/local/supervisor.ts).
//   up      start it if it is not running; print the proxy URL, state directory and machines
//   status  the same, without starting it
//   down    destroy every machine (or --keep-machines for the next supervisor to re-adopt), close the
//           proxy, stop the supervisor; every process it started is gone and every port free after

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pc } from '../colors.js';
import type { EnvironmentConfig } from '../../config/types.js';
import { connectSupervisor, stateDirOf, stopSupervisor } from '../../providers/local/launcher.js';
import type { MachineProcessInfo } from '../../providers/local/local-provider.js';
import type { SupervisorInfo } from '../../providers/local/wire.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { tableRow } from '../table.js';

export interface LocalOptions extends GlobalOptions {
  env?: string;
  json?: boolean;
  keepMachines?: boolean;
}

type Described = Omit<SupervisorInfo, 'token'> & {
  machines: MachineProcessInfo[];
  proxy: {
    requests: number;
    inFlight: number;
    routable: number;
    retries: number;
    badGateway: number;
    unavailable: number;
  };
};

function localEnvironment(env: EnvironmentConfig): EnvironmentConfig {
  if (env.provider !== 'local')
    throw new CliError(
      `environment ${env.name} uses provider "${env.provider}"; \`runway local\` manages "local" environments`,
    );
  return env;
}

export async function localUpCommand(options: LocalOptions, io: Io, start = true): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = localEnvironment(environment(ctx.config, options.env));
    const connection = await connectSupervisor({ config: ctx.config, env, processEnv: io.env, start });
    if (!connection) {
      if (options.json) printJson(io, { running: false, stateDir: stateDirOf(ctx.config, env) });
      else
        io.stdout.write(
          `no local supervisor runs for ${ctx.config.app.name}/${env.name} (\`runway local up --env ${env.name}\` starts one)\n`,
        );
      return 0;
    }
    try {
      const info = await connection.client.control<Described>('GET', 'info');
      if (options.json) {
        printJson(io, { running: true, started: connection.started, ...info });
        return 0;
      }
      io.stdout.write(formatInfo(info, connection.started) + '\n');
      return 0;
    } finally {
      await connection.client.close();
    }
  } finally {
    await ctx.close();
  }
}

const MACHINES_TABLE = { widths: [14, 8, 10, 11], indent: '    ' };

export function formatInfo(info: Described, started: boolean): string {
  const lines = [
    `${pc.bold(`${info.app}/${info.env}`)}  local supervisor pid ${info.pid}${started ? pc.green(' (started now)') : ''}`,
    `  proxy:    ${pc.bold(info.proxyUrl)}  (${info.proxy.routable} machines in traffic, ${info.proxy.requests} requests so far)`,
    `  state:    ${info.stateDir}`,
    `  machines: ${info.machines.length}`,
  ];
  for (const m of [...info.machines].sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id))) {
    lines.push(
      tableRow(MACHINES_TABLE, [m.id, m.group, m.release, `port ${m.port}`, m.pid ? `pid ${m.pid}` : 'no process']),
    );
  }
  return lines.join('\n');
}

export async function localDownCommand(options: LocalOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const env = localEnvironment(environment(ctx.config, options.env));
    const stateDir = stateDirOf(ctx.config, env);
    let stopped = await stopSupervisor(stateDir, { keepMachines: options.keepMachines ?? false });
    if (!stopped && !options.keepMachines && recordedMachines(stateDir) > 0) {
      // No supervisor, but machines are recorded (it died): one adopts the live ones, then destroys them all.
      const connection = await connectSupervisor({ config: ctx.config, env, processEnv: io.env });
      await connection?.client.close();
      stopped = await stopSupervisor(stateDir);
    }
    const what = `${ctx.config.app.name}/${env.name}`;
    if (options.json) printJson(io, { stopped, keepMachines: options.keepMachines ?? false, stateDir });
    else if (!stopped) io.stdout.write(`no local supervisor was running for ${what}\n`);
    else if (options.keepMachines)
      io.stdout.write(
        `stopped the supervisor of ${what}; its machines keep running until a supervisor re-adopts them\n`,
      );
    else io.stdout.write(`stopped ${what}: every machine process is gone, the proxy and machine ports are free\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

function recordedMachines(stateDir: string): number {
  try {
    return readdirSync(path.join(stateDir, 'machines')).filter((f) => f.endsWith('.json')).length;
  } catch {
    return 0;
  }
}
