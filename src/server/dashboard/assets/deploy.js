/* global document, EventSource, CSS, location, setTimeout */
// The deploy page's live view: follows /api/deploys/:id/events (replay, then live batches) and draws
// each machine's operations as bars over the deploy's time, the progress, the waves and release steps.
// With thousands of machines it draws a sample (failed first, then in order of their first operation)
// and shows the counts of all.

import { fmtDuration } from './common.js';

const MAX_ROWS = 60;
const data = JSON.parse(document.getElementById('deploy-data').textContent);
const esc = (s) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

let state;
function reset(startedAt) {
  state = {
    start: startedAt ?? data.startedAtMs ?? null,
    now: null,
    last: null,
    machines: new Map(),
    creates: new Map(),
    waves: new Map(),
    total: data.steps || 0,
    done: 0,
    failed: 0,
    inFlight: 0,
    status: data.status,
    phase: '',
    paused: data.paused,
    rollingBack: false,
    releaseSteps: new Set(),
    /** First wave of a flow → its last wave's index. */
    flowEnd: new Map(),
  };
}
reset(null);

function machine(id) {
  let m = state.machines.get(id);
  if (!m) state.machines.set(id, (m = { id, ops: [], st: '', h: '', r: '', g: '', firstOp: Infinity, failed: false }));
  return m;
}

function apply(e) {
  if (typeof e.at === 'number') {
    state.last = Math.max(state.last ?? e.at, e.at);
    if (state.start === null) state.start = e.at;
  }
  switch (e.t) {
    case 'plan':
      state.total = Math.max(state.total, state.done + e.steps);
      break;
    case 'wave': {
      if (e.ph) state.rollingBack = e.ph === 'rollback';
      // Waves run as one flow ("waves 2-6 as one rolling window: …") are marked together.
      const flow = /^waves (\d+)-(\d+) as one rolling window/.exec(e.l ?? '');
      state.flowEnd.set(e.i, flow ? Number(flow[2]) - 1 : e.i);
      // The plan list is the deploy's plan: a rollback's waves (same indices) do not mark it.
      if (!state.rollingBack) markWaves(e.i, 'running');
      break;
    }
    case 'wend':
      if (!state.rollingBack) markWaves(e.i, e.ok ? 'done' : 'failed');
      break;
    case 'phase':
      if (e.ph === 'rollback') state.rollingBack = true;
      state.phase = e.msg;
      state.paused = /paused before cutover/.test(e.msg);
      break;
    case 'step': {
      if (e.k === 'pause' || e.k === 'cutover') {
        if (e.s !== 'started') state.paused = false;
        if (e.s === 'started') state.inFlight++;
        else {
          state.inFlight = Math.max(0, state.inFlight - 1);
          state.done++;
        }
        break;
      }
      if (e.s === 'started') {
        const op = { k: e.k, s: e.at, e: null, st: 'run', rb: state.rollingBack };
        state.inFlight++;
        if (e.m) {
          const m = machine(e.m);
          m.ops.push(op);
          m.firstOp = Math.min(m.firstOp, e.at);
        } else if (e.l) state.creates.set(e.l, op);
        break;
      }
      state.inFlight = Math.max(0, state.inFlight - 1);
      state.done++;
      if (e.s === 'failed') state.failed++;
      let op;
      if (e.m) {
        const m = machine(e.m);
        op = [...m.ops].reverse().find((o) => o.e === null && o.k === e.k);
        if (!op && e.l && state.creates.has(e.l)) {
          op = state.creates.get(e.l);
          state.creates.delete(e.l);
          m.ops.push(op);
          m.firstOp = Math.min(m.firstOp, op.s);
        }
        if (!op) {
          op = { k: e.k, s: e.at, e: null, st: 'run' };
          m.ops.push(op);
          m.firstOp = Math.min(m.firstOp, e.at);
        }
        if (e.s === 'failed') m.failed = true;
      } else if (e.l && state.creates.has(e.l)) {
        op = state.creates.get(e.l);
        state.creates.delete(e.l);
      }
      if (op) {
        op.e = e.at;
        op.st = e.s === 'succeeded' ? (e.k === 'destroy' ? 'destroy' : 'done') : e.s === 'failed' ? 'fail' : 'skip';
        if (e.e) op.err = e.e;
      }
      state.total = Math.max(state.total, state.done + state.inFlight);
      break;
    }
    case 'm': {
      const m = machine(e.m);
      m.st = e.st;
      m.h = e.h;
      m.r = e.r;
      if (e.g) m.g = e.g;
      if (e.st === 'failed') m.failed = true;
      break;
    }
    case 'rs':
      addReleaseStep(e);
      break;
    case 'an':
      addMeasurement(e);
      break;
    case 'status':
      state.status = e.s;
      break;
    default:
      break;
  }
}

/** A row of the analysis panel (the server renders the rows the store had; live ones are added here). */
function addMeasurement(e) {
  const body = document.getElementById('analysis');
  const card = document.getElementById('analysis-card');
  if (!body || !card) return;
  const key = `${e.w}|${e.a}|${e.mt}`;
  if (body.querySelector(`[data-key="${CSS.escape(key)}"]`)) return;
  card.hidden = false;
  const cls = e.vd === 'pass' ? 'ok' : e.vd === 'fail' ? 'bad' : 'warn';
  const num = (v, r) => (v === null || v === undefined ? '—' : `${Number(v.toPrecision(4))}${r ? ` (${r})` : ''}`);
  const tr = document.createElement('tr');
  tr.className = `an-${e.vd}`;
  tr.dataset.key = key;
  tr.innerHTML = `<td>${e.w + 1}</td><td><b>${esc(e.a)}</b> <span class="muted small">${esc(e.me)}</span></td><td><span class="badge ${cls}">${esc(e.vd)}</span></td><td class="mono">${esc(num(e.v, e.r))}</td><td class="mono">${esc(num(e.b, e.br))}</td><td class="mono small">${esc(e.lim)}</td><td class="small">${esc(e.why)}</td>`;
  body.appendChild(tr);
}

function markWaves(first, status) {
  const last = state.flowEnd.get(first) ?? first;
  for (let i = first; i <= last; i++) state.waves.set(i, status);
}

function addReleaseStep(e) {
  const box = document.getElementById('release-steps');
  if (!box || state.releaseSteps.has(e.step) || box.querySelector(`[data-step="${CSS.escape(e.step)}"]`)) return;
  state.releaseSteps.add(e.step);
  document.getElementById('no-release-steps')?.remove();
  const div = document.createElement('div');
  div.className = `release-step ${e.ok ? 'ok' : 'bad'}`;
  div.dataset.step = e.step;
  div.innerHTML = `<div><span class="badge ${e.ok ? 'ok' : 'bad'}">${e.ok ? 'succeeded' : 'failed'}</span> <b>${esc(e.step)}</b> ${esc(e.summary)}</div>${e.output?.length ? `<pre>${esc(e.output.join('\n'))}</pre>` : ''}`;
  box.appendChild(div);
}

function dotClass(m) {
  if (m.st === 'failed') return 'failed';
  if (m.st === 'created' || m.st === 'starting' || m.st === 'stopping') return 'changing';
  if (m.st === 'started') return m.h === 'passing' ? 'passing' : m.h === 'critical' ? 'critical' : 'changing';
  return '';
}

function render() {
  const t0 = state.start ?? state.last ?? 0;
  let t1 = Math.max(state.now ?? 0, state.last ?? 0, t0 + 1000);
  if (data.finishedAtMs && !data.live) t1 = Math.max(t1, data.finishedAtMs);
  const span = t1 - t0;
  const pos = (t) => (((t - t0) / span) * 100).toFixed(3);
  const rows = [...state.machines.values()].filter((m) => m.ops.length > 0);
  rows.sort((a, b) => Number(b.failed) - Number(a.failed) || a.firstOp - b.firstOp || (a.id < b.id ? -1 : 1));
  const shown = rows.slice(0, MAX_ROWS);
  const ticks = [];
  for (let i = 0; i <= 5; i++)
    ticks.push(`<span style="left:${(i * 20).toFixed(0)}%">+${esc(fmtDuration((span * i) / 5) || '0s')}</span>`);
  const html = [`<div class="tl-axis">${ticks.join('')}</div>`];
  for (const m of shown) {
    const bars = m.ops
      .map((o) => {
        const end = o.e ?? t1;
        const cls =
          (o.st === 'run'
            ? 'run'
            : o.st === 'fail'
              ? 'fail'
              : o.st === 'skip'
                ? 'skip'
                : o.st === 'destroy'
                  ? 'destroy'
                  : 'done') + (o.rb ? ' rb' : '');
        const title = `${o.rb ? 'rollback ' : ''}${o.k} ${o.st === 'run' ? 'in flight' : o.st} · +${fmtDuration(o.s - t0) || '0s'} for ${fmtDuration(end - o.s) || '0s'}${o.err ? ` · ${o.err}` : ''}`;
        return `<div class="tl-bar ${cls}" data-op="${esc(o.k)}" style="left:${pos(o.s)}%;width:${Math.max(0.15, ((end - o.s) / span) * 100).toFixed(3)}%" title="${esc(title)}"></div>`;
      })
      .join('');
    html.push(
      `<div class="tl-row" data-machine="${esc(m.id)}"><div class="tl-name" title="${esc(`${m.id} ${m.g} ${m.r} ${m.st} ${m.h}`)}"><i class="${dotClass(m)}"></i>${esc(m.id)}</div><div class="tl-track">${bars}</div></div>`,
    );
  }
  if (rows.length === 0) html.push('<p class="muted">no machine operations yet</p>');
  if (rows.length > shown.length)
    html.push(
      `<div class="tl-more">+ ${(rows.length - shown.length).toLocaleString('en-US')} more machines not drawn (failed and earliest first)</div>`,
    );
  const tl = document.getElementById('timeline');
  tl.innerHTML = html.join('');
  tl.dataset.rows = String(shown.length);
  tl.dataset.span = String(span);
  tl.dataset.done = String(state.done);
  const all = rows.length;
  const inflight = rows.filter((m) => m.ops.some((o) => o.e === null)).length;
  const failed = rows.filter((m) => m.failed).length;
  document.getElementById('timeline-stats').textContent =
    `${all.toLocaleString('en-US')} machines touched${data.machines ? ` of ${data.machines.toLocaleString('en-US')} planned` : ''} · ${inflight} in flight · ${failed} failed · showing ${shown.length}`;
  // Header: progress, elapsed, phase (while live; a finished page shows the server's numbers).
  if (state.status === 'running' || state.status === 'pending' || data.live) {
    const total = Math.max(state.total, 1);
    const pct = Math.min(100, Math.round((state.done / total) * 1000) / 10);
    const pctEl = document.getElementById('pct');
    if (state.total > 0 && pctEl) pctEl.textContent = `${pct}%`;
    const bar = document.querySelector('.progress-row .progress > div');
    if (bar && state.total > 0) bar.style.width = `${pct}%`;
    const elapsed = document.getElementById('elapsed');
    if (elapsed && state.start !== null) elapsed.textContent = fmtDuration(t1 - state.start);
    const phase = document.getElementById('phase');
    if (phase && state.phase) phase.textContent = state.phase;
  }
  const promote = document.getElementById('promote');
  if (promote) promote.hidden = !state.paused;
  for (const [i, s] of state.waves) {
    const li = document.querySelector(`#waves li[data-wave="${i}"]`);
    if (li) li.className = `w-${s}`;
  }
}

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    render();
  }, 200);
}

const source = new EventSource(`/api/deploys/${encodeURIComponent(data.id)}/events`);
source.addEventListener('hello', (event) => {
  reset(JSON.parse(event.data).startedAt);
  schedule();
});
source.addEventListener('batch', (event) => {
  for (const e of JSON.parse(event.data)) apply(e);
  schedule();
});
source.addEventListener('now', (event) => {
  state.now = Number(event.data);
  schedule();
});
source.addEventListener('end', () => {
  source.close();
  render();
  // The page was drawn while the deploy ran: draw it again with the final summary.
  if (data.live) setTimeout(() => location.reload(), 600);
});
document.addEventListener('runway:acted', () => setTimeout(() => location.reload(), 300));
