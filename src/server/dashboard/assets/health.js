/* global document, window, uPlot */
// Deploy-health charts with uPlot (loaded before this module as the global `uPlot`): deploys and
// success rate per bucket; time to dispatch and to converge, p50 (solid) and p95 (dashed), per strategy.

import { fmtDuration } from './common.js';

const data = JSON.parse(document.getElementById('health-data').textContent);
const COLORS = { immediate: '#f59e0b', rolling: '#2563eb', bluegreen: '#16a34a', canary: '#8b5cf6', waves: '#0d9488' };
const xs = data.buckets.map((b) => b.startMs / 1000);

function width(el) {
  return Math.max(320, el.clientWidth - 4);
}

function successChart() {
  const el = document.getElementById('chart-success');
  const deploys = data.buckets.map((b) => b.deploys);
  const rate = data.buckets.map((b) => (b.successRate === null ? null : Math.round(b.successRate * 1000) / 10));
  const bars = uPlot.paths.bars({ size: [0.7, 40] });
  return new uPlot(
    {
      width: width(el),
      height: 240,
      legend: { live: false },
      scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, max)] }, pct: { range: [0, 100] } },
      axes: [
        {},
        { scale: 'n', label: 'deploys' },
        { scale: 'pct', side: 1, label: 'success %', grid: { show: false } },
      ],
      series: [
        {},
        {
          label: 'deploys',
          scale: 'n',
          fill: 'rgba(148,163,184,0.45)',
          stroke: '#94a3b8',
          paths: bars,
          points: { show: false },
        },
        { label: 'success %', scale: 'pct', stroke: '#16a34a', width: 2, spanGaps: true, points: { size: 5 } },
      ],
    },
    [xs, deploys, rate],
    el,
  );
}

function durationChart(id, key) {
  const el = document.getElementById(id);
  const series = [{}];
  const columns = [xs];
  for (const s of data.strategies) {
    for (const p of ['p50', 'p95']) {
      series.push({
        label: `${s} ${p}`,
        stroke: COLORS[s] ?? '#64748b',
        width: p === 'p50' ? 2 : 1.5,
        dash: p === 'p95' ? [6, 4] : undefined,
        spanGaps: true,
        value: (u, v) => (v === null ? '—' : fmtDuration(v * 1000)),
        points: { size: 4 },
      });
      columns.push(data.buckets.map((b) => ((b[key][s]?.[p] ?? null) === null ? null : b[key][s][p] / 1000)));
    }
  }
  if (data.strategies.length === 0) {
    el.innerHTML = '<p class="muted">no deploys in this window</p>';
    return null;
  }
  return new uPlot(
    {
      width: width(el),
      height: 240,
      legend: { live: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { size: 64, values: (u, vals) => vals.map((v) => fmtDuration(v * 1000)) }],
      series,
    },
    columns,
    el,
  );
}

const charts = [
  successChart(),
  durationChart('chart-dispatch', 'dispatch'),
  durationChart('chart-converge', 'converge'),
].filter(Boolean);
document.body.dataset.charts = String(charts.length);
window.addEventListener('resize', () => {
  for (const c of charts) c.setSize({ width: width(c.root.parentElement), height: 240 });
});
