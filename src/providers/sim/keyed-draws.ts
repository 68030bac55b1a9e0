// Latency draws keyed per machine. The k-th `op` of machine M draws the same time whatever else the
// sim was asked before it, so two clients that drive the same seeded fleet with different calls in a
// different order (runway's strategies and the benchmark's flyctl models) face the same machines: the
// comparison is of schedules, not of which client happened to draw the slow chains. One shared stream
// in call order would hand the same machine's update, boot and checks different times under each.
// Draws tied to no machine yet (listings, a create before its id exists) and fault draws stay on the
// shared stream (SeededRandom).

import { fmix32, type SeededRandom } from '../../domain/random.js';
import type { SimMachineRecord } from './sim-machine.js';

/** FNV-1a over the machine id's UTF-16 units and a separator, started from `salt`: where every key of the machine starts. */
function machinePrefix(salt: number, machineId: string): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < machineId.length; i++) h = Math.imul(h ^ machineId.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193);
}

/** FNV-1a of the key (a machine's prefix, then the op and k), finalised. */
function hashKey(prefix: number, op: string, k: number): number {
  let h = prefix;
  for (let i = 0; i < op.length; i++) h = Math.imul(h ^ op.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ k, 0x01000193);
  return fmix32(h ^ fmix32(k + 0x9e3779b9));
}

/** The salt of the second hash of a draw (Box–Muller's angle). */
function angleSalt(base: number): number {
  return fmix32(base ^ 0x68e31da4);
}

/**
 * The base every keyed draw is salted with: a function of the shared stream's state when the sim was
 * made, so a fresh sim keys on its seed and a restored one (SimState.rng) on where its stream was.
 */
export function keyedDrawBase(rng: SeededRandom): number {
  let h = 0x2545f491;
  for (const word of rng.state()) h = fmix32(Math.imul(h ^ word, 0x01000193));
  return h;
}

/** A standard normal for (machine, op, k), by Box–Muller from two independent 32-bit hashes. */
function normalFrom(prefix: number, anglePrefix: number, op: string, k: number): number {
  const u = 1 - hashKey(prefix, op, k) / 0x1_0000_0000; // (0, 1]: the log is finite
  const v = hashKey(anglePrefix, op, k) / 0x1_0000_0000;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A machine's draws so far: its count of each op (by the op's slot, below), and the two hashes of its
 * id every key of it starts from (hashed once per machine, not twice per draw).
 */
export class MachineDraws {
  readonly counts: number[] = [];
  readonly prefix: number;
  readonly anglePrefix: number;

  constructor(
    /** The base the prefixes are for (a sim's API calls and its lifecycles draw on one). */
    readonly base: number,
    machineId: string,
  ) {
    this.prefix = machinePrefix(base, machineId);
    this.anglePrefix = machinePrefix(angleSalt(base), machineId);
  }
}

/**
 * Each op's slot in a record's `draws`: counts by slot, not an object keyed by op, which every machine
 * fills in its own order (a shape per order, and slow keyed access on the hot path of every call).
 */
const drawSlots = new Map<string, number>();

/** The machine's next draw for `op` (its own count of `op` draws so far is the key's k). */
export function nextKeyedNormal(base: number, record: SimMachineRecord, op: string): number {
  let slot = drawSlots.get(op);
  if (slot === undefined) drawSlots.set(op, (slot = drawSlots.size));
  const draws = (record.draws ??= new MachineDraws(base, record.machine.id));
  const counts = draws.counts;
  while (counts.length <= slot) counts.push(0);
  const k = counts[slot]!;
  counts[slot] = k + 1;
  if (draws.base === base) return normalFrom(draws.prefix, draws.anglePrefix, op, k);
  const id = record.machine.id;
  return normalFrom(machinePrefix(base, id), machinePrefix(angleSalt(base), id), op, k);
}
