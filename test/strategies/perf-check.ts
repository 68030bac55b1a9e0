// Not a test (timings are not asserted): how long buildPlan takes for 10,000 machines, per strategy.
// Run: node --import tsx test/strategies/perf-check.ts

import type { Machine, MachineBudget, StrategyName } from '../../src/domain/types.js';
import { buildPlan } from '../../src/strategies/index.js';
import { input, machine, settings } from './fixtures.js';

function fleet(n: number, group: string): Machine[] {
  return Array.from({ length: n }, (_, i) =>
    machine(`${group}-${String(i).padStart(5, '0')}`, {
      group,
      release: i % 17 === 0 ? 'v3' : 'v2',
      state: i % 101 === 0 ? 'failed' : 'started',
      cordoned: i % 211 === 0,
    }),
  );
}

const machines = [...fleet(8000, 'web'), ...fleet(2000, 'worker')];
const cases: [StrategyName, MachineBudget, number?][] = [
  ['immediate', { fraction: 0.1 }],
  ['rolling', { fraction: 0.1 }],
  ['rolling', { count: 1 }],
  ['bluegreen', { count: 0 }],
  ['canary', { fraction: 0.25 }],
  ['waves', { count: 0 }],
  ['waves', { count: 3 }, 300],
];
for (const [strategy, maxUnavailable, maxExtraTotal] of cases) {
  const inp = input(
    machines,
    { web: 8000, worker: 2000 },
    settings(strategy, {
      maxUnavailable,
      maxSurge: { fraction: 0.1 },
      ...(maxExtraTotal !== undefined ? { maxExtraTotal } : {}),
    }),
  );
  const times: number[] = [];
  let waves = 0;
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    waves = buildPlan(inp).waves.length;
    times.push(performance.now() - t);
  }
  const first = times[0]!;
  times.sort((a, b) => a - b);
  console.log(
    `${strategy.padEnd(9)} ${JSON.stringify(maxUnavailable).padEnd(18)} ${String(waves).padStart(5)} waves  first ${first.toFixed(1)} ms  median ${times[7]!.toFixed(1)} ms  max ${times.at(-1)!.toFixed(1)} ms`,
  );
}
