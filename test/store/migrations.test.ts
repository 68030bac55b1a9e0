// Upgrading a store made before the control plane: 0002_control_plane applies on top of 0001 with
// data in it (SQLite and PostgreSQL), and old deploys read as they did. 0004_deploy_plans moves the
// plans out of the deploys rows, and back when it is undone.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../../src/store/kysely-store.js';
import { createMigrator } from '../../src/store/migrations.js';
import { openPostgres } from '../../src/store/postgres/open-postgres.js';
import { openSqlite } from '../../src/store/sqlite/open-sqlite.js';
import type { Database } from '../../src/store/schema.js';
import { PG_URL, requirePostgres } from '../support/services.js';

before(() => requirePostgres());

const PG = PG_URL;
const schemas: string[] = [];
after(async () => {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  for (const s of schemas) await client.query(`drop schema if exists ${s} cascade`);
  await client.end();
});

/** A new, empty PostgreSQL schema (dropped after the file's tests). */
async function freshSchema(): Promise<string> {
  const schema = `runway_mig_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  return schema;
}

/** One migration check, run on SQLite (in memory) and on PostgreSQL (a fresh schema). */
function onEveryBackend(name: string, check: (db: Kysely<Database>, schema?: string) => Promise<void>): void {
  describe(name, () => {
    it('SQLite', () => check(openSqlite(':memory:')));
    it('PostgreSQL', async () => {
      const schema = await freshSchema();
      await check(await openPostgres(PG, { schema }), schema);
    });
  });
}

async function upgrade(db: Kysely<Database>, schema?: string): Promise<void> {
  const first = await createMigrator(db, schema).migrateTo('0001_initial');
  assert.equal(first.error, undefined);
  await sql`insert into deploys (id, app, env, release, strategy, status, initiator, responsible, trigger, created_at_ms) values ('old', 'shop', 'production', 'v1', 'rolling', 'succeeded', 'cli:ann', 'ann', 'cli', 1)`.execute(
    db,
  );
  const store = new KyselyStore(db);
  try {
    await store.migrate();
    const old = await store.getDeploy('old');
    assert.equal(old?.responsible, 'ann');
    assert.equal('emergency' in old!, false);
    assert.equal('secretsVersion' in old!, false);
    assert.deepEqual(await store.ledgerHead(), { seq: 0, hash: '0'.repeat(64) });
    const e = await store.appendLedger(
      {
        atMs: 1,
        kind: 'deploy.started',
        app: 'shop',
        env: 'production',
        deployId: 'old',
        responsible: 'ann',
        initiator: 'cli:ann',
        trigger: 'cli',
        reason: null,
        emergency: false,
        data: null,
      },
      () => 'h1',
    );
    assert.equal(e.seq, 1);
  } finally {
    await store.close();
  }
}

onEveryBackend('migration 0002_control_plane on a store with data', upgrade);

/** A store at 0003 with a deploy and its plan in the deploys row, migrated to the latest and back. */
async function movePlans(db: Kysely<Database>, schema?: string): Promise<void> {
  const at3 = await createMigrator(db, schema).migrateTo('0003_sessions_key_fingerprint');
  assert.equal(at3.error, undefined);
  const plan = { waves: [{ index: 0, label: 'w', steps: [{ kind: 'update', machineId: 'm1' }] }] };
  const text = JSON.stringify(plan);
  await sql`insert into deploys (id, app, env, release, strategy, status, initiator, responsible, trigger, created_at_ms, plan) values ('old', 'shop', 'production', 'v1', 'rolling', 'succeeded', 'cli:ann', 'ann', 'cli', 1, ${text})`.execute(
    db,
  );
  await sql`insert into deploys (id, app, env, release, strategy, status, initiator, responsible, trigger, created_at_ms) values ('planless', 'shop', 'production', 'v1', 'rolling', 'failed', 'cli:ann', 'ann', 'cli', 2)`.execute(
    db,
  );
  const store = new KyselyStore(db);
  try {
    await store.migrate();
    assert.deepEqual((await store.getDeploy('old'))?.plan, plan);
    assert.equal((await store.getDeploy('planless'))?.plan, null);
    assert.deepEqual(
      (await store.listDeploys()).map((d) => [d.id, d.plan]),
      [
        ['planless', null],
        ['old', plan],
      ],
    );
    const moved = await sql<{ deploy_id: string }>`select deploy_id from deploy_plans`.execute(db);
    assert.deepEqual(
      moved.rows.map((r) => r.deploy_id),
      ['old'],
    );
    const down = await createMigrator(db, schema).migrateTo('0003_sessions_key_fingerprint');
    assert.equal(down.error, undefined);
    const back = await sql<{ id: string; plan: string | null }>`select id, plan from deploys order by id`.execute(db);
    assert.deepEqual(
      back.rows.map((r) => [r.id, r.plan === null ? null : JSON.parse(r.plan)]),
      [
        ['old', plan],
        ['planless', null],
      ],
    );
  } finally {
    await store.close();
  }
}

onEveryBackend('migration 0004_deploy_plans on a store with data', movePlans);
