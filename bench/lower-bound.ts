// A lower bound on the time ANY executor needs to apply the plan runway applied, given the latencies the
// simulated provider actually drew (its op log). The formula, and why each term is a lower bound, is in
// docs/benchmarks.md ("Lower bound"); in short, per executed unit u (a barrier wave, or a run of windowed
// waves that flow as one):
//
//   B(u) = max( max_i C_i,                                   chain: a step's own sequential phases
//               max_j ( Σ_{j smallest} A_i / K + T_(j) ),     concurrency K on provider operations
//               max_k ( max(0, k − b) / r + C^create_(k) ),    create rate r/s burst b per app
//               max_g max( Σ_{slot steps of g} C_i / w_g,     rolling window: w_g = starting slack + promoted
//                                                             creates of g (plus the first promotion's chain
//                                                             when the slack starts at 0 or below)
//                          C_(w_g) + C_(w_g+1),
//                          ramp_g ),                         slots open as g's promoted creates come in
//               ramp_all )                                   all groups' slots under the app's one create rate
//   cutover unit: max(max u, Σu/K) + max(max c, Σc/K)        (all uncordons, then all cordons)
//   B = observe + Σ_u B(u)
//
// where C_i is the sum of the recorded durations of step i's necessary phases inside the unit (its API
// calls other than waits and reads, and the machine's create/update, boot, checks, stop and destroy
// phases), A_i the part of C_i spent in API calls, T_i the part after its last API call, (j)/(k) the
// j-th/k-th element in the order that minimises the max (tails longest first), and observe the
// latency of the one fleet listing the plan is built from.

import type { Step, Wave } from '../src/domain/plan.js';
import type { SimPhase } from '../src/providers/sim/op-log.js';

/** API calls a step needs; reads (list, get) and waits are not needed to apply a plan (events tell). */
const READS = new Set(['wait', 'list', 'get']);

/**
 * Phases on a step's critical path: its API calls other than reads and waits, and the machine phases a
 * step waits for (create/update, boot, checks; stop; destroy until gone). A drained destroy waits for
 * the machine's graceful stop before it destroys it (step-runner.ts), so a stop that ran to its end is
 * one; a stop cut short by the destroy (the drain timed out) is never logged.
 */
export function isNecessary(phase: SimPhase): boolean {
  if (phase.op === 'api') return !READS.has(phase.apiOp ?? '');
  return true;
}

/** One unit of the plan as the executor ran it (a `wave-start` event). */
export interface ExecutedUnit {
  wave: Wave;
  /** Clock time of the unit's start. */
  startMs: number;
}

export interface BoundInput {
  ops: readonly SimPhase[];
  units: readonly ExecutedUnit[];
  /** Machine each step acted on (from the executor's `step` events). */
  stepMachine: ReadonlyMap<Step, string>;
  /** Machine created for each launch id (for cutover promotes named by launch id). */
  launchMachine: ReadonlyMap<string, string>;
  /** Machines serving and in traffic when the plan was made (the window's slot rule). */
  inTraffic: ReadonlySet<string>;
  /** Clock time the deploy started and the fleet converged. */
  deployStartMs: number;
  convergedAtMs: number;
  maxConcurrency: number;
  createLimit: { ratePerSec: number; burst: number };
}

export type BoundTerm = 'chain' | 'concurrency' | 'create-rate' | 'window' | 'cutover';

export interface UnitBound {
  index: number;
  kind: string;
  label: string;
  steps: number;
  /** From the unit's start to the next unit's start (the last: to convergence). */
  actualMs: number;
  boundMs: number;
  /** The term that gave the bound. */
  binding: BoundTerm;
  terms: Partial<Record<BoundTerm, number>>;
  /** Machine id of the longest chain, and its chain. */
  longest?: { machineId: string; chainMs: number };
  /**
   * The step that finished last (what ended the unit): when its first phase started after the unit's
   * start, its chain, and the time between its phases (waiting for a concurrency slot or a token).
   */
  last?: { machineId: string; endMs: number; startDelayMs: number; chainMs: number; gapsMs: number };
}

export interface LowerBound {
  totalMs: number;
  observeMs: number;
  /** Time from the deploy's start to its first unit (observe, plan, and anything else). */
  beforeFirstUnitMs: number;
  units: UnitBound[];
  /** Necessary phases of one step that overlapped in time (must be 0: chains are sequential). */
  overlaps: number;
}

interface Chain {
  machineId: string;
  total: number;
  api: number;
  /** Time after the last API call (machine phases only). */
  tail: number;
  /** First phase's start and last phase's end (clock ms). */
  firstMs: number;
  lastMs: number;
}

/** Phases by machine id, each list sorted by start. */
function indexOps(ops: readonly SimPhase[]): Map<string, SimPhase[]> {
  const by = new Map<string, SimPhase[]>();
  for (const p of ops) {
    if (p.machineId === undefined || !isNecessary(p)) continue;
    let list = by.get(p.machineId);
    if (!list) by.set(p.machineId, (list = []));
    list.push(p);
  }
  for (const list of by.values()) list.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  return by;
}

function phasesIn(list: readonly SimPhase[] | undefined, fromMs: number, toMs: number): SimPhase[] {
  return (list ?? []).filter((p) => p.startMs >= fromMs && p.startMs < toMs);
}

function chainOf(machineId: string, phases: readonly SimPhase[], overlaps: { n: number }): Chain {
  let total = 0;
  let api = 0;
  let tail = 0;
  let lastEnd = -Infinity;
  const firstMs = phases[0]?.startMs ?? 0;
  for (const p of phases) {
    const d = p.endMs - p.startMs;
    if (p.startMs < lastEnd) overlaps.n++;
    lastEnd = Math.max(lastEnd, p.endMs);
    total += d;
    if (p.op === 'api') {
      api += d;
      tail = 0;
    } else {
      tail += d;
    }
  }
  return { machineId, total, api, tail, firstMs, lastMs: Number.isFinite(lastEnd) ? lastEnd : firstMs };
}

/** min over orderings of max_j (slot_j + tail of the j-th): longest tails into the earliest slots. */
function pairLongestFirst(slots: readonly number[], tails: readonly number[]): number {
  const sorted = [...tails].sort((a, b) => b - a);
  let best = 0;
  for (let j = 0; j < sorted.length; j++) best = Math.max(best, slots[j]! + sorted[j]!);
  return best;
}

/** Σ_{j smallest} A / K + T, longest tails first. */
function concurrencyBound(chains: readonly Chain[], k: number): number {
  const apis = chains.map((c) => c.api).sort((a, b) => a - b);
  const slots: number[] = [];
  let sum = 0;
  for (const a of apis) {
    sum += a;
    slots.push(sum / k);
  }
  return pairLongestFirst(
    slots,
    chains.map((c) => c.tail),
  );
}

/** The k-th create (1-based) cannot be sent before max(0, k − burst) / rate s after the unit starts. */
function createRateBound(chains: readonly Chain[], limit: { ratePerSec: number; burst: number }): number {
  const slots = chains.map((_, i) => (Math.max(0, i + 1 - limit.burst) * 1000) / limit.ratePerSec);
  return pairLongestFirst(
    slots,
    chains.map((c) => c.total),
  );
}

/** w slots, each step holding one for at least its chain: Σ/w, and the (w+1) longest share a slot pairwise. */
function windowBound(chains: readonly number[], w: number): number {
  if (chains.length === 0 || w <= 0) return 0;
  const sorted = [...chains].sort((a, b) => b - a);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const pair = sorted.length > w ? sorted[w - 1]! + sorted[w]! : 0;
  return Math.max(sum / w, pair);
}

/**
 * The earliest moment by which m promoted creates can be in, for m = 1, 2, …: R_m = max_i (send_i +
 * c_(m+1−i)), c ascending, send_i the i-th create's earliest send. Any m creates in by t were sent at
 * send_1 ≤ … ≤ send_m or later, and for every i the m+1−i of them sent at send_i or later hold m+1−i
 * distinct chains, the longest of which is ≥ c_(m+1−i): so t ≥ send_i + c_(m+1−i). (It is ≥ both
 * send_m + c_1 and c_m, what the staircase used before.)
 */
export function promotionReleases(
  createChains: readonly number[],
  limit: { ratePerSec: number; burst: number },
): number[] {
  const sorted = [...createChains].sort((a, b) => a - b);
  const send = (i: number) => (Math.max(0, i + 1 - limit.burst) * 1000) / limit.ratePerSec;
  return sorted.map((_, m) => {
    let at = 0;
    for (let i = 0; i <= m; i++) at = Math.max(at, send(i) + sorted[m - i]!);
    return at;
  });
}

/**
 * Slots that open as promoted machines come in. By time t a promoted machine was sent (the k-th create
 * not before (k − burst)/rate seconds) and ran its own create chain, so at most
 * min(#{k : send_k + shortest chain ≤ t}, #{chains ≤ t}) are in, i.e. the k-th opens no sooner than
 * max(send_k + shortest chain, k-th shortest chain): by time t at most start + #{k : release_k ≤ t}
 * slots exist. The slot-holding work Σ C_i must fit under that staircase: the smallest T with
 * ∫₀ᵀ slots(t) dt ≥ Σ C_i.
 */
function rampBound(
  chains: readonly number[],
  start: number,
  createChains: readonly number[],
  limit: { ratePerSec: number; burst: number },
): number {
  let work = chains.reduce((a, b) => a + b, 0);
  const releases = promotionReleases(createChains, limit);
  let t = 0;
  let slots = start;
  for (const at of releases) {
    if (slots > 0 && work <= slots * (at - t)) return t + work / slots;
    if (slots > 0) work -= slots * (at - t);
    t = at;
    slots++;
  }
  return t + work / slots;
}

function stepGroup(step: Step): string | undefined {
  return step.kind === 'update' || step.kind === 'destroy' || step.kind === 'create' ? step.group : undefined;
}

/** The executor's slot rule: a step needs a slot when it takes a machine in traffic out of it. */
function takesSlot(step: Step, machineId: string | undefined, inTraffic: ReadonlySet<string>): boolean {
  if (machineId === undefined) return false;
  if (step.kind === 'update') return inTraffic.has(machineId);
  if (step.kind === 'destroy' && step.drain) return inTraffic.has(machineId);
  return false;
}

export function lowerBound(input: BoundInput): LowerBound {
  const byMachine = indexOps(input.ops);
  const overlaps = { n: 0 };
  const k = Math.max(1, input.maxConcurrency);
  const units: UnitBound[] = [];

  for (let u = 0; u < input.units.length; u++) {
    const unit = input.units[u]!;
    const from = unit.startMs;
    const to = u + 1 < input.units.length ? input.units[u + 1]!.startMs : input.convergedAtMs;
    const chains: Chain[] = [];
    const createChains: Chain[] = [];
    const slotChains = new Map<string, number[]>();
    // Windows open as promoted machines come in (Wave.window): slots a group can ever have = its
    // starting slack + its promoted creates; none before the first of those is in traffic.
    const grants = new Map<string, number[]>();
    const allSlotChains: number[] = [];
    const terms: Partial<Record<BoundTerm, number>> = {};
    let longest: Chain | undefined;
    let last: Chain | undefined;

    for (const step of unit.wave.steps) {
      if (step.kind === 'pause') continue;
      if (step.kind === 'cutover') {
        const lat = (ids: string[], op: string) =>
          ids
            .flatMap((id) => phasesIn(byMachine.get(id), from, to).filter((p) => p.op === 'api' && p.apiOp === op))
            .map((p) => p.endMs - p.startMs);
        const promoted = step.promote
          .map((ref) => ('machineId' in ref ? ref.machineId : input.launchMachine.get(ref.launchId)))
          .filter((id): id is string => id !== undefined);
        const u1 = lat(promoted, 'uncordon');
        const c1 = lat(step.cordon, 'cordon');
        const phase = (xs: number[]) => Math.max(0, ...xs, xs.reduce((a, b) => a + b, 0) / k);
        terms.cutover = Math.max(terms.cutover ?? 0, phase(u1) + phase(c1));
        continue;
      }
      const machineId = input.stepMachine.get(step);
      if (machineId === undefined) continue;
      const chain = chainOf(machineId, phasesIn(byMachine.get(machineId), from, to), overlaps);
      chains.push(chain);
      if (!longest || chain.total > longest.total) longest = chain;
      if (!last || chain.lastMs > last.lastMs) last = chain;
      if (step.kind === 'create') {
        createChains.push(chain);
        if (step.promote) {
          let list = grants.get(step.group);
          if (!list) grants.set(step.group, (list = []));
          list.push(chain.total);
        }
      }
      if (unit.wave.window && takesSlot(step, machineId, input.inTraffic)) {
        const g = stepGroup(step) ?? '';
        let list = slotChains.get(g);
        if (!list) slotChains.set(g, (list = []));
        list.push(chain.total);
      }
      allSlotChains.push(chain.total);
    }

    if (chains.length > 0) {
      terms.chain = longest!.total;
      terms.concurrency = concurrencyBound(chains, k);
      if (createChains.length > 0) terms['create-rate'] = createRateBound(createChains, input.createLimit);
      let window = 0;
      for (const [g, list] of slotChains) {
        const start = Math.max(0, unit.wave.window?.[g] ?? 0);
        const granted = grants.get(g) ?? [];
        window = Math.max(window, windowBound(list, start + granted.length));
        if (granted.length > 0) window = Math.max(window, rampBound(list, start, granted, input.createLimit));
      }
      // The groups' creates share the app's create rate: all their slots together open no faster than
      // the app's creates are released, so all their slot-holding work must fit under that one staircase.
      if (slotChains.size > 1 && grants.size > 0) {
        const groups = [...slotChains.keys()];
        window = Math.max(
          window,
          rampBound(
            groups.flatMap((g) => slotChains.get(g)!),
            groups.reduce((n, g) => n + Math.max(0, unit.wave.window?.[g] ?? 0), 0),
            groups.flatMap((g) => grants.get(g) ?? []),
            input.createLimit,
          ),
        );
      }
      // A single sliding window over all of a wave's steps, should a plan carry one.
      const maxInFlight = (unit.wave as Wave & { maxInFlight?: number }).maxInFlight;
      if (typeof maxInFlight === 'number') window = Math.max(window, windowBound(allSlotChains, maxInFlight));
      if (window > 0) terms.window = window;
    }
    let binding: BoundTerm = 'chain';
    let boundMs = 0;
    for (const [term, value] of Object.entries(terms) as [BoundTerm, number][]) {
      if (value > boundMs) {
        boundMs = value;
        binding = term;
      }
    }
    const entry: UnitBound = {
      index: unit.wave.index,
      kind: unit.wave.kind,
      label: unit.wave.label,
      steps: unit.wave.steps.length,
      actualMs: to - from,
      boundMs,
      binding,
      terms,
    };
    if (longest) entry.longest = { machineId: longest.machineId, chainMs: longest.total };
    if (last) {
      entry.last = {
        machineId: last.machineId,
        endMs: last.lastMs - from,
        startDelayMs: last.firstMs - from,
        chainMs: last.total,
        gapsMs: last.lastMs - last.firstMs - last.total,
      };
    }
    units.push(entry);
  }

  // The plan is built from one observation of the fleet: its list call comes first.
  const firstList = input.ops
    .filter((p) => p.op === 'api' && p.apiOp === 'list' && p.startMs >= input.deployStartMs)
    .sort((a, b) => a.startMs - b.startMs)[0];
  const observeMs = firstList ? firstList.endMs - firstList.startMs : 0;
  const beforeFirstUnitMs =
    input.units.length > 0 ? input.units[0]!.startMs - input.deployStartMs : input.convergedAtMs - input.deployStartMs;
  return {
    totalMs: observeMs + units.reduce((n, u) => n + u.boundMs, 0),
    observeMs,
    beforeFirstUnitMs,
    units,
    overlaps: overlaps.n,
  };
}
