// Past deploys for the health page and the dashboard benchmark: `count` finished deploys spread over
// `days` before `nowMs`, with a seeded mix of strategies, outcomes, triggers, emergencies and
// stragglers, each with a summary like the executor's. Deterministic for a given seed.

import type { StrategyName } from '../../src/domain/types.js';
import type { Store } from '../../src/store/contract.js';

const ENVS: { env: string; strategies: StrategyName[]; trigger: string; responsible: () => string }[] = [
  { env: 'production', strategies: ['rolling', 'waves', 'canary'], trigger: 'release', responsible: () => 'pat' },
  { env: 'staging', strategies: ['immediate', 'bluegreen'], trigger: 'push', responsible: () => 'automation' },
  { env: 'qa', strategies: ['bluegreen', 'rolling'], trigger: 'manual', responsible: () => 'dora' },
];

/** Typical seconds to dispatch per strategy (converge adds a little more). */
const DISPATCH_S: Record<StrategyName, number> = {
  immediate: 12,
  rolling: 240,
  bluegreen: 420,
  canary: 300,
  waves: 160,
};

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function seedHistory(
  store: Store,
  options: { app: string; nowMs: number; count: number; days: number; seed?: number; machines?: number },
): Promise<string[]> {
  const random = rng(options.seed ?? 7);
  const ids: string[] = [];
  const machines = options.machines ?? 48;
  for (let i = 0; i < options.count; i++) {
    const e = ENVS[Math.floor(random() * ENVS.length)]!;
    const strategy = e.strategies[Math.floor(random() * e.strategies.length)]!;
    const created = options.nowMs - Math.floor(random() * options.days * 86_400_000) - 60_000;
    const roll = random();
    const status =
      roll < 0.88
        ? 'succeeded'
        : roll < 0.92
          ? 'rolled_back'
          : roll < 0.95
            ? 'failed'
            : roll < 0.98
              ? 'aborted'
              : 'halted';
    const manualRollback = random() < 0.03;
    const emergency = e.responsible() !== 'automation' && random() < 0.015;
    const dispatchMs = Math.round(DISPATCH_S[strategy] * 1000 * (0.6 + random() * 0.8) * (random() < 0.05 ? 2.5 : 1));
    const convergeMs = dispatchMs + Math.round(random() * 30_000 + (strategy === 'immediate' ? 20_000 : 2_000));
    const stragglers = strategy === 'immediate' && random() < 0.06 ? 1 + Math.floor(random() * 4) : 0;
    const id = `dep_seed${String(i).padStart(6, '0')}`;
    const version = `v${1000 + i}`;
    await store.createDeploy({
      id,
      app: options.app,
      env: e.env,
      release: version,
      previousRelease: `v${999 + i}`,
      strategy,
      initiator: manualRollback ? 'token:pat' : e.trigger === 'push' ? 'github:push' : `token:${e.responsible()}`,
      responsible: emergency ? 'root' : e.responsible(),
      trigger: manualRollback ? 'rollback' : e.trigger,
      reason: emergency ? 'hotfix' : null,
      plan: null,
      createdAtMs: created,
      status: 'running',
      ...(emergency ? { emergency: true } : {}),
    });
    const ok = status === 'succeeded';
    await store.updateDeploy(id, {
      status,
      startedAtMs: created,
      dispatchedAtMs: status === 'failed' ? null : created + dispatchMs,
      convergedAtMs: ok ? created + convergeMs : null,
      finishedAtMs: created + convergeMs + 1_000,
      summary: {
        deployId: id,
        app: options.app,
        env: e.env,
        release: version,
        previousRelease: `v${999 + i}`,
        strategy,
        status,
        startedAtMs: created,
        dispatchedAtMs: status === 'failed' ? null : dispatchMs,
        convergedAtMs: ok ? convergeMs : null,
        finishedAtMs: convergeMs + 1_000,
        machines: {
          total: machines,
          onTarget: ok ? machines - stragglers : 0,
          failed: status === 'failed' ? 1 : 0,
          stragglers,
        },
        failedMachineIds: status === 'failed' ? ['m-failed'] : [],
        stragglerIds: Array.from({ length: stragglers }, (_, k) => `m-straggler-${k}`),
        extraMachinesPeak: 0,
        apiCalls: machines * 4,
        rateLimited: 0,
        error: ok ? null : `${status}`,
      },
    });
    ids.push(id);
  }
  return ids;
}
