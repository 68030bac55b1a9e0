// The control plane's PostgreSQL restarted in the middle of a deploy, with real processes: a
// PostgreSQL server of the test's own (so other suites are not hurt) is stopped (fast: sessions are
// terminated, 57P01) while `runway deploy` runs, and started again three seconds later. The runway
// process survives, the deploy waits for the store as it does for SQLite, goes on, and ends succeeded
// with its end recorded and its lock released.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openPostgres } from '../../src/store/postgres/open-postgres.js';
import { spawnCli } from '../cli/helpers.js';
import { startPostgresInstance, type PostgresInstance } from '../support/postgres-instance.js';

describe('PostgreSQL restarted mid-deploy (a server of the test’s own)', () => {
  let db: PostgresInstance;
  let dir: string;

  before(async () => {
    db = await startPostgresInstance();
    dir = mkdtempSync(join(tmpdir(), 'runway-pg-restart-'));
    writeFileSync(
      join(dir, 'runway.toml'),
      `[app]
name = "shop"
[app.processes]
web = { count = 30 }

[app.deploy]
max_unavailable = 3

[environments.production]
provider = "sim"
trigger = "manual"
initiation = "manual"
allow_cli = true
vars = { DEPLOY_STRATEGY = "rolling" }

[sim]
speed = 10
initial_release = "v1"

[store]
url = "${db.url}"
`,
    );
    const r = await spawnCli(['releases', 'create', 'v2'], dir).done;
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a connection checked out (between two queries of a transaction) when the server goes away: the process survives, the next query works', async () => {
    const db1 = await openPostgres(db.url, { maxConnections: 2 });
    try {
      await sql`select 1`.execute(db1);
      let restarted: Promise<void> | undefined;
      // 57P01 arrives on a client that has no query running: node-postgres emits it as an 'error'
      // event on that client, which crashes a process that does not listen for it.
      const tx = db1.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        restarted = db.restart(1_000);
        await restarted;
        await sql`select 1`.execute(trx);
      });
      await assert.rejects(tx);
      await restarted;
      const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(db1);
      assert.equal(rows[0]!.ok, 1);
    } finally {
      await db1.destroy();
    }
  });

  it('the deploy survives, waits for the store, goes on and ends succeeded', async () => {
    const deploy = spawnCli(['deploy', '--env', 'production', '--release', 'v2', '--json'], dir);
    let exited = false;
    void deploy.done.then(() => (exited = true));
    // Restart once the deploy has changed a few machines (read from the store itself).
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (let waited = 0; ; waited += 100) {
        assert.ok(waited < 60_000 && !exited, 'the deploy never got going');
        const { rows } = await client
          .query<{ n: string }>(`select count(*) as n from journal where kind = 'step_succeeded'`)
          .catch(() => ({ rows: [{ n: '0' }] }));
        if (Number(rows[0]!.n) >= 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await client.end();
    }
    assert.equal(exited, false, 'the deploy was still running when the store went away');
    await db.restart(3_000);

    const r = await deploy.done;
    assert.doesNotMatch(
      r.stderr,
      /57P01|Unhandled 'error' event|terminating connection/,
      'no crash on the terminated connection',
    );
    const summary = JSON.parse(r.stdout) as { status: string; error: string | null; deployId: string };
    assert.equal(summary.status, 'succeeded', `${summary.error} ${r.stderr.slice(-1500)}`);
    assert.equal(r.code, 0);

    const after = new pg.Client({ connectionString: db.url });
    await after.connect();
    try {
      const { rows: deploys } = await after.query<{ status: string }>('select status from deploys where id = $1', [
        summary.deployId,
      ]);
      assert.equal(deploys[0]?.status, 'succeeded', 'the end is recorded');
      const { rows: locks } = await after.query('select * from locks');
      assert.equal(locks.length, 0, 'the lock is released');
      const { rows: steps } = await after.query<{ n: string }>(
        `select count(*) as n from journal where deploy_id = $1 and kind = 'step_succeeded'`,
        [summary.deployId],
      );
      assert.equal(
        Number(steps[0]!.n),
        30,
        'every machine’s step is in the journal (those written while the store was away included)',
      );
    } finally {
      await after.end();
    }
  });
});
