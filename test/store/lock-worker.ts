// Child process for test/store/sqlite.test.ts. Waits for the start time argv[4] (so the workers
// contend together), then opens (and migrates) the SQLite store at argv[2] — possibly a new file
// other workers are creating at the same moment — creates the deploy `shared` unless another
// worker did, tries to take the lock for holder argv[3], appends a journal batch, and prints one
// JSON line with the outcome.

import { StoreError } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';

const [file, holder, startAt] = process.argv.slice(2);
if (!file || !holder || !startAt) throw new Error('usage: lock-worker FILE HOLDER START_AT_MS');
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
const store = await openStore(file, process.cwd());
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
