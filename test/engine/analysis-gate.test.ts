// Analysis in the engine, on the sim fleet: when it measures (after the spearhead, beside the rolling
// window, after bluegreen's greens), and what a failure does (on_failure). The metric source here is
// scripted from the real fleet the sim reports — the release's error rate grows with the number of its
// machines in traffic, like a bug that shows under load — since the sim serves no requests; real
// requests are measured in test/local/demo.test.ts and test/analysis/prometheus-source.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalysisEntry, MetricSource } from '../../src/domain/analysis.js';
import type { ProgressEvent } from '../../src/engine/progress.js';
import { rig, settings, spread } from './harness.js';

const ENTRY: AnalysisEntry = {
  name: 'errors',
  metric: { kind: 'error_rate' },
  source: 'proxy',
  windowMs: 10_000,
  intervalMs: 10_000,
  count: 2,
  failureLimit: 1,
  minRequests: 10,
  max: 0.05,
};

/** Error rate of the target: `bad` once at least `from` of its machines serve, else 0.01; the old release 0.01. */
function scripted(from: number, bad = 0.2): MetricSource & { calls: number } {
  return {
    calls: 0,
    async measure(_entry, target, baseline) {
      this.calls++;
      return {
        metric: 'error_rate',
        value: target.machineIds.length >= from ? bad : 0.01,
        baseline: baseline ? 0.01 : null,
        requests: { target: 100, baseline: 100 },
      };
    },
  };
}

describe('analysis in the engine', () => {
  it('rolling: a release that fails after the spearhead is rolled back, with the metric and values in the error', async () => {
    const r = await rig();
    try {
      const events: ProgressEvent[] = [];
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        analysis: { entries: [ENTRY] },
        metricSources: { proxy: scripted(1) },
        onProgress: (e) => events.push(e),
      });
      assert.equal(summary.status, 'rolled_back');
      assert.equal(
        summary.error,
        'analysis "errors" failed 1 of 1 measurements: error_rate of v2 is 0.2, above max 0.05 (v1: 0.01)',
      );
      const fleet = await r.fleet();
      assert.deepEqual(spread(fleet), { 'serving:v1': 12 });
      // Only the spearhead (one machine per group) ever ran v2.
      const journal = await r.store.listJournal(summary.deployId);
      const measured = journal.filter((e) => e.kind === 'analysis_measured');
      assert.equal(measured.length, 1);
      assert.deepEqual(
        (measured[0]!.data as { verdict: string; release: string; baselineRelease: string }).verdict,
        'fail',
      );
      assert.ok(events.some((e) => e.type === 'analysis' && e.measurement.verdict === 'fail'));
    } finally {
      await r.close();
    }
  });

  it('rolling: beside the window, a release whose errors show only once more machines run it is caught mid-way', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 12 }] });
    try {
      // The most machines ever on v2 at once: the window is stopped long before it reaches all 12.
      const onV2 = new Set<string>();
      let most = 0;
      const onProgress = (e: ProgressEvent) => {
        if (e.type !== 'machine') return;
        if (e.event.machine.release === 'v2' && e.event.machine.state !== 'destroyed') onV2.add(e.event.machine.id);
        else onV2.delete(e.event.machine.id);
        most = Math.max(most, onV2.size);
      };
      const summary = await r.deploy('v2', settings({ strategy: 'rolling', maxUnavailable: { count: 2 } }), {
        analysis: { entries: [{ ...ENTRY, intervalMs: 2_000, windowMs: 2_000 }] },
        metricSources: { proxy: scripted(4) },
        onProgress,
      });
      assert.equal(summary.status, 'rolled_back');
      assert.match(
        summary.error ?? '',
        /^analysis "errors" failed 1 of \d+ measurements: error_rate of v2 is 0\.2, above max 0\.05/,
      );
      const journal = await r.store.listJournal(summary.deployId);
      const verdicts = journal
        .filter((e) => e.kind === 'analysis_measured')
        .map((e) => (e.data as { verdict: string }).verdict);
      assert.ok(verdicts.filter((v) => v === 'pass').length >= 2, `the spearhead passed first: ${verdicts.join(',')}`);
      assert.equal(verdicts.at(-1), 'fail');
      assert.ok(most >= 4 && most < 12, `caught while the window rolled: at most ${most} machines ran v2`);
      assert.deepEqual(spread(await r.fleet()), { 'serving:v1': 12 });
    } finally {
      await r.close();
    }
  });

  it('a healthy release passes: measured after the spearhead and after the window, then succeeded', async () => {
    const r = await rig();
    try {
      const source = scripted(Infinity);
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        analysis: { entries: [ENTRY] },
        metricSources: { proxy: source },
      });
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      const journal = await r.store.listJournal(summary.deployId);
      assert.ok(
        journal.filter((e) => e.kind === 'analysis_passed').length >= 2,
        'after the spearhead and after the window',
      );
      assert.ok(source.calls >= 4);
      assert.deepEqual(spread(await r.fleet()), { 'serving:v2': 12 });
    } finally {
      await r.close();
    }
  });

  it('on_failure = halt: a failed analysis stops where it is, nothing rolled back', async () => {
    const r = await rig();
    try {
      const summary = await r.deploy('v2', settings({ strategy: 'rolling', onFailure: 'halt' }), {
        analysis: { entries: [ENTRY] },
        metricSources: { proxy: scripted(1) },
      });
      assert.equal(summary.status, 'halted');
      const fleet = await r.fleet();
      assert.equal(
        fleet.filter((m) => m.release === 'v2').length,
        2,
        'the spearhead of each group stays on v2 for a human to look at',
      );
    } finally {
      await r.close();
    }
  });

  it('a source that cannot answer fails the step, never passes it', async () => {
    const r = await rig();
    try {
      const broken: MetricSource = {
        async measure() {
          throw new Error('prometheus at http://127.0.0.1:9: ECONNREFUSED');
        },
      };
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        analysis: { entries: [ENTRY] },
        metricSources: { proxy: broken },
      });
      assert.equal(summary.status, 'rolled_back');
      assert.match(
        summary.error ?? '',
        /analysis "errors" failed 1 of 1 measurements: prometheus at http:\/\/127\.0\.0\.1:9: ECONNREFUSED/,
      );
    } finally {
      await r.close();
    }
  });

  it("bluegreen: greens get no traffic, so the proxy's analysis says so and the cutover goes on", async () => {
    const r = await rig();
    try {
      const source = scripted(1);
      const summary = await r.deploy(
        'v2',
        settings({ strategy: 'bluegreen', maxUnavailable: { count: 0 }, maxSurge: { fraction: 1 } }),
        { analysis: { entries: [ENTRY] }, metricSources: { proxy: source } },
      );
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      const journal = await r.store.listJournal(summary.deployId);
      assert.ok(
        journal.some((e) => e.kind === 'analysis_skipped' && /no machine on v2 in traffic/.test(e.message ?? '')),
      );
      assert.equal(source.calls, 0);
    } finally {
      await r.close();
    }
  });
});
