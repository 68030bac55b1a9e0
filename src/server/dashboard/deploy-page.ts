// The dashboard's page of one deploy: who is responsible, the plan and its settings, progress, the
// release steps, the analysis per wave and the summary (shared pieces in pages.ts).

import type { Measurement } from '../../domain/analysis.js';
import { fmt as fmtNumber } from '../../domain/analysis-judge.js';
import { formatDuration, formatOffset, SIMULATED } from '../../domain/clock.js';
import type { Plan } from '../../domain/plan.js';
import type { DeploySummary } from '../../engine/summary.js';
import type { DeployRecord, JournalEntry } from '../../store/contract.js';
import { h, jsonBlock, type Html } from './html.js';
import type { LiveProgress } from './live.js';
import {
  badge,
  dur,
  fmtTime,
  num,
  progressBar,
  progressPercent,
  STATUS_LABEL,
  statusClass,
  type Viewer,
} from './pages.js';

function fact(label: string, value: Html | string): Html {
  return h`<div><dt>${label}</dt><dd>${value}</dd></div>`;
}

export interface DeployPageModel {
  deploy: DeployRecord;
  journal: JournalEntry[];
  progress: LiveProgress | undefined;
  live: boolean;
  nowMs: number;
  /** The deploy's durations are on a simulated clock (the sim provider): they say so. */
  simulated: boolean;
  /** Cards shown after the summary (release notes, deliveries: delivery-view.ts). */
  extras?: Html[];
}

export function deployBody(model: DeployPageModel, viewer: Viewer): Html {
  const d = model.deploy;
  const plan = d.plan as Plan | null;
  const summary = d.summary as DeploySummary | null;
  const running = d.status === 'running' || d.status === 'pending';
  const mayAct = viewer.mayActOn(d.env);
  const responsibleKind =
    d.responsible === 'automation' ? 'automation (no human starts deploys here)' : 'a named human';
  const percent = running ? progressPercent(model.progress) : d.status === 'succeeded' ? 100 : null;
  const paused =
    model.progress?.paused ??
    (running && model.journal.some((e) => e.kind === 'paused') && !model.journal.some((e) => e.kind === 'promote'));
  const releaseSteps = model.journal.filter(
    (e) => e.kind === 'release_step_succeeded' || e.kind === 'release_step_failed',
  );
  // On the provider's clock (simulated for the sim provider), like the live view that updates it.
  const liveStart = model.progress?.startedAt ?? null;
  const elapsed = summary
    ? summary.finishedAtMs
    : liveStart !== null && model.progress
      ? model.progress.now - liveStart
      : null;
  const simulated = summary ? summary.clock === 'simulated' : model.simulated;
  const data = {
    id: d.id,
    env: d.env,
    status: d.status,
    strategy: d.strategy,
    startedAtMs: d.startedAtMs,
    finishedAtMs: d.finishedAtMs,
    live: running,
    simulated,
    paused,
    target: d.release,
    steps: plan ? plan.waves.reduce((n, w) => n + w.steps.length, 0) : 0,
    machines: plan
      ? [
          ...new Set(
            plan.waves.flatMap((w) =>
              w.steps
                .map((s) =>
                  s.kind === 'update'
                    ? s.machineId
                    : s.kind === 'create'
                      ? s.launchId
                      : s.kind === 'destroy'
                        ? 'machineId' in s.machine
                          ? s.machine.machineId
                          : s.machine.launchId
                        : '',
                )
                .filter(Boolean),
            ),
          ),
        ].length
      : 0,
  };
  return h`${jsonBlock('deploy-data', data)}
<section class="deploy-head card state-${statusClass(d.status)}" id="deploy-head" data-status="${d.status}">
${d.emergency ? h`<div class="emergency" role="alert"><b>EMERGENCY deploy</b> — ${d.responsible} broke glass${d.reason ? h`: “${d.reason}”` : ''}</div>` : ''}
<div class="title-row"><span id="status-badge">${badge(d.status)}</span><h1><span class="release">${d.release}</span> <span class="muted from">from ${d.previousRelease ?? '—'}</span></h1>
<span class="pill">${d.env}</span><span class="pill">${d.strategy}</span>${paused ? h`<span class="pill warn" id="paused">paused before cutover</span>` : ''}<span class="muted mono">${d.id}</span></div>
<div class="progress-row">${progressBar(percent ?? 0, statusClass(d.status))}<span class="big-pct" id="pct">${percent === null ? '—' : `${percent}%`}</span><span class="muted" id="elapsed" data-elapsed="${elapsed ?? ''}">${elapsed === null ? '' : formatDuration(elapsed)}</span>${simulated ? h`<span class="muted" id="simulated">${SIMULATED}</span>` : ''}<span class="muted" id="phase">${model.progress?.phase ?? (running ? 'running' : '')}</span></div>
<dl class="facts">${fact('responsible', h`<b>${d.responsible}</b> <span class="muted">(${responsibleKind})</span>`)}${fact('initiator', d.initiator)}${fact('trigger', d.trigger)}${fact('reason', d.reason ?? '—')}${fact('strategy', plan ? h`${d.strategy} <span class="muted">${strategySettings(plan)}</span>` : d.strategy)}${fact('created', fmtTime(d.createdAtMs))}${d.startedAtMs !== null ? fact('started', fmtTime(d.startedAtMs)) : ''}${d.finishedAtMs !== null ? fact('finished', fmtTime(d.finishedAtMs)) : ''}${fact('instance', d.owner ?? '—')}${d.abortRequestedAtMs ? fact('abort requested', h`<span class="warn-text">by ${d.abortRequestedBy ?? '?'}</span>`) : ''}</dl>
${d.error ? h`<p class="error" id="deploy-error">${d.error}</p>` : ''}
${mayAct ? h`<div class="actions" id="actions">${running ? h`<button class="danger" data-action="abort" data-deploy="${d.id}">Abort deploy…</button>` : ''}${running && (paused || d.strategy === 'bluegreen') ? h`<button data-action="promote" data-deploy="${d.id}" ${paused ? '' : 'hidden'} id="promote">Promote (cut over)…</button>` : ''}${!running ? h`<button class="secondary" data-action="rollback" data-env="${d.env}">Roll back ${d.env}…</button>` : ''}</div>` : ''}
</section>
<section class="card"><div class="card-head"><h2>Machines over time</h2><span class="muted small" id="timeline-stats"></span></div>
<div id="timeline" class="timeline" aria-live="off"><p class="muted">loading timeline…</p></div>
<div class="legend tl-legend"><span><i class="op-done"></i>done</span><span><i class="op-run"></i>in flight</span><span><i class="op-fail"></i>failed</span><span><i class="op-skip"></i>skipped</span><span><i class="op-destroy"></i>destroyed</span><span><i class="op-rb"></i>rolled back</span></div></section>
<div class="grid2"><section class="card"><h2>Plan</h2>${plan ? h`<ol class="waves" id="waves">${plan.waves.map((w) => h`<li data-wave="${w.index}"><span class="wave-state"></span><b>${w.label}</b> <span class="muted">${w.kind} · ${w.steps.length} steps</span></li>`)}</ol>${plan.notes.length ? h`<ul class="notes">${plan.notes.map((n) => h`<li>${n}</li>`)}</ul>` : ''}<p class="muted small">estimate: ${plan.estimate.apiCallsTotal} API calls, peak ${plan.estimate.extraMachinesPeak} extra machines, ${plan.estimate.unavailablePeak} out of traffic at once</p>` : h`<p class="muted">no plan yet</p>`}</section>
<section class="card"><h2>Release steps</h2><div id="release-steps">${releaseSteps.length === 0 ? h`<p class="muted" id="no-release-steps">none ran${running ? ' yet' : ''}</p>` : releaseSteps.map((e) => releaseStep(e))}</div></section></div>
${analysisCard(model.journal.filter((e) => e.kind === 'analysis_measured'))}
${summary ? summaryCard(summary) : ''}
${model.extras ?? ''}
<section class="card"><h2>Journal</h2><p class="muted small" id="journal-clock">times are offsets from the deploy's creation${simulated ? '; while it ran, in simulated time' : ''}</p><table class="journal"><thead><tr><th>#</th><th>time</th><th>kind</th><th>machine</th><th>message</th></tr></thead><tbody>${model.journal
    .filter((e) => e.kind !== 'step_succeeded')
    .slice(-80)
    .map(
      (e) =>
        h`<tr class="j-${e.kind}"><td>${e.seq ?? ''}</td><td class="mono small">${formatOffset(e.atMs, d.createdAtMs)}</td><td>${e.kind}</td><td class="mono small">${e.machineId ?? ''}</td><td>${e.message ?? ''}</td></tr>`,
    )}</tbody></table>
<p class="muted small">${model.journal.filter((e) => e.kind === 'step_succeeded').length} step_succeeded entries not listed (they are the timeline's bars)</p></section>`;
}

function setting(value: unknown): string {
  if (value && typeof value === 'object') {
    const v = value as { fraction?: number; count?: number };
    if (typeof v.fraction === 'number') return `${Math.round(v.fraction * 100)}%`;
    if (typeof v.count === 'number') return String(v.count);
  }
  return String(value);
}

function strategySettings(plan: Plan): string {
  const s = plan.settings as unknown as Record<string, unknown>;
  const keys: [string, string][] = [
    ['maxUnavailable', 'max_unavailable'],
    ['maxSurge', 'max_surge'],
    ['onFailure', 'on_failure'],
    ['pauseBeforeCutover', 'pause_before_cutover'],
    ['newVolumes', 'new_volumes'],
    ['regionOrder', 'region_order'],
  ];
  return keys
    .filter(([k]) => s[k] !== undefined && s[k] !== null && s[k] !== false)
    .map(([k, name]) => `${name} ${setting(s[k])}`)
    .join(' · ');
}

function releaseStep(e: JournalEntry): Html {
  const data = (e.data ?? {}) as { step?: string; output?: string[] };
  const ok = e.kind === 'release_step_succeeded';
  return h`<div class="release-step ${ok ? 'ok' : 'bad'}"><div>${badge(ok ? 'succeeded' : 'failed')} <b>${data.step ?? ''}</b> ${e.message ?? ''}</div>${data.output && data.output.length ? h`<pre>${data.output.slice(-40).join('\n')}</pre>` : ''}</div>`;
}

/** Each measurement of the deploy's analysis, per step: value against baseline and limit, and the verdict. */
function analysisCard(entries: JournalEntry[]): Html {
  const rows = entries.map((e) => {
    const m = (e.data ?? {}) as Partial<Measurement>;
    return analysisRow(e.wave ?? 0, m);
  });
  return h`<section class="card" id="analysis-card" ${entries.length === 0 ? 'hidden' : ''}><h2>Analysis</h2><table class="analysis"><thead><tr><th>step</th><th>analysis</th><th>verdict</th><th>new</th><th>baseline</th><th>limit</th><th>why</th></tr></thead><tbody id="analysis">${rows}</tbody></table></section>`;
}

function analysisRow(wave: number, m: Partial<Measurement>): Html {
  const verdictClass = m.verdict === 'pass' ? 'ok' : m.verdict === 'fail' ? 'bad' : 'warn';
  const value = (v: number | null | undefined, release: string | null | undefined) =>
    v === null || v === undefined ? '—' : `${fmtNumber(v)}${release ? ` (${release})` : ''}`;
  return h`<tr class="an-${m.verdict ?? ''}" data-key="${wave}|${m.analysis ?? ''}|${m.atMs ?? 0}"><td>${wave + 1}</td><td><b>${m.analysis ?? ''}</b> <span class="muted small">${m.metric ?? ''}</span></td><td><span class="badge ${verdictClass}">${m.verdict ?? ''}</span></td><td class="mono">${value(m.value, m.release)}</td><td class="mono">${value(m.baseline, m.baselineRelease)}</td><td class="mono small">${m.limit ?? ''}</td><td class="small">${m.reason ?? ''}</td></tr>`;
}

function summaryCard(s: DeploySummary): Html {
  const kpi = (label: string, value: string, cls = '') =>
    h`<div class="kpi ${cls}"><div class="label">${label}</div><div class="value">${value}</div></div>`;
  return h`<section class="card" id="summary"><h2>Summary${s.clock === 'simulated' ? h` <span class="muted small" id="summary-clock">durations in simulated time</span>` : ''}</h2><div class="kpis">
${kpi('result', STATUS_LABEL[s.status] ?? s.status, statusClass(s.status))}${kpi('time to dispatch', dur(s.dispatchedAtMs))}${kpi('time to converge', dur(s.convergedAtMs))}${kpi('finished after', dur(s.finishedAtMs))}
${kpi('on target', `${num(s.machines.onTarget)} / ${num(s.machines.total)}`, s.machines.total > 0 && s.machines.onTarget === s.machines.total ? 'ok' : '')}${kpi('failed machines', num(s.machines.failed), s.machines.failed ? 'bad' : '')}${kpi('stragglers', num(s.machines.stragglers), s.machines.stragglers ? 'warn' : '')}${kpi('extra machines (peak)', num(s.extraMachinesPeak))}${kpi('API calls', num(s.apiCalls))}${kpi('rate limited', num(s.rateLimited), s.rateLimited ? 'warn' : '')}</div>
${s.error ? h`<p class="error">${s.error}</p>` : ''}
${s.stragglerIds.length ? h`<p class="small"><b>stragglers:</b> <span class="mono">${s.stragglerIds.slice(0, 50).join(', ')}${s.stragglerIds.length > 50 ? ` and ${s.stragglerIds.length - 50} more` : ''}</span></p>` : ''}
${s.leftOutOfTraffic?.length ? h`<p class="small error" id="left-out"><b>left out of traffic (cordoned or stopped; settling could not put them back):</b> <span class="mono">${s.leftOutOfTraffic.slice(0, 50).join(', ')}${s.leftOutOfTraffic.length > 50 ? ` and ${s.leftOutOfTraffic.length - 50} more` : ''}</span></p>` : ''}
${s.failedMachineIds.length ? h`<p class="small"><b>failed machines:</b> <span class="mono">${s.failedMachineIds.slice(0, 50).join(', ')}${s.failedMachineIds.length > 50 ? ` and ${s.failedMachineIds.length - 50} more` : ''}</span></p>` : ''}</section>`;
}
