// Releases: immutable, one version per app; the same version with other content is a conflict.

import type { Selectable } from 'kysely';
import type { Release } from '../../domain/types.js';
import { StoreError } from '../contract.js';
import type { ReleasesTable } from '../schema.js';
import { millis } from './column-values.js';
import type { StoreContext } from './store-context.js';

type ReleaseRow = Selectable<ReleasesTable>;

function releaseFromRow(row: ReleaseRow): Release {
  const release: Release = { version: row.version, image: row.image, createdAtMs: millis(row.created_at_ms) };
  if (row.config_digest !== null) release.configDigest = row.config_digest;
  if (row.notes !== null) release.notes = row.notes;
  return release;
}

/** What a release's identity is made of: the same version with other content is a conflict. */
function sameReleaseContent(a: Release, b: Release): boolean {
  return (
    a.image === b.image &&
    (a.configDigest ?? null) === (b.configDigest ?? null) &&
    (a.notes ?? null) === (b.notes ?? null)
  );
}

export function createRelease(s: StoreContext, app: string, release: Release): Promise<void> {
  return s.run(async () => {
    // Insert-if-absent in one statement, then compare with whatever is stored (ours or a racer's).
    await s.db
      .insertInto('releases')
      .values({
        app,
        version: release.version,
        image: release.image,
        config_digest: release.configDigest ?? null,
        notes: release.notes ?? null,
        created_at_ms: release.createdAtMs,
      })
      .onConflict((oc) => oc.columns(['app', 'version']).doNothing())
      .execute();
    const stored = await getRelease(s, app, release.version);
    if (!stored) throw new StoreError('not_found', `release ${app}@${release.version} vanished while being created`);
    if (!sameReleaseContent(stored, release)) {
      throw new StoreError(
        'conflict',
        `release ${app}@${release.version} already exists with other content (image ${stored.image}); releases are immutable, publish a new version`,
      );
    }
  });
}

export function getRelease(s: StoreContext, app: string, version: string): Promise<Release | undefined> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('releases')
      .selectAll()
      .where('app', '=', app)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && releaseFromRow(row);
  });
}

export function listReleases(s: StoreContext, app: string): Promise<Release[]> {
  return s.run(async () => {
    const rows = await s.db
      .selectFrom('releases')
      .selectAll()
      .where('app', '=', app)
      .orderBy('created_at_ms', 'desc')
      .orderBy('seq', 'desc')
      .execute();
    return rows.map(releaseFromRow);
  });
}
