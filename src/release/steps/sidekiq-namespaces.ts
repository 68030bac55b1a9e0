// When sidekiq-quiet finds no process without a namespace, the usual cause is that the app's Sidekiq
// uses redis-namespace: its processes are in `<namespace>:processes`, not `processes`. This finds
// such sets (a bounded SCAN, so a large Redis costs at most a few round trips) so the step can name
// the namespace instead of reporting "nothing to quiet".

import type { Redis } from 'ioredis';

/** At most this many SCAN round trips (COUNT 1000 each). */
const MAX_SCANS = 50;

export interface NamespacedSet {
  namespace: string;
  members: number;
}

/** Namespaces that have a non-empty `<namespace>:processes` set, most members first. */
export async function namespacedProcessSets(client: Redis): Promise<NamespacedSet[]> {
  const keys = new Set<string>();
  let cursor = '0';
  for (let i = 0; i < MAX_SCANS; i++) {
    const [next, batch] = await client.scan(cursor, 'MATCH', '*:processes', 'COUNT', 1000);
    for (const k of batch) keys.add(k);
    cursor = next;
    if (cursor === '0') break;
  }
  const found: NamespacedSet[] = [];
  for (const key of keys) {
    // Only sets: a string or hash that happens to end in ":processes" is not Sidekiq's.
    if ((await client.type(key)) !== 'set') continue;
    const members = await client.scard(key);
    if (members > 0) found.push({ namespace: key.slice(0, -':processes'.length), members });
  }
  return found.sort((a, b) => b.members - a.members || a.namespace.localeCompare(b.namespace));
}

/** The sentence the step fails with, naming the namespaces found and the option to set. */
export function namespaceHint(where: string, sets: readonly NamespacedSet[]): string {
  const shown = sets
    .slice(0, 5)
    .map((s) => `"${s.namespace}:processes" (${s.members} ${s.members === 1 ? 'member' : 'members'})`);
  const more = sets.length > 5 ? ` and ${sets.length - 5} more` : '';
  return (
    `no Sidekiq process in "processes" at ${where}, but namespaced process sets exist: ${shown.join(', ')}${more}. ` +
    `Sidekiq there uses redis-namespace: set the namespace (--namespace ${sets[0]!.namespace}, or namespace = "${sets[0]!.namespace}" in the step's settings); nothing was signalled`
  );
}
