// The SQLite store (token hashes, encrypted secrets, the ledger) is its owner's alone: the file, its
// WAL and its SHM are mode 0600, also when the file existed with a wider mode.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RealClock } from '../../src/domain/clock.js';
import { appendLedger } from '../../src/ledger/ledger.js';
import { openStore } from '../../src/store/open-store.js';

const mode = (file: string) => statSync(file).mode & 0o777;

describe('store file modes', () => {
  it('a new store file, its WAL and SHM are 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-modes-'));
    try {
      const store = await openStore(join(dir, 'state', 'runway.db'), dir);
      await appendLedger(store, new RealClock(), {
        kind: 'token.created',
        app: 'shop',
        responsible: 'a',
        initiator: 'a',
        trigger: 'token',
      });
      const files = readdirSync(join(dir, 'state'));
      assert.deepEqual(files.sort(), ['runway.db', 'runway.db-shm', 'runway.db-wal']);
      for (const f of files) assert.equal(mode(join(dir, 'state', f)).toString(8), '600', f);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an existing store readable by others is narrowed to 0600 when opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-modes-'));
    try {
      const file = join(dir, 'runway.db');
      writeFileSync(file, '');
      chmodSync(file, 0o644);
      const store = await openStore(file, dir);
      await store.close();
      assert.equal(mode(file).toString(8), '600');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
