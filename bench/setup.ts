// The benchmark fleet, wired the way the CLI wires a sim environment: a runway.toml parsed by the config
// layer (so strategy settings are exactly the CLI defaults), a SimProvider with the DEFAULT latency model
// (the "Fly-like model" of docs/benchmarks.md) on a virtual clock with Fly's rate limits enforced, the
// ResilientProvider in front of it, and an in-memory SQLite store.

import { getEnvironment, parseConfig, resolveStrategySettings } from '../src/config/index.js';
import { VirtualClock } from '../src/domain/clock.js';
import type {
  FleetScope,
  Machine,
  ProcessGroup,
  Release,
  StrategyName,
  StrategySettings,
} from '../src/domain/types.js';
import { ResilientProvider } from '../src/providers/resilient-provider.js';
import { SimProvider } from '../src/providers/sim/sim-provider.js';
import type { Store } from '../src/store/contract.js';
import { openStore } from '../src/store/open-store.js';

export const SCOPE: FleetScope = { app: 'mechanic', env: 'bench' };
export const FROM = 'v1';
export const TO = 'v2';

/** web 80 % and worker 20 % of N. */
export function benchGroups(n: number): ProcessGroup[] {
  const web = Math.round(n * 0.8);
  return [
    { name: 'web', count: web },
    { name: 'worker', count: n - web },
  ];
}

/** A minimal runway.toml for N machines; nothing under [.deploy], so every setting is runway's default. */
export function benchToml(n: number): string {
  const [web, worker] = benchGroups(n);
  return [
    '[app]',
    'name = "mechanic"',
    '[app.processes]',
    `web = { count = ${web!.count} }`,
    `worker = { count = ${worker!.count} }`,
    '[[app.checks]]',
    'name = "up"',
    'type = "http"',
    'path = "/up"',
    '[environments.bench]',
    'provider = "sim"',
    '',
  ].join('\n');
}

/** Strategy settings as `runway deploy --strategy <s>` resolves them for this fleet (config defaults). */
export function benchSettings(
  strategy: StrategyName,
  n: number,
): { settings: StrategySettings; groups: ProcessGroup[] } {
  const config = parseConfig(benchToml(n), 'bench/runway.toml');
  const env = getEnvironment(config, 'bench');
  return { settings: resolveStrategySettings(env, config.app.processes, strategy), groups: config.app.processes };
}

export function release(version: string): Release {
  return { version, image: `mechanic:${version}`, createdAtMs: 0 };
}

export interface World {
  clock: VirtualClock;
  sim: SimProvider;
  provider: ResilientProvider;
  /** The fleet as seeded (no API call was made to get it). */
  seeded: Machine[];
}

/**
 * A fresh simulated world with the default (Fly-like) latency model, rate limits on, N machines seeded
 * on v1. Same seed, same latency draws: a machine's k-th update, boot, checks… (and its k-th call of each
 * API op) take the same time whatever the client and the order of its calls (src/providers/sim/keyed-draws.ts).
 */
export function newWorld(n: number, seed: number, options: { recordOps?: boolean } = {}): World {
  const clock = new VirtualClock();
  const sim = new SimProvider(
    clock,
    { clock: 'virtual', seed, rateLimits: true },
    { recordOps: options.recordOps ?? true },
  );
  const seeded = sim.seed(SCOPE, benchGroups(n), FROM);
  const provider = new ResilientProvider(sim, { clock, seed });
  return { clock, sim, provider, seeded };
}

/** An in-memory store holding the two releases and the deploy record the executor expects. */
export async function benchStore(deployId: string, strategy: StrategyName, nowMs: number): Promise<Store> {
  const store = await openStore(':memory:', process.cwd());
  await store.createRelease(SCOPE.app, release(FROM));
  await store.createRelease(SCOPE.app, release(TO));
  await store.createDeploy({
    id: deployId,
    ...SCOPE,
    release: TO,
    previousRelease: null,
    strategy,
    initiator: 'bench',
    responsible: 'bench',
    trigger: 'cli',
    reason: null,
    plan: null,
    createdAtMs: nowMs,
  });
  return store;
}
