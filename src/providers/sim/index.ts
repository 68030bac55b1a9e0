// The sim provider's public surface.

export { SimProvider, DEFAULT_API_TIMEOUT_MS, emptySimStats } from './sim-provider.js';
export type { SimStats, SimProviderSettings, SimState } from './sim-provider.js';
export { SimFleet, BOOT_FAILURE_AFTER_MS, EXIT_WINDOW_MS, FLAP_WINDOW_MS } from './fleet.js';
export type { SimFleetState, SavedSimMachine, SimTarget } from './fleet.js';
export { SeededRandom } from '../../domain/random.js';
export { sampleLatency, lognormalSigma, medianLatency, Z_P99 } from './latency.js';
export { OpLog } from './op-log.js';
export type { SimPhase } from './op-log.js';
export { resolveSimOptions, constantLatency } from './resolve-options.js';
export type { SimOptionsInput } from './resolve-options.js';
export { simClock } from './sim-clock.js';
export { DEFAULT_SIM_OPTIONS } from './options.js';
export type { SimOptions, SimFaults, LatencyModel, SimLatencyOp } from './options.js';
