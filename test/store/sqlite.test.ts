// The store contract on SQLite (a temp file and :memory:), plus what only SQLite has: URLs that
// name files, several connections and processes sharing one file.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import type { Store } from '../../src/store/contract.js';
import { KyselyStore } from '../../src/store/kysely-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore, parseStoreUrl } from '../../src/store/open-store.js';
import { openSqlite } from '../../src/store/sqlite/open-sqlite.js';
import { runStoreContract } from './contract-suite.js';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

let tmpRoot = '';
before(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'runway-store-test-'));
});
after(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

let counter = 0;
function tempDir(): string {
  const dir = path.join(tmpRoot, `case-${++counter}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

runStoreContract('sqlite file', async () => {
  const dir = tempDir();
  const store = await openStore('runway.db', dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

runStoreContract('sqlite :memory:', async () => {
  const store = await openStore(':memory:', os.tmpdir());
  return { store, cleanup: () => store.close() };
});

describe('openStore (sqlite)', () => {
  it('resolves paths against baseDir and understands sqlite: URLs', () => {
    assert.deepEqual(parseStoreUrl('data/runway.db', '/srv/app'), { kind: 'sqlite', file: '/srv/app/data/runway.db' });
    assert.deepEqual(parseStoreUrl('/var/lib/runway.db', '/srv/app'), { kind: 'sqlite', file: '/var/lib/runway.db' });
    assert.deepEqual(parseStoreUrl('sqlite:runway.db', '/srv/app'), { kind: 'sqlite', file: '/srv/app/runway.db' });
    assert.deepEqual(parseStoreUrl('sqlite:///var/runway.db', '/srv/app'), { kind: 'sqlite', file: '/var/runway.db' });
    assert.deepEqual(parseStoreUrl(':memory:', '/srv/app'), { kind: 'sqlite', file: ':memory:' });
    assert.deepEqual(parseStoreUrl('sqlite::memory:', '/srv/app'), { kind: 'sqlite', file: ':memory:' });
    assert.deepEqual(parseStoreUrl('postgres://u@db/runway', '/srv/app'), {
      kind: 'postgres',
      url: 'postgres://u@db/runway',
    });
    assert.throws(() => parseStoreUrl('mysql://db/runway', '/srv'), /unsupported store URL/);
    assert.throws(() => parseStoreUrl('  ', '/srv'), /empty/);
  });

  it('creates parent directories, migrates, and keeps data across reopen', async () => {
    const dir = tempDir();
    const store = await openStore('sqlite:nested/deeper/runway.db', dir);
    await store.createRelease('mechanic', { version: 'v1', image: 'img:v1', createdAtMs: 1 });
    await store.close();
    await store.close(); // idempotent
    assert.ok(fs.existsSync(path.join(dir, 'nested/deeper/runway.db')));
    const reopened = await openStore(path.join(dir, 'nested/deeper/runway.db'), '/');
    try {
      assert.deepEqual(await reopened.listReleases('mechanic'), [{ version: 'v1', image: 'img:v1', createdAtMs: 1 }]);
    } finally {
      await reopened.close();
    }
  });

  it('sets WAL, a busy timeout and foreign keys; names its migration table schema_migrations', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'runway.db');
    const store = await openStore(file, dir);
    await store.close();
    const raw = new BetterSqlite3(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const tables = raw
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .all()
        .map((r) => (r as { name: string }).name);
      for (const t of [
        'releases',
        'deploys',
        'deploy_plans',
        'journal',
        'machine_events',
        'locks',
        'sim_fleets',
        'schema_migrations',
        'ledger',
        'ledger_head',
        'api_tokens',
        'webhook_deliveries',
        'secrets',
        'secret_versions',
      ]) {
        assert.ok(tables.includes(t), `table ${t} in ${tables.join(', ')}`);
      }
      const applied = raw.prepare('select name from schema_migrations').all() as { name: string }[];
      assert.deepEqual(applied.map((r) => r.name).sort(), Object.keys(MIGRATIONS).sort());
      assert.ok(Object.keys(MIGRATIONS).includes('0003_deploy_outbox'));
      const indexes = raw
        .prepare("select name from sqlite_master where type = 'index' and name not like 'sqlite_%'")
        .all()
        .map((r) => (r as { name: string }).name);
      for (const i of ['deploys_app_env_created_idx', 'machine_events_deploy_idx']) assert.ok(indexes.includes(i), i);
    } finally {
      raw.close();
    }
    const db = openSqlite(file);
    try {
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db);
      assert.equal(fk.rows[0]?.foreign_keys, 1);
      const timeout = await sql<{ timeout: number }>`pragma busy_timeout`.execute(db);
      assert.ok((timeout.rows[0]?.timeout ?? 0) >= 1000);
    } finally {
      await db.destroy();
    }
  });

  it('takes postgres:// and postgresql:// URLs as PostgreSQL, not as file paths', () => {
    assert.deepEqual(parseStoreUrl('postgres://runway@localhost/runway', '/'), {
      kind: 'postgres',
      url: 'postgres://runway@localhost/runway',
    });
    assert.deepEqual(parseStoreUrl('postgresql://runway@localhost/runway', '/'), {
      kind: 'postgres',
      url: 'postgresql://runway@localhost/runway',
    });
  });
});

describe('SQLite store and the virtual clock', () => {
  // VirtualClock (src/domain/clock.ts) advances time once the microtask queue drains; that is only
  // sound if store calls finish without waiting on the event loop. better-sqlite3 is synchronous
  // and Kysely's SQLite driver resolves in microtasks: keep it that way.
  it('every call completes before the next event-loop turn', async () => {
    const store = await openStore(':memory:', os.tmpdir());
    try {
      let finished = false;
      const work = (async () => {
        await store.createDeploy({
          id: 'd1',
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
        await Promise.all([
          store.appendJournal([{ deployId: 'd1', atMs: 1, kind: 'note' }]),
          store.appendMachineEvents([
            {
              deployId: 'd1',
              app: 'mechanic',
              env: 'production',
              machineId: 'm1',
              atMs: 1,
              type: 'state',
              state: 'started',
              release: 'v2',
              health: 'passing',
            },
          ]),
          store.acquireLock(
            { app: 'mechanic', env: 'production', holder: 'd1', reason: 'r', pid: null, host: null },
            1,
            1000,
          ),
          store.updateDeploy('d1', { status: 'running' }),
        ]);
        await store.listJournal('d1');
        finished = true;
      })();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(finished, true);
      await work;
    } finally {
      await store.close();
    }
  });
});

describe('several stores on one SQLite file', () => {
  it('two KyselyStore instances: only one of two concurrent acquireLock calls wins', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'shared.db');
    const a = new KyselyStore(openSqlite(file));
    const b = new KyselyStore(openSqlite(file));
    try {
      // Both migrate concurrently too: the second finds the work done.
      await Promise.all([a.migrate(), b.migrate()]);
      for (let round = 0; round < 20; round++) {
        const env = `env-${round}`;
        const lock = { app: 'mechanic', env, reason: 'race', pid: null, host: null };
        const [ra, rb] = await Promise.all([
          a.acquireLock({ ...lock, holder: 'a' }, 1_000, 60_000),
          b.acquireLock({ ...lock, holder: 'b' }, 1_000, 60_000),
        ]);
        assert.equal(Number(ra.acquired) + Number(rb.acquired), 1, `round ${round}`);
        const winner = ra.acquired ? 'a' : 'b';
        assert.equal(
          ra.acquired ? rb.acquired === false && rb.heldBy.holder : ra.acquired === false && ra.heldBy.holder,
          winner,
        );
        // Each sees the other's writes.
        assert.equal((await a.getLock('mechanic', env))?.holder, winner);
        assert.equal((await b.getLock('mechanic', env))?.holder, winner);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('an abort requested through one store is seen by the other; journals interleave safely', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'shared.db');
    const runner: Store = await openStore(file, dir);
    const operator: Store = await openStore(file, dir);
    try {
      await runner.createDeploy({
        id: 'd1',
        app: 'mechanic',
        env: 'production',
        release: 'v2',
        previousRelease: 'v1',
        strategy: 'waves',
        initiator: 'alice',
        responsible: 'alice',
        trigger: 'cli',
        reason: null,
        plan: null,
        createdAtMs: 1,
        status: 'running',
      });
      await Promise.all([
        runner.appendJournal(
          Array.from({ length: 50 }, (_, i) => ({ deployId: 'd1', atMs: i, kind: 'note', message: `r${i}` })),
        ),
        operator.requestAbort('d1', 'bob', 10),
        operator.appendJournal([{ deployId: 'd1', atMs: 10, kind: 'abort_requested', message: 'bob' }]),
        runner.appendJournal(
          Array.from({ length: 50 }, (_, i) => ({ deployId: 'd1', atMs: i, kind: 'note', message: `s${i}` })),
        ),
      ]);
      assert.equal((await runner.getDeploy('d1'))?.abortRequestedBy, 'bob');
      const seqs = (await operator.listJournal('d1')).map((e) => e.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: 101 }, (_, i) => i + 1),
      );
    } finally {
      await runner.close();
      await operator.close();
    }
  });

  it(
    'separate processes: all migrate a new file at once, one takes the lock, journal seqs stay unique',
    { timeout: 300_000 },
    async () => {
      const dir = tempDir();
      const file = path.join(dir, 'shared.db');
      const worker = path.join(here, 'lock-worker.ts');
      // Workers start together once every one of them has loaded (each waits for the others' files here).
      const barrier = path.join(dir, 'loaded');
      fs.mkdirSync(barrier);
      const holders = ['p1', 'p2', 'p3', 'p4'];
      const outputs = await Promise.all(
        holders.map((holder) =>
          execFileAsync(process.execPath, ['--import', 'tsx', worker, file, holder, barrier, String(holders.length)], {
            cwd: path.resolve(here, '../..'),
          }),
        ),
      );
      const results = outputs.map((o) => JSON.parse(o.stdout.trim()) as { holder: string; acquired: boolean });
      assert.equal(results.filter((r) => r.acquired).length, 1, JSON.stringify(results));
      const check = await openStore(file, dir);
      try {
        const winner = results.find((r) => r.acquired)!.holder;
        assert.equal((await check.getLock('mechanic', 'production'))?.holder, winner);
        const journal = await check.listJournal('shared');
        assert.deepEqual(
          journal.map((e) => e.seq),
          Array.from({ length: 800 }, (_, i) => i + 1),
        );
      } finally {
        await check.close();
      }
    },
  );
});
