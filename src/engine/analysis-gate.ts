// Analysis between steps (src/analysis/): after a wave put machines on the target, measure every
// analysis entry `count` times, `interval` apart, before the next wave starts; during a wave that
// runs as one long flow (rolling's window), measure every interval as it goes. A failed analysis ends
// the wave like a failed health check, so `on_failure` (rollback or halt) applies. Only the forward
// direction is analysed: a rollback is not held up by the release it is leaving.

import { entryVerdict, judge, sourceFailure } from '../domain/analysis-judge.js';
import {
  describeMetric,
  type AnalysisEntry,
  type AnalysisSpec,
  type Measurement,
  type MetricSources,
  type ReleaseSide,
} from '../domain/analysis.js';
import type { Clock } from '../domain/clock.js';
import type { Wave, WaveKind } from '../domain/plan.js';
import type { FleetScope, Machine } from '../domain/types.js';
import type { Provider } from '../providers/contract.js';
import { describeError } from './errors.js';
import type { Outcome } from './wave-runner.js';
import type { ProgressListener } from './progress.js';

/** Waves after which the new release serves (or, for bluegreen's greens, could be measured). */
const ANALYSED: ReadonlySet<WaveKind> = new Set(['spearhead', 'batch', 'canary', 'surge', 'create']);

export interface AnalysisHost {
  provider: Provider;
  scope: FleetScope;
  clock: Clock;
  /** The release being deployed. */
  target: string;
  note(kind: string, message: string, data?: unknown, wave?: number | null): void;
  /** The live view hears each measurement. */
  emit: ProgressListener;
}

export class AnalysisGate {
  private primed = false;

  constructor(
    private readonly spec: AnalysisSpec,
    private readonly sources: MetricSources,
    private readonly host: AnalysisHost,
  ) {}

  /** A measurement goes to the live view and the journal. */
  private measured(measurement: Measurement, wave: Wave): void {
    this.host.emit({ type: 'analysis', measurement, wave: wave.index });
    this.host.note(
      'analysis_measured',
      `${measurement.analysis}: ${measurement.verdict}: ${measurement.reason}`,
      measurement,
      wave.index,
    );
  }

  applies(wave: Wave): boolean {
    return this.spec.entries.length > 0 && ANALYSED.has(wave.kind);
  }

  /** Run a wave (`run`) with analysis measuring beside it when the wave is one long flow. */
  async during(
    wave: Wave,
    deploySignal: AbortSignal,
    run: (signal: AbortSignal) => Promise<Outcome>,
  ): Promise<Outcome> {
    if (!this.applies(wave) || wave.window === undefined) return run(deploySignal);
    await this.prime(deploySignal);
    const stop = new AbortController();
    const signal = AbortSignal.any([deploySignal, stop.signal]);
    let failure: string | undefined;
    const monitor = this.measureUntil(wave, signal, true).then(
      (verdict) => {
        if (verdict) {
          failure = verdict;
          stop.abort(new Error(verdict));
        }
      },
      () => {},
    );
    const outcome = await run(signal);
    stop.abort(new Error('wave over'));
    await monitor;
    if (failure !== undefined && !deploySignal.aborted) return { ok: false, error: failure, aborted: false };
    return outcome;
  }

  /** After a wave: `count` rounds of measurements; the first entry to fail ends the step. */
  async after(wave: Wave, signal: AbortSignal): Promise<Outcome> {
    if (!this.applies(wave)) return { ok: true };
    await this.prime(signal);
    this.host.note(
      'analysis_started',
      `analysis after ${wave.label}: ${this.spec.entries.map((e) => e.name).join(', ')}`,
      { entries: this.spec.entries.map((e) => e.name) },
      wave.index,
    );
    try {
      const failure = await this.measureUntil(wave, signal, false);
      if (failure) return { ok: false, error: failure, aborted: false };
    } catch (error) {
      if (signal.aborted) return { ok: false, error: describeError(signal.reason ?? error), aborted: true };
      // The fleet could not be listed (the provider gave up): no evidence, so no pass.
      return { ok: false, error: `analysis after ${wave.label}: ${describeError(error)}`, aborted: false };
    }
    return { ok: true };
  }

  private async prime(signal: AbortSignal): Promise<void> {
    if (this.primed) return;
    this.primed = true;
    await Promise.all(Object.values(this.sources).map((s) => s?.prime?.(signal)));
  }

  /**
   * Measure each entry every `interval` until one fails (its reason is returned). After a step
   * (`flow` false) each entry stops at its verdict and the call returns once all have passed; beside
   * a flow, measuring goes on until the signal ends it, judging the last `count` measurements.
   */
  private async measureUntil(wave: Wave, signal: AbortSignal, flow: boolean): Promise<string | undefined> {
    const taken = new Map<string, Measurement[]>(this.spec.entries.map((e) => [e.name, []]));
    const nextAt = new Map<string, number>(
      this.spec.entries.map((e) => [e.name, this.host.clock.now() + e.intervalMs]),
    );
    const open = new Set(this.spec.entries.map((e) => e.name));
    const skipped = new Set<string>();
    while (open.size > 0) {
      const due = Math.min(...[...open].map((n) => nextAt.get(n)!));
      await this.host.clock.sleep(Math.max(0, due - this.host.clock.now()), signal);
      const now = this.host.clock.now();
      const entries = this.spec.entries.filter((e) => open.has(e.name) && nextAt.get(e.name)! <= now);
      const fleet = await this.host.provider.list(this.host.scope, { signal });
      for (const entry of entries) {
        nextAt.set(entry.name, now + entry.intervalMs);
        const m = await this.measure(entry, fleet, signal, !skipped.has(entry.name));
        if (!m) {
          skipped.add(entry.name);
          // After a step, an entry that cannot see the new release (bluegreen's greens are out of traffic) is done.
          if (!flow) open.delete(entry.name);
          continue;
        }
        m.atMs = now;
        const list = taken.get(entry.name)!;
        list.push(m);
        if (flow && list.length > entry.count) list.shift();
        this.measured(m, wave);
        const verdict = entryVerdict(entry, list);
        if (verdict.verdict === 'fail' && (!flow || m.verdict === 'fail')) return verdict.reason;
        if (verdict.verdict === 'pass' && !flow) {
          open.delete(entry.name);
          this.host.note('analysis_passed', verdict.reason, { analysis: entry.name }, wave.index);
        }
      }
    }
    return undefined;
  }

  /** One measurement, or undefined when the entry cannot measure this fleet (said once in the journal). */
  private async measure(
    entry: AnalysisEntry,
    fleet: readonly Machine[],
    signal: AbortSignal,
    say: boolean,
  ): Promise<Measurement | undefined> {
    const { target, baseline } = sides(entry, fleet, this.host.target);
    if (target.machineIds.length === 0) {
      if (say)
        this.host.note(
          'analysis_skipped',
          `analysis "${entry.name}": no machine on ${this.host.target} in traffic to measure${entry.source === 'proxy' ? ' (the proxy sees requests only to machines in traffic)' : ''}`,
          { analysis: entry.name },
        );
      return undefined;
    }
    const source = this.sources[entry.source];
    if (!source)
      return sourceFailure(
        entry,
        describeMetric(entry),
        `no ${entry.source} source is configured`,
        target.release,
        baseline?.release ?? null,
      );
    try {
      const reading = await source.measure(entry, target, baseline, signal);
      return judge(entry, reading, target.release, baseline?.release ?? null);
    } catch (error) {
      if (signal.aborted) throw error;
      return sourceFailure(
        entry,
        describeMetric(entry),
        describeError(error),
        target.release,
        baseline?.release ?? null,
      );
    }
  }
}

/**
 * The new release's machines and the baseline's (the release most machines still run), of the entry's
 * group. Machines out of traffic answer no request: they are left out of both.
 */
export function sides(
  entry: AnalysisEntry,
  fleet: readonly Machine[],
  target: string,
): { target: ReleaseSide; baseline: ReleaseSide | null } {
  const serving = fleet.filter(
    (m) => (entry.group === undefined || m.group === entry.group) && m.state === 'started' && !m.cordoned,
  );
  const ours = serving.filter((m) => m.release === target).map((m) => m.id);
  const others = new Map<string, string[]>();
  for (const m of serving) if (m.release !== target) others.set(m.release, [...(others.get(m.release) ?? []), m.id]);
  const [baseRelease, baseIds] = [...others].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  return {
    target: { release: target, machineIds: ours },
    baseline: baseRelease ? { release: baseRelease, machineIds: baseIds! } : null,
  };
}
