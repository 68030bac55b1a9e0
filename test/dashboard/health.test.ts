// Deploy-health numbers (pure): percentiles, success rate, rollbacks (automatic and manual), aborts,
// emergencies, stragglers, buckets per window, per strategy and environment.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketMsFor, healthReport, percentile, totals, windowStart } from '../../src/server/dashboard/health.js';
import type { DeployStat } from '../../src/store/contract.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

function stat(id: string, over: Partial<DeployStat>): DeployStat {
  return {
    id,
    env: 'production',
    release: 'v2',
    strategy: 'rolling',
    status: 'succeeded',
    trigger: 'release',
    responsible: 'pat',
    emergency: false,
    createdAtMs: NOW - DAY,
    startedAtMs: 1_000,
    dispatchedAtMs: 11_000,
    convergedAtMs: 21_000,
    finishedAtMs: 22_000,
    abortRequested: false,
    stragglers: 0,
    failedMachines: 0,
    ...over,
  };
}

describe('deploy health', () => {
  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(percentile(v, 50), 10);
    assert.equal(percentile(v, 95), 19);
    assert.equal(percentile([7], 95), 7);
    assert.equal(percentile([], 50), null);
  });

  it('totals: success over finished deploys; rollbacks, aborts, emergencies, stragglers; converge only for successes', () => {
    const t = totals([
      stat('a', {}),
      stat('b', { status: 'rolled_back', convergedAtMs: 99_000 }),
      stat('c', { trigger: 'rollback', dispatchedAtMs: 31_000, convergedAtMs: 41_000 }),
      stat('d', { status: 'aborted', dispatchedAtMs: null, convergedAtMs: null }),
      stat('e', { status: 'running', emergency: true, dispatchedAtMs: null, convergedAtMs: null }),
      stat('f', { strategy: 'immediate', stragglers: 3, status: 'failed', convergedAtMs: null }),
    ]);
    assert.deepEqual(
      {
        deploys: t.deploys,
        finished: t.finished,
        succeeded: t.succeeded,
        running: t.running,
        rollbacks: t.rollbacks,
        auto: t.autoRollbacks,
        manual: t.manualRollbacks,
        aborts: t.aborts,
        emergencies: t.emergencies,
        stragglers: t.stragglers,
        withStragglers: t.deploysWithStragglers,
      },
      {
        deploys: 6,
        finished: 5,
        succeeded: 2,
        running: 1,
        rollbacks: 2,
        auto: 1,
        manual: 1,
        aborts: 1,
        emergencies: 1,
        stragglers: 3,
        withStragglers: 1,
      },
    );
    assert.equal(t.successRate, 2 / 5);
    // dispatch: a, b, c, f = 10s, 10s, 30s, 10s; converge: a and c only (successes) = 20s, 40s.
    assert.deepEqual(t.dispatch, { n: 4, p50: 10_000, p95: 30_000 });
    assert.deepEqual(t.converge, { n: 2, p50: 20_000, p95: 40_000 });
  });

  it('windows: aligned buckets (6 h / 1 day / 3 days), rows outside the window or environment left out', () => {
    assert.equal(bucketMsFor(7), DAY / 4);
    assert.equal(bucketMsFor(30), DAY);
    assert.equal(bucketMsFor(90), 3 * DAY);
    const since = windowStart(NOW, 7);
    assert.ok(since > NOW - 7 * DAY && since <= NOW - 7 * DAY + DAY / 4);
    assert.equal(since % (DAY / 4), 0);
    const rows = [
      stat('old', { createdAtMs: NOW - 8 * DAY }),
      stat('p1', { createdAtMs: NOW - 2 * DAY }),
      stat('p2', { createdAtMs: NOW - 1000, strategy: 'waves', dispatchedAtMs: 5_000, convergedAtMs: 6_000 }),
      stat('s1', { createdAtMs: NOW - 1000, env: 'staging', status: 'failed' }),
    ];
    const r = healthReport(rows, { nowMs: NOW, windowDays: 7 });
    assert.equal(r.totals.deploys, 3);
    assert.equal(r.buckets.length, Math.ceil((NOW - since) / (DAY / 4)));
    assert.equal(
      r.buckets.reduce((n, b) => n + b.deploys, 0),
      3,
    );
    const last = r.buckets.at(-1)!;
    assert.equal(last.deploys, 2);
    assert.equal(last.successRate, 0.5);
    assert.deepEqual(last.dispatch.waves, { n: 1, p50: 4_000, p95: 4_000 });
    assert.deepEqual(last.dispatch.rolling, { n: 1, p50: 10_000, p95: 10_000 });
    assert.deepEqual(r.strategies, ['rolling', 'waves']);
    assert.deepEqual(Object.keys(r.byEnv).sort(), ['production', 'staging']);
    assert.deepEqual(
      r.notable.map((d) => d.id),
      ['s1'],
    );
    const prod = healthReport(rows, { nowMs: NOW, windowDays: 30, env: 'production' });
    assert.equal(prod.totals.deploys, 3);
    assert.equal(prod.totals.successRate, 1);
    assert.equal(prod.buckets.length, 30);
  });
});
