// Deploy progress for humans: on a TTY a status block redrawn in place (per wave and per machine
// state counts); otherwise plain lines, one per wave and phase, that read well in CI logs.

import { pc } from './colors.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/clock.js';
import type { Machine } from '../domain/types.js';
import type { ProgressEvent, WaveTally } from '../engine/progress.js';
import { FleetTally, formatSpread } from './fleet-tally.js';

export interface Output {
  write(text: string): void;
  isTTY: boolean;
}

export class ProgressView {
  private readonly tally: FleetTally;
  private wave: WaveTally | undefined;
  private waves = 0;
  private phase = 'deploy';
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;

  constructor(
    private readonly out: Output,
    private readonly clock: Clock,
    private readonly header: string,
    fleet: Machine[],
  ) {
    this.tally = new FleetTally(fleet);
    this.startedAt = clock.now();
    this.out.write(`${header}\n`);
    if (out.isTTY) this.timer = setInterval(() => this.draw(), 150);
  }

  readonly listener = (event: ProgressEvent): void => {
    switch (event.type) {
      case 'machine':
        this.tally.apply(event.event.machine);
        break;
      case 'plan':
        if (event.round > 1) this.line(`re-observed the fleet: ${event.plan.waves.length} waves remain`);
        break;
      case 'phase':
        this.phase = event.phase;
        this.line(event.message);
        break;
      case 'wave-start':
        this.waves = event.waves;
        this.wave = { index: event.wave.index, label: event.wave.label, total: event.wave.steps.length, started: 0, succeeded: 0, failed: 0 };
        if (!this.out.isTTY) this.line(`wave ${event.wave.index + 1}/${event.waves} ${event.wave.label}`);
        break;
      case 'wave-end':
        if (this.wave) this.line(`${event.ok ? pc.green('✓') : pc.red('✗')} wave ${event.wave.index + 1}/${this.waves} ${event.wave.label} ${this.waveCounts()}`);
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
      case 'dispatched':
        this.line(`dispatched after ${formatDuration(event.atMs)}`);
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

  private waveCounts(): string {
    const w = this.wave;
    if (!w) return '';
    return `${w.succeeded}/${w.total} done${w.failed ? `, ${w.failed} failed` : ''}`;
  }

  private statusLines(): string[] {
    const c = this.tally.counts();
    const w = this.wave;
    const waveLine = w ? `wave ${w.index + 1}/${this.waves} ${w.label}: ${this.waveCounts()}, ${w.started - w.succeeded - w.failed} in flight` : 'planning';
    const states = [
      c.extra ? `${c.extra} extra` : '',
      c.starting ? `${c.starting} starting` : '',
      c.unhealthy ? pc.yellow(`${c.unhealthy} unhealthy`) : '',
      c.failed ? pc.red(`${c.failed} failed`) : '',
      c.cordoned ? `${c.cordoned} cordoned` : '',
    ].filter(Boolean);
    return [
      `${pc.bold(this.phase)} ${pc.dim(this.elapsed())}  ${waveLine}`,
      `  ${formatSpread(c.byRelease)}${states.length ? '  ' + states.join(' · ') : ''}`,
    ];
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A\x1b[0J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    this.clear();
    const lines = this.statusLines();
    this.out.write(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }

  /** A permanent line above the live block (or a plain line without a TTY). */
  private line(text: string): void {
    if (this.out.isTTY) this.clear();
    this.out.write(`${pc.dim(this.elapsed().padStart(6))} ${text}\n`);
    if (this.out.isTTY) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.out.isTTY) this.clear();
  }
}
