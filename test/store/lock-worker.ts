// Child process for test/store/sqlite.test.ts. Says it has loaded (a file named after it in the
// barrier directory argv[4]) and waits until all argv[5] workers have (so they contend together,
// however slowly a busy machine starts them), then opens (and migrates) the SQLite store at argv[2]
// — possibly a new file other workers are creating at the same moment — creates the deploy `shared`
// unless another worker did, tries to take the lock for holder argv[3], appends a journal batch, and
// prints one JSON line with the outcome.

import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';

const [file, holder, barrier, count] = process.argv.slice(2);
if (!file || !holder || !barrier || !count) throw new Error('usage: lock-worker FILE HOLDER BARRIER_DIR WORKERS');
fs.writeFileSync(path.join(barrier, holder), '');
while (fs.readdirSync(barrier).length < Number(count)) await new Promise((resolve) => setTimeout(resolve, 10));
// A cap for a loaded machine, not a timing: another worker's migration or journal batch holds the
// write lock for as long as its starved process takes (the default 10 s busy timeout can run out).
const store = await openStore(file, process.cwd(), { busyTimeoutMs: 240_000 });
try {
  await store.createDeploy({
    id: 'shared',
    app: 'mechanic',
    env: 'production',
    release: 'v2',
    previousRelease: null,
    strategy: 'rolling',
    initiator: 'alice',
    responsible: 'alice',
    trigger: 'cli',
    reason: null,
    plan: null,
    createdAtMs: 1,
  });
} catch (error) {
  if (!(error instanceof StoreError && error.kind === 'conflict')) throw error;
}
const result = await store.acquireLock(
  { app: 'mechanic', env: 'production', holder, reason: 'race', pid: process.pid, host: 'test' },
  1_000,
  60_000,
);
await store.appendJournal(
  Array.from({ length: 200 }, (_, i) => ({ deployId: 'shared', atMs: i, kind: 'note', message: `${holder}:${i}` })),
);
await store.close();
process.stdout.write(`${JSON.stringify({ holder, acquired: result.acquired })}\n`);
