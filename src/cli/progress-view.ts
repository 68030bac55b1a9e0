// Deploy progress for humans: on a TTY a status block redrawn in place (per wave and per machine
// state counts); otherwise plain lines, one per wave and phase, that read well in CI logs.
//
// Redrawing in place means erasing exactly the rows the last block took. A line longer than the
// terminal wraps onto more rows than it has newlines, and the erase then leaves copies behind, so
// every line of the block is cut to the terminal's width (cli-truncate: ANSI-aware), and on a resize
// the rows the old block now takes (the terminal re-wraps it) are erased before it is redrawn.

import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import { pc } from './colors.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration, RealClock } from '../domain/clock.js';
import type { Machine } from '../domain/types.js';
import type { ProgressEvent, WaveTally } from '../engine/progress.js';
import type { Measurement } from '../domain/analysis.js';
import { fmt } from '../domain/analysis-judge.js';
import { FleetTally, formatSpread } from './fleet-tally.js';

export interface Output {
  write(text: string): void;
  isTTY: boolean;
  /** The terminal's width in columns, when known (read at every redraw). */
  readonly columns?: number;
  /** Calls `listener` when the terminal is resized; returns the unsubscribe. */
  onResize?(listener: () => void): () => void;
}

/** Width assumed for a terminal that does not say. */
const DEFAULT_COLUMNS = 80;

/** `waves 1-11 as one rolling window: …`: the executor runs windowed waves as one flow. */
const FLOW = /^waves (\d+)-(\d+) as one rolling window: /;

export class ProgressView {
  private readonly tally: FleetTally;
  private wave: WaveTally | undefined;
  private waves = 0;
  private phase = 'deploy';
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribeResize: (() => void) | undefined;
  /** Display widths of the lines of the block on screen (to count the rows they take now). */
  private drawn: number[] = [];
  /** Durations on a simulated clock are simulated time, and say so. */
  private readonly simulated: boolean;

  constructor(
    private readonly out: Output,
    private readonly clock: Clock,
    private readonly header: string,
    fleet: Machine[],
  ) {
    this.tally = new FleetTally(fleet);
    this.startedAt = clock.now();
    this.simulated = !(clock instanceof RealClock);
    this.out.write(`${header}${this.simulated ? pc.dim('  (times are simulated)') : ''}\n`);
    if (out.isTTY) {
      this.timer = setInterval(() => this.draw(), 150);
      this.unsubscribeResize = out.onResize?.(() => this.draw());
    }
  }

  readonly listener = (event: ProgressEvent): void => {
    switch (event.type) {
      case 'machine':
        this.tally.apply(event.event.machine);
        break;
      case 'plan':
        if (event.round > 1)
          this.line(
            `re-observed the fleet: ${event.plan.waves.length} ${event.plan.waves.length === 1 ? 'wave remains' : 'waves remain'}`,
          );
        break;
      case 'phase':
        this.phase = event.phase;
        this.line(event.message);
        break;
      case 'wave-start':
        this.waves = event.waves;
        this.wave = {
          index: event.wave.index,
          label: event.wave.label,
          total: event.wave.steps.length,
          started: 0,
          succeeded: 0,
          failed: 0,
        };
        if (!this.out.isTTY) this.line(`${this.waveName()} ${this.waveLabel()}`);
        break;
      case 'wave-end':
        if (this.wave)
          this.line(
            `${event.ok ? pc.green('✓') : pc.red('✗')} ${this.waveName()} ${this.waveLabel()} ${this.waveCounts()}`,
          );
        break;
      case 'step':
        if (!this.wave) break;
        if (event.status === 'started') this.wave.started++;
        else if (event.status === 'succeeded') this.wave.succeeded++;
        else if (event.status === 'failed') {
          this.wave.failed++;
          this.line(pc.red(`  ${event.error ?? 'step failed'}`));
        }
        break;
      case 'release-step':
        this.line(`${event.ok ? pc.green('✓') : pc.red('✗')} ${event.step}: ${event.summary}`);
        if (!event.ok) for (const l of event.output) this.line(pc.dim(`  | ${l}`));
        break;
      case 'analysis':
        this.line(formatMeasurement(event.measurement));
        break;
      case 'dispatched':
        this.line(`dispatched after ${formatDuration(event.atMs)}${this.simulated ? ' (simulated)' : ''}`);
        break;
      case 'converged':
        break;
      case 'status':
        break;
    }
  };

  private elapsed(): string {
    return formatDuration(this.clock.now() - this.startedAt);
  }

  /** "wave 3/9", or "waves 1–11 (one flow)" for the windowed waves the executor runs together. */
  private waveName(): string {
    const w = this.wave;
    if (!w) return '';
    const flow = FLOW.exec(w.label);
    return flow
      ? `waves ${flow[1]}–${flow[2]} of ${this.waves} (one rolling window)`
      : `wave ${w.index + 1}/${this.waves}`;
  }

  private waveLabel(): string {
    const w = this.wave;
    return w ? w.label.replace(FLOW, '') : '';
  }

  private waveCounts(): string {
    const w = this.wave;
    if (!w) return '';
    return `${w.succeeded}/${w.total} done${w.failed ? `, ${w.failed} failed` : ''}`;
  }

  private statusLines(): string[] {
    const c = this.tally.counts();
    const w = this.wave;
    // Counts before the label: when the line is cut to the terminal's width, the label goes first.
    const waveLine = w
      ? `${this.waveName()}: ${this.waveCounts()}, ${w.started - w.succeeded - w.failed} in flight  ${pc.dim(this.waveLabel())}`
      : 'planning';
    const states = [
      c.extra ? `${c.extra} extra` : '',
      c.starting ? `${c.starting} starting` : '',
      c.unhealthy ? pc.yellow(`${c.unhealthy} unhealthy`) : '',
      c.failed ? pc.red(`${c.failed} failed`) : '',
      c.cordoned ? `${c.cordoned} cordoned` : '',
    ].filter(Boolean);
    return [
      `${pc.bold(this.phase)} ${pc.dim(`${this.elapsed()}${this.simulated ? ' sim' : ''}`)}  ${waveLine}`,
      `  ${formatSpread(c.byRelease)}${states.length ? '  ' + states.join(' · ') : ''}`,
    ];
  }

  private columns(): number {
    const n = this.out.columns;
    return n !== undefined && Number.isFinite(n) && n > 0 ? n : DEFAULT_COLUMNS;
  }

  private clear(): void {
    if (this.drawn.length === 0) return;
    // Rows the block takes now: after a resize the terminal may have re-wrapped its lines.
    const columns = this.columns();
    const rows = this.drawn.reduce((n, width) => n + Math.max(1, Math.ceil(width / columns)), 0);
    // Row by row (up one, erase it), as log-update does: erasing "to the end of the screen" from the
    // top-left corner makes tmux push the screen into its scrollback, leaving copies there.
    this.out.write('\r' + '\x1b[1A\x1b[2K'.repeat(rows));
    this.drawn = [];
  }

  private draw(): void {
    this.clear();
    // One column to spare: a line exactly as wide as the terminal wraps the cursor on some terminals.
    const width = Math.max(1, this.columns() - 1);
    const lines = this.statusLines().map((l) => cliTruncate(l, width, { position: 'end' }));
    this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.map((l) => stringWidth(l));
  }

  /** A permanent line above the live block (or a plain line without a TTY). */
  private line(text: string): void {
    if (this.out.isTTY) this.clear();
    this.out.write(`${pc.dim(this.elapsed().padStart(6))} ${text}\n`);
    if (this.out.isTTY) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribeResize?.();
    if (this.out.isTTY) this.clear();
  }
}

/** `analysis errors ✓ error_rate of v2 is 0.001, within ≤ 0.02 (v1 0.0008; 412 / 3008 requests)`. */
export function formatMeasurement(m: Measurement): string {
  const mark = m.verdict === 'pass' ? pc.green('✓') : m.verdict === 'fail' ? pc.red('✗') : pc.yellow('?');
  // A failure's reason already names the baseline's value.
  const base =
    m.verdict !== 'fail' && m.baselineRelease !== null && m.baseline !== null
      ? `${m.baselineRelease} ${fmt(m.baseline)}`
      : '';
  const requests = m.requests ? `${m.requests.target} / ${m.requests.baseline} requests` : '';
  const detail = [base, requests].filter(Boolean).join('; ');
  const text = `analysis ${m.analysis} ${mark} ${m.reason}${detail ? ` (${detail})` : ''}`;
  return m.verdict === 'fail' ? pc.red(text) : text;
}
