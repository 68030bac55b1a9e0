// `runway sim serve --port P [--state FILE] [--eventual-consistency MS] [--seed N] [--speed X] [--regions ord,iad] [--volumes web:data:/data] …`
// The simulated fleet behind a Fly Machines-compatible HTTP API, in its own process: point an
// environment at it with `provider = "fly"` and `[environments.X.fly] api_url = "http://127.0.0.1:P"`.
// Clients authenticate with the token in the server's $FLY_API_TOKEN (or --token-file); it is never
// printed. Runs until Ctrl-C / SIGTERM, then saves --state and exits 0.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDuration, ScaledClock } from '../../domain/clock.js';
import type { SimOptionsInput } from '../../providers/sim/resolve-options.js';
import type { SimFlyBackend } from '../../providers/sim/serve/fly-backend.js';
import { loadSimServeState, startSimServer } from '../../providers/sim/serve/sim-server.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';

export interface SimServeOptions extends GlobalOptions {
  port?: string;
  host?: string;
  state?: string;
  eventualConsistency?: string;
  seed?: string;
  speed?: string;
  app?: string[];
  fleet?: string;
  initialRelease?: string;
  regions?: string;
  volumes?: string;
  env?: string;
  unhealthyReleases?: string;
  bootFailureReleases?: string;
  tokenFile?: string;
  json?: boolean;
}

export async function simServeCommand(options: SimServeOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const token = serverToken(options, io);
  const port = wholeNumber('--port', options.port ?? '0', 0, 65535);
  const statePath = options.state ? resolve(io.cwd, options.state) : undefined;
  let saved;
  try {
    saved = loadSimServeState(statePath);
  } catch (error) {
    throw new CliError((error as Error).message);
  }

  // [sim] settings of an environment (latency, faults, seed, speed), when asked for; flags win.
  let sim: SimOptionsInput = {};
  if (options.env) {
    const ctx = await openContext(options, io);
    try {
      const { clock: _clock, initialRelease: _initial, ...rest } = environment(ctx.config, options.env).sim;
      sim = rest;
    } finally {
      await ctx.close();
    }
  }
  if (options.seed !== undefined) sim.seed = wholeNumber('--seed', options.seed, 0, 2 ** 31);
  const speed = options.speed !== undefined ? positive('--speed', options.speed) : options.env ? (sim.speed ?? 1) : 1;
  sim.speed = speed;
  sim.clock = 'scaled';
  const faults = { ...sim.faults };
  if (options.unhealthyReleases) faults.unhealthyReleases = list(options.unhealthyReleases);
  if (options.bootFailureReleases) faults.bootFailureReleases = list(options.bootFailureReleases);
  sim.faults = faults;
  const eventualConsistencyMs =
    options.eventualConsistency !== undefined ? durationFlag('--eventual-consistency', options.eventualConsistency) : 0;
  const fleet = options.fleet ? parseFleet(options.fleet) : undefined;
  const initialRelease = options.initialRelease ?? 'v1';
  const regions = options.regions !== undefined ? parseRegions(options.regions) : undefined;
  const volumes = options.volumes !== undefined ? parseVolumes(options.volumes) : [];
  for (const v of volumes)
    if (!fleet?.some((g) => g.name === v.group)) throw new CliError(`--volumes: group "${v.group}" is not in --fleet`);

  // Simulated time goes on from where a saved state stopped, so leases and timestamps stay coherent.
  const clock = new ScaledClock(speed, Math.max(Date.now(), saved?.savedAtMs ?? 0));
  const server = await startSimServer(
    { clock, token, sim, faults: { eventualConsistencyMs }, statePath, host: options.host ?? '127.0.0.1', port },
    saved,
  );
  for (const app of options.app ?? []) {
    try {
      server.backend.ensureApp(app);
    } catch (error) {
      await server.close();
      throw new CliError(`--app ${app}: ${(error as Error).message}`);
    }
    const fresh = server.backend.listApps().find((a) => a.name === app)?.machine_count === 0;
    if (fleet && fresh) seedFleet(server.backend, app, fleet, initialRelease, regions, volumes);
  }
  server.save();

  const info = {
    url: server.url,
    port: server.port,
    pid: process.pid,
    speed,
    seed: server.backend.sim.options.seed,
    state: statePath ?? null,
    apps: server.backend.listApps().map((a) => a.name),
  };
  if (options.json) printJson(io, info);
  else {
    io.stdout.write(
      `runway sim serve: Fly Machines API on ${server.url} (speed ${speed}x, seed ${info.seed}${statePath ? `, state ${statePath}` : ''})\n`,
    );
    if (info.apps.length) io.stdout.write(`  apps: ${info.apps.join(', ')}\n`);
    io.stdout.write('  clients send Authorization: Bearer $FLY_API_TOKEN; Ctrl-C stops\n');
  }

  await new Promise<void>((done) => {
    if (!signal) return; // no way to be stopped: serve until the process ends
    if (signal.aborted) return done();
    signal.addEventListener('abort', () => done(), { once: true });
  });
  await server.close();
  if (!options.json) io.stderr.write(`runway sim serve: stopped${statePath ? `; state saved to ${statePath}` : ''}\n`);
  return 0;
}

/** The token clients must send: --token-file, else $FLY_API_TOKEN (never a flag: flags show in `ps`). */
function serverToken(options: SimServeOptions, io: Io): string {
  if (options.tokenFile) {
    try {
      const token = readFileSync(resolve(io.cwd, options.tokenFile), 'utf8').trim();
      if (token) return token;
    } catch (error) {
      throw new CliError(
        `--token-file ${options.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    throw new CliError(`--token-file ${options.tokenFile} is empty`);
  }
  const token = io.env.FLY_API_TOKEN?.trim();
  if (!token)
    throw new CliError(
      'runway sim serve needs the token clients will send: set FLY_API_TOKEN or pass --token-file FILE',
    );
  return token;
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CliError(`${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new CliError(`${flag}: expected a number above 0, got "${text}"`);
  return n;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `web=400,worker=100` → groups. */
export function parseFleet(text: string): { name: string; count: number }[] {
  const groups = list(text).map((part) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*)=(\d+)$/.exec(part);
    if (!m) throw new CliError(`--fleet: expected GROUP=COUNT[,GROUP=COUNT…] such as "web=4,worker=2", got "${part}"`);
    return { name: m[1]!, count: Number(m[2]) };
  });
  if (groups.length === 0) throw new CliError('--fleet: empty');
  return groups;
}

/** `ord,iad,cdg` → regions (Fly's region codes: lowercase letters and digits). */
export function parseRegions(text: string): string[] {
  const regions = list(text);
  for (const r of regions)
    if (!/^[a-z0-9]+$/.test(r))
      throw new CliError(`--regions: "${r}" is not a region code (lowercase letters and digits, e.g. ord)`);
  if (regions.length === 0) throw new CliError('--regions: empty');
  return regions;
}

/** `web:data:/data,db:pg:/var/lib/postgresql` → one volume per machine of each group. */
export function parseVolumes(text: string): { group: string; name: string; path: string }[] {
  const out = list(text).map((part) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*):([a-z0-9_]{1,30}):(\/\S*)$/.exec(part);
    if (!m)
      throw new CliError(
        `--volumes: expected GROUP:NAME:PATH such as "web:data:/data" (NAME: lowercase letters, digits, _), got "${part}"`,
      );
    return { group: m[1]!, name: m[2]!, path: m[3]! };
  });
  if (out.length === 0) throw new CliError('--volumes: empty');
  return out;
}

/** Seed a fresh app: one seeding per volume layout (the backend seeds one volume name per call). */
function seedFleet(
  backend: SimFlyBackend,
  app: string,
  fleet: { name: string; count: number }[],
  release: string,
  regions: string[] | undefined,
  volumes: { group: string; name: string; path: string }[],
): void {
  const base = { release, ...(regions ? { regions } : {}) };
  const plain = fleet.filter((g) => !volumes.some((v) => v.group === g.name));
  if (plain.length > 0) backend.seed(app, { ...base, groups: plain });
  for (const v of volumes) {
    const groups = fleet.filter((g) => g.name === v.group);
    backend.seed(app, { ...base, groups, volumes: { name: v.name, path: v.path, groups: [v.group] } });
  }
}

/** Milliseconds: a bare number is ms (`2000`), or a duration (`2s`). Simulated time. */
function durationFlag(flag: string, text: string): number {
  try {
    return /^\d+$/.test(text) ? Number(text) : parseDuration(text);
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`);
  }
}
