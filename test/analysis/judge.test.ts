import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entryVerdict, judge } from '../../src/domain/analysis-judge.js';
import type { AnalysisEntry, Measurement, SourceReading } from '../../src/domain/analysis.js';
import { emptyCounters, latencyQuantile, record, windowOf, type TrafficSnapshot } from '../../src/domain/traffic.js';

const ENTRY: AnalysisEntry = {
  name: 'errors',
  metric: { kind: 'error_rate' },
  source: 'proxy',
  windowMs: 10_000,
  intervalMs: 10_000,
  count: 3,
  failureLimit: 2,
  minRequests: 10,
};
const reading = (value: number | null, baseline: number | null): SourceReading => ({
  metric: 'error_rate',
  value,
  baseline,
  ...(value === null ? { noData: 'too few requests' } : {}),
});

describe('judge: one measurement against its limits', () => {
  it('fails above the absolute limit, naming the value, the limit and the baseline', () => {
    const m = judge({ ...ENTRY, max: 0.05 }, reading(0.12, 0.001), 'v2', 'v1');
    assert.equal(m.verdict, 'fail');
    assert.equal(m.reason, 'error_rate of v2 is 0.12, above max 0.05 (v1: 0.001)');
    assert.equal(m.limit, '≤ 0.05');
  });

  it('fails above the baseline times max_ratio, and passes at it', () => {
    const e = { ...ENTRY, maxRatio: 2 };
    assert.equal(judge(e, reading(0.021, 0.01), 'v2', 'v1').verdict, 'fail');
    assert.equal(judge(e, reading(0.02, 0.01), 'v2', 'v1').verdict, 'pass');
    assert.equal(judge(e, reading(0.02, 0.01), 'v2', 'v1').limit, '≤ baseline 0.01 × 2 = 0.02');
  });

  it('applies the tighter of both limits; without a baseline only the absolute one', () => {
    const e = { ...ENTRY, max: 0.05, maxRatio: 10 };
    assert.equal(judge(e, reading(0.04, 0.01), 'v2', 'v1').verdict, 'pass');
    assert.equal(judge(e, reading(0.06, 0.01), 'v2', 'v1').verdict, 'fail');
    assert.equal(judge(e, reading(0.04, null), 'v2', null).verdict, 'pass');
  });

  it('no data is inconclusive, never a pass', () => {
    const m = judge({ ...ENTRY, max: 0.05 }, reading(null, 0), 'v2', 'v1');
    assert.equal(m.verdict, 'inconclusive');
    assert.equal(m.reason, 'too few requests');
  });
});

describe("entryVerdict: a step's verdict from its measurements", () => {
  const m = (verdict: Measurement['verdict'], baseline: number | null = 0): Measurement => ({
    analysis: 'errors',
    metric: 'error_rate',
    value: verdict === 'inconclusive' ? null : 0.1,
    baseline,
    limit: '',
    verdict,
    reason: verdict,
    release: 'v2',
    baselineRelease: 'v1',
  });

  it('fails once failure_limit measurements failed, before count is reached', () => {
    assert.equal(entryVerdict(ENTRY, [m('fail')]).verdict, 'pending');
    assert.equal(entryVerdict(ENTRY, [m('fail'), m('pass'), m('fail')]).verdict, 'fail');
    assert.match(
      entryVerdict(ENTRY, [m('fail'), m('fail')]).reason,
      /^analysis "errors" failed 2 of 2 measurements: fail$/,
    );
  });

  it('passes after count measurements with fewer failures than the limit', () => {
    assert.equal(entryVerdict(ENTRY, [m('pass'), m('fail')]).verdict, 'pending');
    assert.equal(entryVerdict(ENTRY, [m('pass'), m('fail'), m('inconclusive')]).verdict, 'pass');
  });

  it('all inconclusive: a fail while the old release had data, a pass when no release had any', () => {
    assert.equal(entryVerdict(ENTRY, [m('inconclusive'), m('inconclusive'), m('inconclusive')]).verdict, 'fail');
    const none = entryVerdict(ENTRY, [m('inconclusive', null), m('inconclusive', null), m('inconclusive', null)]);
    assert.equal(none.verdict, 'pass');
    assert.match(none.reason, /no traffic to judge/);
  });
});

describe('request counters of the proxy', () => {
  const snapshot = (atMs: number, byMachine: TrafficSnapshot['byMachine']): TrafficSnapshot => ({ atMs, byMachine });

  it('a window is the difference of two snapshots over the machines named, on one release; a drop is a reset', () => {
    const a = emptyCounters();
    for (let i = 0; i < 10; i++) record(a, i < 2 ? 500 : 200, 20);
    const b = structuredClone(a);
    for (let i = 0; i < 10; i++) record(b, i < 5 ? 503 : 200, 20);
    const other = emptyCounters();
    record(other, 200, 1);
    const onV1 = emptyCounters();
    for (let i = 0; i < 7; i++) record(onV1, 500, 1);
    // m1 was updated in place from v1 to v2: its v1 answers are not v2's.
    const w = windowOf(
      snapshot(0, { m1: { v1: onV1, v2: a }, m2: { v2: other } }),
      snapshot(1, { m1: { v1: onV1, v2: b }, m2: { v2: other } }),
      'v2',
      ['m1'],
    );
    assert.equal(w.requests, 10);
    assert.equal(w.errors, 5);
    assert.equal(windowOf(undefined, snapshot(1, { m1: { v1: onV1, v2: b } }), 'v1', ['m1']).errors, 7);
    const restarted = emptyCounters();
    record(restarted, 500, 1);
    const reset = windowOf(snapshot(0, { m1: { v2: b } }), snapshot(1, { m1: { v2: restarted } }), 'v2', ['m1']);
    assert.deepEqual([reset.requests, reset.errors], [1, 1]);
  });

  it('latency quantiles interpolate inside their bucket; none without requests', () => {
    const c = emptyCounters();
    assert.equal(latencyQuantile(c, 0.99), null);
    for (let i = 0; i < 100; i++) record(c, 200, i < 50 ? 3 : 40);
    // 50 in (0, 5], 50 in (25, 50]: the median is the top of the first bucket, p99 near 50.
    assert.equal(latencyQuantile(c, 0.5), 5);
    assert.equal(latencyQuantile(c, 0.99), 25 + (25 * 49) / 50);
    const slow = emptyCounters();
    record(slow, 200, 60_000);
    assert.equal(latencyQuantile(slow, 0.5), 10_000, 'the open last bucket answers its lower bound');
  });
});
