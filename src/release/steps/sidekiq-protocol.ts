// Sidekiq's own Redis protocol, as the sidekiq-quiet step speaks it (Sidekiq 6.0 – 8.x;
// lib/sidekiq/api.rb and launcher.rb):
//
// - Live processes: the members of the SET `processes` (identities "hostname:pid:nonce") whose
//   HASH `<identity>` still has the field `info` (the hash expires 60 s after the last heartbeat, so
//   a member without `info` is dead). `info` is JSON; `"embedded": true` marks a Sidekiq running
//   inside another process, which reads its signals but ignores them: skipped, as Sidekiq's
//   Process#quiet! refuses it.
// - Quiet, exactly as Process#quiet!: MULTI; LPUSH <identity>-signals TSTP; EXPIRE <identity>-signals 60; EXEC.
// - Each heartbeat (every 10 s in 7.x/8.x, 5 s in 6.x) writes `quiet` = @done.to_s and `busy` into
//   the hash, then RPOPs one signal and acts on it; so `quiet` = "true" shows on the beat after the
//   one that read TSTP: up to ~2 beats (about 20 s). The default 30 s timeout leaves room and stays
//   below the 60 s after which an unread signal expires (a longer wait could never succeed).
// - With redis-namespace every key is prefixed `<namespace>:` (the set members are not).

import type { Redis } from 'ioredis';

/** Sidekiq's EXPIRE on `<identity>-signals`: an unread signal is gone after this. */
export const SIGNAL_TTL_SECONDS = 60;

export interface Keys {
  processes: string;
  hash(identity: string): string;
  signals(identity: string): string;
}

export function sidekiqKeys(namespace: string | undefined): Keys {
  const k = (name: string) => (namespace ? `${namespace}:${name}` : name);
  return { processes: k('processes'), hash: (id) => k(id), signals: (id) => k(`${id}-signals`) };
}

/** What one read of a process shows. */
export interface Seen {
  member: boolean;
  info: string | null;
  quiet: string | null;
  busy: string | null;
  beat: string | null;
}

const PIPELINE_CHUNK = 500;

/** Reads each process's membership in `processes` and its hash's info, quiet, busy and beat (pipelined). */
export async function readProcesses(client: Redis, keys: Keys, ids: string[]): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  for (let i = 0; i < ids.length; i += PIPELINE_CHUNK) {
    const chunk = ids.slice(i, i + PIPELINE_CHUNK);
    const pipeline = client.pipeline();
    for (const id of chunk) {
      pipeline.sismember(keys.processes, id);
      pipeline.hmget(keys.hash(id), 'info', 'quiet', 'busy', 'beat');
    }
    const replies = (await pipeline.exec()) ?? [];
    chunk.forEach((id, j) => {
      const member = replies[2 * j];
      const hash = replies[2 * j + 1];
      if (!member || !hash) throw new Error('Redis returned fewer replies than commands sent');
      if (member[0]) throw member[0];
      if (hash[0]) throw hash[0];
      const [info = null, quiet = null, busy = null, beat = null] = hash[1] as (string | null)[];
      out.set(id, { member: member[1] === 1, info, quiet, busy, beat });
    });
  }
  return out;
}

/** The identities in the `processes` set, sorted. */
export async function listIdentities(client: Redis, keys: Keys): Promise<string[]> {
  const ids = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.sscan(keys.processes, cursor, 'COUNT', 1000);
    cursor = next;
    for (const id of batch) ids.add(id);
  } while (cursor !== '0');
  return [...ids].sort();
}

/** Quiet, as Process#quiet! does: TSTP pushed to the process's signal list, which expires unread. */
export async function sendQuiet(client: Redis, keys: Keys, identity: string): Promise<void> {
  const list = keys.signals(identity);
  const replies = await client.multi().lpush(list, 'TSTP').expire(list, SIGNAL_TTL_SECONDS).exec();
  for (const [err] of replies ?? []) if (err) throw err;
}

/** The signals still unread in each process's list (one pipeline). */
export async function unreadSignals(client: Redis, keys: Keys, identities: string[]): Promise<Map<string, string[]>> {
  const pipeline = client.pipeline();
  for (const id of identities) pipeline.lrange(keys.signals(id), 0, -1);
  const replies = (await pipeline.exec()) ?? [];
  return new Map(identities.map((id, i) => [id, (replies[i]?.[1] as string[] | undefined) ?? []]));
}

/** A process's `info` JSON as an object; undefined when it is not one. */
export function parseInfo(info: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(info);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A count field (`busy`) as a number; null when absent or not a number. */
export function countOf(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
