// The sidekiq-quiet step's waits: poll the signalled processes until each reports quiet (then,
// optionally, idle), and say in words why one did not.

import type { Redis } from 'ioredis';
import { formatDuration } from '../../domain/clock.js';
import { classifyRedisError } from './redis.js';
import { countOf, readProcesses, unreadSignals, type Keys, type Seen } from './sidekiq-protocol.js';
import { plural, type SidekiqProcessOutcome } from './sidekiq-quiet-report.js';
import type { BuiltinStepContext } from './step.js';

export interface Tracked {
  outcome: SidekiqProcessOutcome;
  signalledAtMs: number | null;
  beatAtSignal: string | null;
  lastSeen: Seen | null;
}

interface WaitOptions {
  clock: NonNullable<BuiltinStepContext['clock']>;
  signal: AbortSignal;
  log(line: string): void;
  timeoutMs: number;
  pollMs: number;
}

/**
 * Polls `pending` until `settle` has settled each one or the deadline passes; one read of every
 * pending process per poll (pipelined). A failed read is logged and retried at the next poll.
 * Returns the processes still pending at the deadline.
 */
async function pollUntil(
  client: Redis,
  keys: Keys,
  pending: Tracked[],
  w: WaitOptions,
  settle: (t: Tracked, seen: Seen, now: number) => boolean,
  progress: (left: number) => void,
): Promise<Tracked[]> {
  const deadline = w.clock.now() + w.timeoutMs;
  let left = pending;
  let lastError = '';
  for (;;) {
    try {
      const seen = await readProcesses(
        client,
        keys,
        left.map((t) => t.outcome.identity),
      );
      const now = w.clock.now();
      const before = left.length;
      left = left.filter((t) => {
        const s = seen.get(t.outcome.identity);
        if (!s) return true;
        t.lastSeen = s;
        if (countOf(s.busy) !== null) t.outcome.busy = countOf(s.busy);
        if (!s.member || !s.info) {
          t.outcome.state = 'gone';
          t.outcome.reason = !s.member
            ? 'it left the processes set (it stopped)'
            : 'its heartbeat expired (no beat for 60 s)';
          w.log(`${t.outcome.identity}: ${t.outcome.reason}`);
          return false;
        }
        return !settle(t, s, now);
      });
      if (left.length !== before) progress(left.length);
      lastError = '';
    } catch (err) {
      if (w.signal.aborted) throw w.signal.reason ?? err;
      const message = classifyRedisError(err, 'Redis').message;
      if (message !== lastError) w.log(`reading the processes failed, retrying: ${message}`);
      lastError = message;
    }
    if (left.length === 0) return left;
    const remaining = deadline - w.clock.now();
    if (remaining <= 0) return left;
    // A poll at the step's interval, not a backoff (domain/backoff.ts): a failed read is retried on the next poll.
    await w.clock.sleep(Math.min(w.pollMs, remaining), w.signal);
  }
}

export async function waitQuiet(client: Redis, keys: Keys, signalled: Tracked[], w: WaitOptions): Promise<void> {
  if (signalled.length === 0) return;
  const total = signalled.length;
  const left = await pollUntil(
    client,
    keys,
    signalled,
    w,
    (t, s, now) => {
      if (s.quiet !== 'true') return false;
      t.outcome.state = 'quieted';
      t.outcome.ackMs = now - (t.signalledAtMs ?? now);
      return true;
    },
    (n) => w.log(`quiet: ${total - n}/${total}`),
  );
  if (left.length === 0) return;
  // Say why each did not acknowledge: is TSTP still unread, did it beat since?
  let unread = new Map<string, string[]>();
  try {
    unread = await unreadSignals(
      client,
      keys,
      left.map((t) => t.outcome.identity),
    );
  } catch {
    // best effort: the reason then says less
  }
  for (const t of left) {
    t.outcome.state = 'timed_out';
    const signals = unread.get(t.outcome.identity);
    const quiet = t.lastSeen?.quiet ?? 'null';
    const beat = Number(t.lastSeen?.beat);
    const beatAge =
      Number.isFinite(beat) && beat > 0
        ? ` (last heartbeat ${formatDuration(Math.max(0, w.clock.now() - beat * 1000))} ago)`
        : '';
    const beatSince = t.lastSeen?.beat !== t.beatAtSignal;
    if (signals === undefined) {
      t.outcome.reason = `no quiet = "true" yet; it reports quiet = "${quiet}"${beatAge}`;
    } else if (signals.includes('TSTP')) {
      t.outcome.reason = beatSince
        ? `it is heart-beating${beatAge} but TSTP is still unread in ${keys.signals(t.outcome.identity)} (${signals.length} signal(s) queued; Sidekiq reads one per heartbeat): it does not read its signals`
        : `no heartbeat since TSTP was sent${beatAge}, and TSTP is still unread: the process looks hung (Sidekiq beats every 10 s)`;
    } else {
      t.outcome.reason = `it read TSTP but still reports quiet = "${quiet}"${beatAge}: it ignores TSTP (an embedded Sidekiq, or the app traps TSTP)`;
    }
    w.log(`${t.outcome.identity}: did not report quiet within ${formatDuration(w.timeoutMs)}: ${t.outcome.reason}`);
  }
}

export async function waitIdle(client: Redis, keys: Keys, quieted: Tracked[], w: WaitOptions): Promise<void> {
  const total = quieted.length;
  w.log(
    `waiting up to ${formatDuration(w.timeoutMs)} for ${plural(total, 'quiet process')} to finish their jobs (busy = 0)`,
  );
  const left = await pollUntil(
    client,
    keys,
    quieted,
    w,
    (t, s) => {
      if (s.busy !== '0') return false;
      t.outcome.idle = true;
      return true;
    },
    (n) => w.log(`idle: ${total - n}/${total}`),
  );
  for (const t of quieted) {
    if (t.outcome.state === 'gone') {
      t.outcome.state = 'quieted';
      t.outcome.idle = true;
      t.outcome.reason = `stopped while finishing its jobs (${t.outcome.reason ?? 'gone'})`;
    }
  }
  for (const t of left) {
    t.outcome.idle = false;
    t.outcome.reason = `still busy with ${t.outcome.busy ?? '?'} job(s) after ${formatDuration(w.timeoutMs)}`;
    w.log(`${t.outcome.identity}: ${t.outcome.reason}`);
  }
}
