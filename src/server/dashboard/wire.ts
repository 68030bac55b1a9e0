// The dashboard's live events: ProgressEvents (src/engine/progress.ts) made compact for the wire, and
// the same events rebuilt from the store (journal and machine events) for deploys that run on another
// instance or have ended. Times (`at`) are the deploy's clock (simulated time on the sim), in ms.
//
//   {t:'plan', r, ph, waves:[{i,k,l,n}], steps}        a plan (round r) and its step count
//   {t:'phase', ph, msg, at}
//   {t:'wave', i, l, n, ph, at} / {t:'wend', i, ok, at}
//   {t:'step', k, m, l?, g?, s, e?, at}                 k: update|create|destroy|cutover|pause; s: started|succeeded|failed|skipped
//   {t:'m', m, ty, st, h, r, g?, role?, c?, at}         a machine's state after a change
//   {t:'disp', at} / {t:'conv', at}
//   {t:'rs', step, ok, summary, output}                 a release step's result and last output lines
//   {t:'status', s, msg?, at}                           the deploy ended
//   {t:'an', w, a, v, b, lim, vd, why, at}              an analysis measurement (wave w, analysis a, value v,
//                                                       baseline b, limit, verdict pass|fail|inconclusive)

import type { Measurement } from '../../domain/analysis.js';
import type { ProgressEvent } from '../../engine/progress.js';
import type { Plan, Step } from '../../domain/plan.js';
import type { JournalEntry, StoredMachineEvent } from '../../store/contract.js';

export type WireEvent = { t: string; at?: number } & Record<string, unknown>;

function stepGroup(step: Step): string | undefined {
  return step.kind === 'update' || step.kind === 'create' || step.kind === 'destroy' ? step.group : undefined;
}

function analysisWire(m: Measurement, wave: number): WireEvent {
  return {
    t: 'an',
    w: wave,
    a: m.analysis,
    me: m.metric,
    v: m.value,
    b: m.baseline,
    lim: m.limit,
    vd: m.verdict,
    why: m.reason,
    mt: m.atMs ?? 0,
    r: m.release,
    br: m.baselineRelease,
    ...(m.query ? { q: m.query } : {}),
  };
}

export function planSummary(plan: Plan, round: number, phase: string): WireEvent {
  return {
    t: 'plan',
    r: round,
    ph: phase,
    steps: plan.waves.reduce((n, w) => n + w.steps.length, 0),
    waves: plan.waves.map((w) => ({ i: w.index, k: w.kind, l: w.label, n: w.steps.length })),
  };
}

/** A ProgressEvent as sent to browsers, stamped with the deploy clock's `at`. */
export function compact(event: ProgressEvent, at: number): WireEvent {
  switch (event.type) {
    case 'plan':
      return { ...planSummary(event.plan, event.round, event.phase), at };
    case 'phase':
      return { t: 'phase', ph: event.phase, msg: event.message, at };
    case 'wave-start':
      return { t: 'wave', i: event.wave.index, l: event.wave.label, n: event.wave.steps.length, ph: event.phase, at };
    case 'wave-end':
      return { t: 'wend', i: event.wave.index, ok: event.ok, at };
    case 'step': {
      const s = event.step;
      const out: WireEvent = { t: 'step', k: s.kind, m: event.machineId, s: event.status, at };
      if (s.kind === 'create') out.l = s.launchId;
      const g = stepGroup(s);
      if (g) out.g = g;
      if (event.error) out.e = event.error;
      return out;
    }
    case 'machine': {
      const m = event.event.machine;
      return {
        t: 'm',
        m: m.id,
        ty: event.event.type,
        st: m.state,
        h: m.health,
        r: m.release,
        g: m.group,
        role: m.role,
        c: m.cordoned ? 1 : 0,
        at: event.event.atMs,
      };
    }
    case 'dispatched':
      return { t: 'disp', at };
    case 'converged':
      return { t: 'conv', at };
    case 'analysis':
      return { ...analysisWire(event.measurement, event.wave), at };
    case 'release-step':
      return { t: 'rs', step: event.step, ok: event.ok, summary: event.summary, output: event.output, at };
    case 'status':
      return { t: 'status', s: event.status, ...(event.message ? { msg: event.message } : {}), at };
  }
}

/**
 * Rebuilds wire events from what the store keeps. The journal has no step starts: a step's start is
 * taken as its machine's first event after the wave started (else the wave's start), so bars from the
 * store are close to, not exactly, what a live viewer saw. Feed it entries as they come (polling).
 */
export class StoreEventConverter {
  private waveStart = 0;
  private currentWave: number | null = null;
  /** Per machine: the first event time since its last step ended. */
  private readonly firstEvent = new Map<string, number>();
  private readonly releaseSteps = new Set<string>();

  constructor(private readonly startedAtMs: number | null) {}

  convert(journal: JournalEntry[], events: StoredMachineEvent[]): WireEvent[] {
    const merged: ({ j: JournalEntry } | { e: StoredMachineEvent })[] = [
      ...journal.map((j) => ({ j })),
      ...events.map((e) => ({ e })),
    ];
    // Stable: a machine event and a journal entry at one instant keep journal-then-event order.
    merged.sort((a, b) => ('j' in a ? a.j.atMs : a.e.atMs) - ('j' in b ? b.j.atMs : b.e.atMs));
    const out: WireEvent[] = [];
    for (const item of merged) {
      if ('e' in item) {
        const e = item.e;
        if (!this.firstEvent.has(e.machineId)) this.firstEvent.set(e.machineId, e.atMs);
        out.push({ t: 'm', m: e.machineId, ty: e.type, st: e.state, h: e.health, r: e.release, at: e.atMs });
        continue;
      }
      const j = item.j;
      const data = (j.data ?? {}) as Record<string, unknown>;
      switch (j.kind) {
        case 'wave_started':
          this.waveStart = j.atMs;
          this.currentWave = j.wave ?? null;
          out.push({ t: 'wave', i: j.wave ?? 0, l: j.message ?? '', n: Number(data.steps ?? 0), at: j.atMs });
          break;
        case 'wave_finished':
          out.push({ t: 'wend', i: j.wave ?? this.currentWave ?? 0, ok: data.ok !== false, at: j.atMs });
          break;
        case 'step_succeeded':
        case 'step_failed': {
          const m = j.machineId ?? null;
          const first = m ? this.firstEvent.get(m) : undefined;
          const start =
            first !== undefined && first >= this.waveStart && first <= j.atMs ? first : this.waveStart || j.atMs;
          const kind = j.kind === 'step_succeeded' ? (j.message ?? 'update') : 'update';
          out.push({ t: 'step', k: kind, m, s: 'started', at: start, inferred: 1 });
          out.push({
            t: 'step',
            k: kind,
            m,
            s: j.kind === 'step_succeeded' ? 'succeeded' : 'failed',
            ...(j.kind === 'step_failed' ? { e: j.message ?? '' } : {}),
            at: j.atMs,
          });
          if (m) this.firstEvent.delete(m);
          break;
        }
        case 'plan':
          out.push({ t: 'phase', ph: 'deploy', msg: j.message ?? 'plan', at: j.atMs });
          break;
        case 'paused':
          out.push({ t: 'phase', ph: 'deploy', msg: 'paused before cutover: waiting for promote', at: j.atMs });
          break;
        case 'rollback':
          out.push({ t: 'phase', ph: 'rollback', msg: j.message ?? 'rolling back', at: j.atMs });
          break;
        case 'promote':
        case 'abort_requested':
        case 'taken_over':
        case 'replan':
        case 'convergence':
        case 'settled':
        case 'provider_waiting':
        case 'provider_back':
        case 'stepped_back':
        case 'rollback_resumed':
        case 'fleet_unknown':
        case 'error':
          out.push({
            t: 'phase',
            ph: j.kind === 'convergence' ? 'converge' : 'deploy',
            msg: j.message ?? j.kind,
            at: j.atMs,
          });
          break;
        case 'release_step_succeeded':
        case 'release_step_failed': {
          const step = String(data.step ?? '');
          if (this.releaseSteps.has(step)) break;
          this.releaseSteps.add(step);
          const output = Array.isArray(data.output) ? (data.output as unknown[]).map(String).slice(-40) : [];
          out.push({
            t: 'rs',
            step,
            ok: j.kind === 'release_step_succeeded',
            summary: j.message ?? '',
            output,
            at: j.atMs,
          });
          break;
        }
        case 'analysis_measured':
          out.push({ ...analysisWire(data as unknown as Measurement, j.wave ?? 0), at: j.atMs });
          break;
        case 'analysis_skipped':
          out.push({ t: 'phase', ph: 'deploy', msg: j.message ?? j.kind, at: j.atMs });
          break;
        case 'status':
          out.push({
            t: 'status',
            s: j.message ?? 'unknown',
            ...(typeof data.error === 'string' ? { msg: data.error } : {}),
            at: j.atMs,
          });
          break;
        default:
          break;
      }
    }
    if (this.startedAtMs !== null)
      for (const e of out) if (e.at !== undefined && e.at < this.startedAtMs) e.at = this.startedAtMs;
    return out;
  }
}
