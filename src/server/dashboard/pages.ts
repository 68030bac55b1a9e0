// The dashboard's pages, rendered on the server (html.ts escapes every value). Client scripts in
// assets/ add live updates, charts and confirmed actions; a page is complete without them.

import { formatDuration } from '../../domain/clock.js';
import type { DeployHead, LedgerRecord, Lock } from '../../store/contract.js';
import type { LedgerVerification } from '../../ledger/ledger.js';
import type { Principal } from '../auth.js';
import { h, jsonBlock, type Html } from './html.js';
import { WINDOWS, type HealthReport, type HealthTotals, type Percentiles } from './health.js';
import type { LiveProgress } from './live.js';

export interface Viewer {
  principal: Principal;
  csrf: string;
  app: string;
  mayActOn(env: string): boolean;
}

export const STATUS_LABEL: Record<string, string> = {
  pending: 'pending',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  aborted: 'aborted',
  rolled_back: 'rolled back',
  halted: 'halted',
  release_command_failed: 'release command failed',
};

export function statusClass(status: string): string {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'running':
    case 'pending':
      return 'run';
    case 'rolled_back':
    case 'halted':
    case 'aborted':
      return 'warn';
    default:
      return 'bad';
  }
}

export function badge(status: string): Html {
  return h`<span class="badge ${statusClass(status)}" data-status="${status}">${STATUS_LABEL[status] ?? status}</span>`;
}

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function ago(ms: number, nowMs: number): string {
  const d = Math.max(0, nowMs - ms);
  if (d < 60_000) return `${Math.round(d / 1000)}s ago`;
  if (d < 3_600_000) return `${Math.round(d / 60_000)}m ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)}h ago`;
  return `${Math.round(d / 86_400_000)}d ago`;
}

export function dur(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : formatDuration(ms);
}

function pct(x: number | null): string {
  return x === null ? '—' : `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
}

export function num(n: number): string {
  return n.toLocaleString('en-US');
}

export function layout(title: string, page: string, viewer: Viewer | null, body: Html, scripts: string[] = []): string {
  const nav = (href: string, name: string, key: string) =>
    h`<a href="${href}" class="${page === key ? 'active' : ''}">${name}</a>`;
  return `<!doctype html>${h`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · runway</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/assets/dashboard.css">
${viewer ? h`<meta name="runway-csrf" content="${viewer.csrf}">` : ''}
${scripts.includes('uplot') ? h`<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css">` : ''}
</head><body data-page="${page}">
<header class="top"><a class="brand" href="/dashboard"><span class="logo">▲</span> runway</a>${
    viewer
      ? h`<span class="app-name">${viewer.app}</span>
<nav>${nav('/dashboard', 'Overview', 'overview')}${nav('/dashboard/health', 'Deploy health', 'health')}${nav('/dashboard/ledger', 'Ledger', 'ledger')}</nav>
<div class="who"><span class="who-name">${viewer.principal.name}</span> <span class="role role-${viewer.principal.role}">${viewer.principal.role}${viewer.principal.role === 'deployer' && viewer.principal.envs ? ` of ${viewer.principal.envs.join(', ')}` : ''}</span>
<form method="post" action="/dashboard/logout"><button class="link" type="submit">Sign out</button></form></div>`
      : ''
  }</header>
<main>${body}</main>
<dialog id="confirm"><form method="dialog"><h3 id="confirm-title">Confirm</h3><p id="confirm-text"></p>
<label class="reason">Reason <input id="confirm-reason" name="reason" maxlength="500" autocomplete="off" placeholder="why (recorded in the ledger)"></label>
<p class="error" id="confirm-error" hidden></p>
<div class="dialog-actions"><button value="cancel" class="secondary" id="confirm-cancel">Cancel</button><button value="ok" id="confirm-ok" class="danger">Confirm</button></div></form></dialog>
${scripts.map((s) => (s === 'uplot' ? h`<script src="/dashboard/assets/uPlot.iife.min.js"></script>` : h`<script type="module" src="/dashboard/assets/${s}.js"></script>`))}
</body></html>`}`;
}

export function loginPage(error: string | null, next: string): string {
  return layout(
    'Sign in',
    'login',
    null,
    h`<section class="login card"><h1>Sign in to runway</h1>
<p class="muted">Paste an API token (<code>runway token create --name you --role viewer</code>). It is kept in an HttpOnly cookie for 12 hours, never shown again.</p>
${error ? h`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/dashboard/login"><input type="hidden" name="next" value="${next}">
<label>API token <input type="password" name="token" id="token" autocomplete="off" required spellcheck="false"></label>
<button type="submit" id="sign-in">Sign in</button></form></section>`,
  );
}

// ---- overview

export interface EnvCardModel {
  name: string;
  provider: string;
  strategy: string;
  trigger: string;
  initiation: string;
  currentRelease: string | null;
  lock: Lock | null;
  fleet: {
    total: number;
    serving: number;
    byRelease: { release: string; count: number }[];
    extra: number;
    failed: number;
    unhealthy: number;
    starting: number;
    observedAtMs: number;
    error: string | null;
    outOfTraffic?: string[];
  } | null;
  convergence: { target: string; onTarget: number; total: number } | null;
  running: { deploy: DeployHead; progress: LiveProgress | undefined }[];
  last: DeployHead | null;
}

const RELEASE_COLORS = ['#2563eb', '#94a3b8', '#f59e0b', '#8b5cf6', '#14b8a6', '#ec4899', '#64748b'];

/** Colors of releases: the target/current release is always the first color. */
function releaseColor(release: string, order: string[]): string {
  const i = order.indexOf(release);
  return RELEASE_COLORS[i >= 0 ? i % RELEASE_COLORS.length : RELEASE_COLORS.length - 1]!;
}

export function spreadBar(byRelease: { release: string; count: number }[], primary: string | null): Html {
  const total = byRelease.reduce((n, r) => n + r.count, 0);
  if (total === 0) return h`<div class="spread empty">no serving machines</div>`;
  const order = [...(primary ? [primary] : []), ...byRelease.map((r) => r.release).filter((r) => r !== primary)];
  const sorted = [...byRelease].sort((a, b) => order.indexOf(a.release) - order.indexOf(b.release));
  return h`<div class="spread" role="img" aria-label="${sorted.map((r) => `${r.count} on ${r.release}`).join(', ')}">${sorted.map(
    (r) =>
      h`<div class="seg" data-release="${r.release}" style="width:${((r.count / total) * 100).toFixed(3)}%;background:${releaseColor(r.release, order)}" title="${r.count} on ${r.release}"></div>`,
  )}</div><div class="legend">${sorted.map((r) => h`<span><i style="background:${releaseColor(r.release, order)}"></i>${r.release} <b>${num(r.count)}</b></span>`)}</div>`;
}

export function progressBar(percent: number, cls: string): Html {
  return h`<div class="progress ${cls}"><div style="width:${Math.max(0, Math.min(100, percent)).toFixed(1)}%"></div></div>`;
}

export function progressPercent(p: LiveProgress | undefined): number | null {
  if (!p || p.total === 0) return null;
  return Math.round((p.done / p.total) * 1000) / 10;
}

export function envCard(m: EnvCardModel, viewer: Viewer, nowMs: number): Html {
  const conv = m.convergence;
  const convPct = conv && conv.total > 0 ? (conv.onTarget / conv.total) * 100 : null;
  const running = m.running;
  const state = running.length > 0 ? 'run' : m.last ? statusClass(m.last.status) : 'none';
  return h`<section class="env card state-${state}" id="env-${m.name}" data-env="${m.name}">
<div class="env-head"><h2>${m.name}</h2><span class="pill">${m.provider}</span><span class="pill">${m.strategy}</span><span class="pill" title="trigger ${m.trigger}">${m.initiation === 'manual' ? 'named human' : 'automatic'} · ${m.trigger}</span>
<span class="lock ${m.lock ? 'held' : ''}" data-lock="${m.lock?.holder ?? ''}">${m.lock ? h`locked by <a href="${m.lock.holder.startsWith('dep_') ? `/dashboard/deploys/${m.lock.holder}` : '#'}">${m.lock.holder}</a>` : 'unlocked'}</span></div>
<div class="env-body"><div class="current"><div class="label">current release</div><div class="big release">${m.currentRelease ?? '—'}</div></div>
<div class="conv"><div class="label">convergence${conv ? h` to <b>${conv.target}</b>` : ''}</div><div class="big ${convPct === 100 ? 'ok-text' : convPct === null ? '' : 'run-text'}" data-convergence="${convPct === null ? '' : convPct.toFixed(1)}">${convPct === null ? '—' : `${convPct.toFixed(convPct === 100 ? 0 : 1)}%`}</div>
<div class="muted small">${conv ? `${num(conv.onTarget)} of ${num(conv.total)} serving machines on ${conv.target}, passing` : ''}</div></div></div>
<div class="label">version spread${m.fleet ? h` <span class="muted small">· ${num(m.fleet.total)} machines${m.fleet.extra ? ` (${m.fleet.extra} extra)` : ''}${m.fleet.failed ? h` · <span class="bad-text">${m.fleet.failed} failed</span>` : ''}${m.fleet.unhealthy ? ` · ${m.fleet.unhealthy} unhealthy` : ''}${m.fleet.starting ? ` · ${m.fleet.starting} changing` : ''}${m.fleet.outOfTraffic?.length ? h` · <span class="bad-text" id="out-of-traffic-${m.name}" title="${m.fleet.outOfTraffic.slice(0, 50).join(', ')}">${m.fleet.outOfTraffic.length} out of traffic (cordoned or stopped)</span>` : ''}</span>` : ''}</div>
${m.fleet?.error ? h`<p class="error small">fleet unavailable: ${m.fleet.error}</p>` : m.fleet ? spreadBar(m.fleet.byRelease, running[0]?.deploy.release ?? m.currentRelease) : h`<div class="spread empty">observing…</div>`}
${running.map(({ deploy: d, progress: p }) => {
  const percent = progressPercent(p);
  return h`<a class="running" href="/dashboard/deploys/${d.id}" data-deploy="${d.id}"><div class="running-head">${badge(p?.paused ? 'pending' : 'running')}${p?.paused ? h`<span class="pill warn">paused before cutover</span>` : ''}<b>${d.release}</b><span class="muted">from ${d.previousRelease ?? '—'}</span><span class="muted">${d.strategy}</span>${d.emergency ? h`<span class="pill bad">EMERGENCY</span>` : ''}<span class="by">by ${d.responsible}</span></div>
${progressBar(percent ?? 0, percent === null ? 'indeterminate' : 'run')}<div class="small muted">${percent === null ? `running on ${d.owner ?? 'another instance'}` : `${percent}% · ${num(p!.done)}/${num(p!.total)} steps${p!.failed ? ` · ${p!.failed} failed` : ''}`} · ${p?.phase ?? ''} · started ${ago(d.createdAtMs, nowMs)}</div></a>`;
})}
${m.last && running.every((r) => r.deploy.id !== m.last!.id) ? h`<div class="last"><span class="label">last deploy</span> <a href="/dashboard/deploys/${m.last.id}">${badge(m.last.status)} <b>${m.last.release}</b></a> <span class="muted">${m.last.strategy} · ${m.last.trigger} · by ${m.last.responsible} · started ${ago(m.last.createdAtMs, nowMs)}</span>${m.last.emergency ? h` <span class="pill bad">EMERGENCY</span>` : ''}</div>` : ''}
${viewer.mayActOn(m.name) && running.length === 0 && m.currentRelease ? h`<div class="actions"><button class="secondary" data-action="rollback" data-env="${m.name}">Roll back ${m.name}…</button></div>` : ''}
</section>`;
}

export function recentTable(deploys: DeployHead[], nowMs: number): Html {
  return h`<table class="deploys"><thead><tr><th>status</th><th>deploy</th><th>env</th><th>release</th><th>strategy</th><th>trigger</th><th>responsible</th><th>when</th></tr></thead><tbody>
${deploys.map(
  (d) =>
    h`<tr><td>${badge(d.status)}</td><td><a href="/dashboard/deploys/${d.id}">${d.id}</a></td><td>${d.env}</td><td><b>${d.release}</b> <span class="muted">← ${d.previousRelease ?? '—'}</span></td><td>${d.strategy}</td><td>${d.trigger}${d.emergency ? h` <span class="pill bad">EMERGENCY</span>` : ''}</td><td>${d.responsible}</td><td title="${fmtTime(d.createdAtMs)}">${ago(d.createdAtMs, nowMs)}</td></tr>`,
)}</tbody></table>`;
}

export function overviewBody(cards: Html[], recent: Html): Html {
  return h`<div class="page-head"><h1>Overview</h1><span class="live-dot" id="live" title="live updates">live</span></div>
<div class="envs" id="envs">${cards}</div>
<section class="card"><h2>Recent deploys</h2><div id="recent">${recent}</div></section>`;
}

// ---- health

function p2(p: Percentiles): string {
  return p.n === 0 ? '—' : `${dur(p.p50)} / ${dur(p.p95)}`;
}

function totalsRow(name: Html | string, t: HealthTotals): Html {
  return h`<tr><td><b>${name}</b></td><td>${num(t.deploys)}</td><td class="${t.successRate === null ? '' : t.successRate >= 0.95 ? 'ok-text' : t.successRate >= 0.8 ? 'warn-text' : 'bad-text'}">${pct(t.successRate)}</td><td>${p2(t.dispatch)}</td><td>${p2(t.converge)}</td><td>${t.rollbacks}</td><td>${t.aborts}</td><td>${t.emergencies}</td><td>${t.stragglers}${t.deploysWithStragglers ? ` (${t.deploysWithStragglers} deploys)` : ''}</td></tr>`;
}

export function healthBody(report: HealthReport, envs: string[], nowMs: number): Html {
  const t = report.totals;
  const kpi = (label: string, value: string, sub: string, cls = '', id = '') =>
    h`<div class="kpi ${cls}" ${id ? h`id="${id}"` : ''}><div class="label">${label}</div><div class="value">${value}</div><div class="sub muted small">${sub}</div></div>`;
  const link = (w: number, env: string | null) =>
    `/dashboard/health?window=${w}${env ? `&env=${encodeURIComponent(env)}` : ''}`;
  const head = [
    '',
    'deploys',
    'success',
    'dispatch p50 / p95',
    'converge p50 / p95',
    'rollbacks',
    'aborts',
    'emergencies',
    'stragglers',
  ];
  return h`${jsonBlock('health-data', { buckets: report.buckets, strategies: report.strategies, bucketMs: report.bucketMs })}
<div class="page-head"><h1>Deploy health</h1><div class="seg-control" role="group" aria-label="window">${WINDOWS.map((w) => h`<a href="${link(w, report.env)}" class="${report.windowDays === w ? 'active' : ''}" data-window="${w}">${w} days</a>`)}</div>
<div class="seg-control" role="group" aria-label="environment"><a href="${link(report.windowDays, null)}" class="${report.env === null ? 'active' : ''}">all environments</a>${envs.map((e) => h`<a href="${link(report.windowDays, e)}" class="${report.env === e ? 'active' : ''}">${e}</a>`)}</div></div>
<p class="muted small">${fmtTime(report.sinceMs)} — ${fmtTime(nowMs)} · durations are measured on each deploy's provider clock</p>
<div class="kpis big-kpis">
${kpi('success rate', pct(t.successRate), `${num(t.succeeded)} of ${num(t.finished)} finished deploys${t.running ? ` · ${t.running} running` : ''}`, t.successRate === null ? '' : t.successRate >= 0.95 ? 'ok' : t.successRate >= 0.8 ? 'warn' : 'bad', 'kpi-success')}
${kpi('time to dispatch', t.dispatch.n ? `${dur(t.dispatch.p50)}` : '—', t.dispatch.n ? `p50 · p95 ${dur(t.dispatch.p95)} · ${t.dispatch.n} deploys` : 'no data', '', 'kpi-dispatch')}
${kpi('time to converge', t.converge.n ? `${dur(t.converge.p50)}` : '—', t.converge.n ? `p50 · p95 ${dur(t.converge.p95)} · ${t.converge.n} deploys` : 'no data', '', 'kpi-converge')}
${kpi('rollbacks', num(t.rollbacks), `${t.autoRollbacks} automatic · ${t.manualRollbacks} manual`, t.rollbacks ? 'warn' : '', 'kpi-rollbacks')}
${kpi('aborts', num(t.aborts), 'stopped by a person', t.aborts ? 'warn' : '', 'kpi-aborts')}
${kpi('emergencies', num(t.emergencies), 'break-glass deploys', t.emergencies ? 'bad' : '', 'kpi-emergencies')}
${kpi('stragglers', num(t.stragglers), `${t.deploysWithStragglers} deploys had some`, t.stragglers ? 'warn' : '', 'kpi-stragglers')}
</div>
<div class="grid2"><section class="card"><h2>Deploys and success rate</h2><div class="chart" id="chart-success"></div></section>
<section class="card"><h2>Time to dispatch, p50 and p95 by strategy</h2><div class="chart" id="chart-dispatch"></div></section>
<section class="card"><h2>Time to converge, p50 and p95 by strategy</h2><div class="chart" id="chart-converge"></div></section>
<section class="card"><h2>By strategy</h2><table class="stats" id="by-strategy"><thead><tr>${head.map((x) => h`<th>${x}</th>`)}</tr></thead><tbody>${Object.entries(report.byStrategy).map(([s, v]) => totalsRow(s, v))}</tbody></table>
<h2>By environment</h2><table class="stats" id="by-env"><thead><tr>${head.map((x) => h`<th>${x}</th>`)}</tr></thead><tbody>${Object.entries(report.byEnv).map(([e, v]) => totalsRow(e, v))}</tbody></table></section></div>
<section class="card"><h2>Deploys that need a look</h2>${
    report.notable.length === 0
      ? h`<p class="muted">none in this window</p>`
      : h`<table class="deploys"><thead><tr><th>status</th><th>deploy</th><th>env</th><th>release</th><th>strategy</th><th>why</th><th>responsible</th><th>when</th></tr></thead><tbody>${report.notable.map(
          (d) =>
            h`<tr><td>${badge(d.status)}</td><td><a href="/dashboard/deploys/${d.id}">${d.id}</a></td><td>${d.env}</td><td>${d.release}</td><td>${d.strategy}</td><td>${[d.emergency ? 'emergency' : '', d.trigger === 'rollback' ? 'manual rollback' : '', d.stragglers ? `${d.stragglers} stragglers` : '', d.failedMachines ? `${d.failedMachines} failed machines` : ''].filter(Boolean).join(' · ') || (STATUS_LABEL[d.status] ?? d.status)}</td><td>${d.responsible}</td><td>${ago(d.createdAtMs, nowMs)}</td></tr>`,
        )}</tbody></table>`
  }</section>`;
}

// ---- ledger

export function ledgerBody(
  verification: LedgerVerification,
  entries: LedgerRecord[],
  nav: { older: number | null; newer: number | null },
  nowMs: number,
): Html {
  const ok = verification.ok;
  return h`<div class="page-head"><h1>Ledger</h1></div>
<section class="card verify ${ok ? 'ok' : 'bad'}" id="ledger-verify" data-ok="${ok ? 'true' : 'false'}"><div class="verify-icon">${ok ? '✓' : '✗'}</div><div><h2>${ok ? 'Hash chain verified' : 'Hash chain BROKEN'}</h2>
<p>${num(verification.entries)} entries · head #${verification.head.seq} <span class="mono small">${verification.head.hash.slice(0, 16)}…</span> · checked ${fmtTime(nowMs)}</p>
${ok ? h`<p class="muted small">Every entry's hash covers its content and the entry before it; nothing was edited, removed, inserted or reordered.</p>` : h`<ul class="problems">${verification.problems.slice(0, 20).map((p) => h`<li>#${p.seq}: ${p.problem}</li>`)}</ul>`}</div></section>
<section class="card"><table class="ledger"><thead><tr><th>#</th><th>time</th><th>kind</th><th>env</th><th>deploy</th><th>responsible</th><th>initiator</th><th>trigger</th><th>reason</th><th>hash</th></tr></thead><tbody>
${entries.map(
  (e) =>
    h`<tr class="${e.emergency ? 'emergency-row' : ''} k-${e.kind.replace(/\./g, '-')}"><td>${e.seq}</td><td class="small" title="${fmtTime(e.atMs)}">${ago(e.atMs, nowMs)}</td><td><b>${e.kind}</b>${e.emergency ? h` <span class="pill bad">EMERGENCY</span>` : ''}</td><td>${e.env ?? ''}</td><td>${e.deployId ? h`<a href="/dashboard/deploys/${e.deployId}">${e.deployId}</a>` : ''}</td><td>${e.responsible}</td><td class="small">${e.initiator}</td><td>${e.trigger}</td><td>${e.reason ?? ''}</td><td class="mono small" title="${e.hash}">${e.hash.slice(0, 10)}</td></tr>`,
)}</tbody></table>
<div class="pager">${nav.newer !== null ? h`<a href="/dashboard/ledger?before=${nav.newer}">← newer</a>` : ''}${nav.older !== null ? h`<a href="/dashboard/ledger?before=${nav.older}">older →</a>` : ''}</div></section>`;
}

export function errorPage(status: number, message: string, viewer: Viewer | null): string {
  return layout(
    `${status}`,
    'error',
    viewer,
    h`<section class="card"><h1>${status}</h1><p>${message}</p><p><a href="/dashboard">back to the overview</a></p></section>`,
  );
}
