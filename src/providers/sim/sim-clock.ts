// The clock a sim run uses, from `[sim] clock`: discrete-event (tests, benchmarks) or real time sped
// up by `speed` (a CLI demo that shows progress in seconds for minutes of simulated time).

import { ScaledClock, VirtualClock, type Clock } from '../../domain/clock.js';
import type { SimOptions } from './options.js';

export function simClock(options: Pick<SimOptions, 'clock' | 'speed'>, startMs?: number): Clock {
  return options.clock === 'virtual' ? new VirtualClock(startMs) : new ScaledClock(options.speed, startMs);
}
