// Upgrading a store made before the control plane: 0002_control_plane applies on top of 0001 with
// data in it (SQLite and PostgreSQL), and old deploys read as they did.

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

describe('migration 0002_control_plane on a store with data', () => {
  it('SQLite', () => upgrade(openSqlite(':memory:')));
  it('PostgreSQL', async () => {
    const schema = `runway_mig_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    await upgrade(await openPostgres(PG, { schema }), schema);
  });
});
