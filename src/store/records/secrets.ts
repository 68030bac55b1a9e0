// Secrets of an environment (encrypted values with their digests), their staged version, and the
// version a successful deploy carried to the machines.

import { sql, type Selectable } from 'kysely';
import { StoreError, type SecretsChange, type SecretsState, type StoredSecret } from '../contract.js';
import type { SecretsTable } from '../schema.js';
import { millis, millisOrNull } from './column-values.js';
import type { StoreContext } from './store-context.js';

function secretFromRow(row: Selectable<SecretsTable>): StoredSecret {
  return {
    app: row.app,
    env: row.env,
    name: row.name,
    ciphertext: row.ciphertext,
    digest: row.digest,
    version: Number(row.version),
    updatedAtMs: millis(row.updated_at_ms),
    updatedBy: row.updated_by,
  };
}

export function changeSecrets(
  s: StoreContext,
  app: string,
  env: string,
  change: SecretsChange,
  by: string,
  atMs: number,
  keyFingerprint?: string,
): Promise<{ version: number; changed: string[] }> {
  return s.transaction(async (trx) => {
    // The version row first: its row lock serialises changes of one environment (PostgreSQL).
    await trx
      .insertInto('secret_versions')
      .values({ app, env, staged_version: 0, updated_at_ms: atMs })
      .onConflict((oc) => oc.columns(['app', 'env']).doNothing())
      .execute();
    const current = await trx
      .updateTable('secret_versions')
      .set({ updated_at_ms: sql<number>`${sql.ref('updated_at_ms')}` })
      .where('app', '=', app)
      .where('env', '=', env)
      .returning(['staged_version', 'key_fingerprint'])
      .executeTakeFirstOrThrow();
    if (keyFingerprint !== undefined) {
      if (current.key_fingerprint !== null && current.key_fingerprint !== keyFingerprint) {
        // Thrown inside the transaction: nothing of the change is written.
        throw new StoreError(
          'conflict',
          `the secrets of ${app}/${env} are encrypted with another key (fingerprint ${current.key_fingerprint}, this key's is ${keyFingerprint}); use the key they were set with`,
        );
      }
      if (current.key_fingerprint === null)
        await trx
          .updateTable('secret_versions')
          .set({ key_fingerprint: keyFingerprint })
          .where('app', '=', app)
          .where('env', '=', env)
          .execute();
    }
    const existing = new Map(
      (await trx.selectFrom('secrets').selectAll().where('app', '=', app).where('env', '=', env).execute()).map((r) => [
        r.name,
        r,
      ]),
    );
    const changed: string[] = [];
    for (const item of change.set) {
      const before = existing.get(item.name);
      if (before && before.digest === item.digest) continue;
      const version = before ? Number(before.version) + 1 : 1;
      await trx
        .insertInto('secrets')
        .values({
          app,
          env,
          name: item.name,
          ciphertext: item.ciphertext,
          digest: item.digest,
          version,
          updated_at_ms: atMs,
          updated_by: by,
        })
        .onConflict((oc) =>
          oc.columns(['app', 'env', 'name']).doUpdateSet({
            ciphertext: item.ciphertext,
            digest: item.digest,
            version,
            updated_at_ms: atMs,
            updated_by: by,
          }),
        )
        .execute();
      changed.push(item.name);
    }
    for (const name of change.unset) {
      if (!existing.has(name)) continue;
      await trx.deleteFrom('secrets').where('app', '=', app).where('env', '=', env).where('name', '=', name).execute();
      changed.push(name);
    }
    let version = Number(current.staged_version);
    if (changed.length > 0) {
      version += 1;
      await trx
        .updateTable('secret_versions')
        .set({ staged_version: version, updated_at_ms: atMs })
        .where('app', '=', app)
        .where('env', '=', env)
        .execute();
    }
    return { version, changed };
  });
}

export function listSecrets(s: StoreContext, app: string, env: string): Promise<StoredSecret[]> {
  return s.run(async () => {
    const rows = await s.db
      .selectFrom('secrets')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .orderBy('name', 'asc')
      .execute();
    return rows.map(secretFromRow);
  });
}

export function getSecretsState(s: StoreContext, app: string, env: string): Promise<SecretsState> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('secret_versions')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .executeTakeFirst();
    return {
      app,
      env,
      stagedVersion: row ? Number(row.staged_version) : 0,
      appliedVersion: row && row.applied_version !== null ? Number(row.applied_version) : null,
      appliedDeployId: row?.applied_deploy_id ?? null,
      appliedAtMs: row ? millisOrNull(row.applied_at_ms) : null,
      keyFingerprint: row?.key_fingerprint ?? null,
    };
  });
}

export function markSecretsApplied(
  s: StoreContext,
  app: string,
  env: string,
  version: number,
  deployId: string,
  atMs: number,
): Promise<void> {
  return s.run(async () => {
    await s.db
      .insertInto('secret_versions')
      .values({
        app,
        env,
        staged_version: version,
        applied_version: version,
        applied_deploy_id: deployId,
        applied_at_ms: atMs,
        updated_at_ms: atMs,
      })
      .onConflict((oc) =>
        oc
          .columns(['app', 'env'])
          .doUpdateSet({ applied_version: version, applied_deploy_id: deployId, applied_at_ms: atMs })
          .where((eb) =>
            eb.or([
              eb('secret_versions.applied_version', 'is', null),
              eb('secret_versions.applied_version', '<', version),
            ]),
          ),
      )
      .execute();
  });
}
