// The store contract on the machine's real PostgreSQL (127.0.0.1:5432, database `test`), each store
// in a schema of its own, dropped afterwards. Set RUNWAY_TEST_PG to use another database.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/store/open-store.js';
import { runStoreContract } from './contract-suite.js';
import { PG_URL, requirePostgres } from '../support/services.js';
import { until } from '../support/wait.js';

before(() => requirePostgres());

const URL = PG_URL;
const schemas: string[] = [];

function schemaName(): string {
  const name = `runway_test_${randomBytes(5).toString('hex')}`;
  schemas.push(name);
  return name;
}

after(async () => {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  for (const s of schemas) await client.query(`drop schema if exists ${s} cascade`);
  await client.end();
});

runStoreContract('postgres', async () => {
  const store = await openStore(URL, process.cwd(), { schema: schemaName() });
  return { store, cleanup: () => store.close() };
});

describe('postgres: what only a shared server has', () => {
  it('two stores (two instances) race for one environment lock: exactly one wins', async () => {
    const schema = schemaName();
    const a = await openStore(URL, process.cwd(), { schema });
    const b = await openStore(URL, process.cwd(), { schema });
    try {
      const now = Date.now();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).acquireLock(
            { app: 'shop', env: 'prod', holder: `dep_${i}`, reason: 'race', pid: i, host: 'h' },
            now,
            30_000,
          ),
        ),
      );
      assert.equal(results.filter((r) => r.acquired).length, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('migrating the same schema from two instances at once is safe', async () => {
    const schema = schemaName();
    const stores = await Promise.all([1, 2, 3].map(() => openStore(URL, process.cwd(), { schema })));
    try {
      await stores[0]!.createRelease('shop', { version: 'v1', image: 'shop:v1', createdAtMs: 1 });
      assert.equal((await stores[2]!.listReleases('shop')).length, 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('opens (and migrates) while other clients drop other schemas of the same database', async () => {
    // Another runway's schema, or another test's, dropped while this store migrates must not fail its
    // open (Kysely's own introspection looked every schema up by name). Each store opens while twenty
    // other schemas (with a table each) are dropped beside it.
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    try {
      for (let i = 0; i < 8; i++) {
        const others = Array.from({ length: 20 }, () => `runway_churn_${randomBytes(5).toString('hex')}`);
        for (const other of others) {
          await admin.query(`create schema ${other}`);
          await admin.query(`create table ${other}.t (id serial primary key, v text)`);
        }
        const dropping = (async () => {
          for (const other of others) await admin.query(`drop schema ${other} cascade`);
        })();
        const store = await openStore(URL, process.cwd(), { schema: schemaName() });
        await dropping;
        await store.close();
      }
    } finally {
      await admin.end();
    }
  });

  it('opens (and migrates) while another client drops columns in another schema of the same database', async () => {
    // Another runway's schema being migrated (0004_deploy_plans drops deploys.plan) while this store
    // opens: Kysely's own introspection listed every schema's columns and looked each one up again by
    // name, so a column dropped between the two failed the open ("column … does not exist"). Found by
    // two test files running side by side; each store here opens while a churning client drops and adds
    // columns.
    const other = `runway_cols_${randomBytes(5).toString('hex')}`;
    schemas.push(other);
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    let churning = true;
    let churns = 0;
    const churn = (async () => {
      await admin.query(`create schema ${other}`);
      for (let t = 0; t < 10; t++) await admin.query(`create table ${other}.t${t} (id integer primary key)`);
      while (churning) {
        for (let t = 0; t < 10; t++) {
          await admin.query(`alter table ${other}.t${t} add column c${churns} text`);
          await admin.query(`alter table ${other}.t${t} drop column c${churns}`);
        }
        churns++;
      }
    })();
    try {
      await until(() => churns > 0, 'the other schema churns');
      for (let i = 0; i < 12; i++) {
        const store = await openStore(URL, process.cwd(), { schema: schemaName() });
        await store.close();
      }
    } finally {
      churning = false;
      await churn;
      await admin.end();
    }
  });

  it('an unreachable server fails fast with a clear error', async () => {
    await assert.rejects(openStore('postgres://127.0.0.1:1/none', process.cwd()), /ECONNREFUSED|connect/);
  });
});
